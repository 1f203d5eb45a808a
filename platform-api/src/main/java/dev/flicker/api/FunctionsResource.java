package dev.flicker.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flicker.scheduler.Invoked;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;

/**
 * The Lambda REST API paths Flicker implements (API version 2015-03-31). Handlers run on the event loop and return
 * {@link Uni}s; what blocks runs on worker threads ({@link Functions}).
 */
@Path("/2015-03-31/functions")
@Produces(MediaType.APPLICATION_JSON)
public class FunctionsResource {
    static final int MAX_SYNC_PAYLOAD = 6 * 1024 * 1024;
    private static final int LOG_TAIL_BYTES = 4096;

    private final Functions functions;
    private final AsyncQueue asyncQueue;
    private final ObjectMapper json;

    public FunctionsResource(Functions functions, AsyncQueue asyncQueue, ObjectMapper json) {
        this.functions = functions;
        this.asyncQueue = asyncQueue;
        this.json = json;
    }

    /** CreateFunction; the zip in {@code Code.ZipFile} is decoded into the code store as the body is parsed, on a worker thread. */
    @POST
    @Consumes("*/*")
    public Uni<Response> create(@Context RoutingContext request) {
        return Bodies.of(request).chain(functions::create).map(c -> Response.status(201).entity(c).build());
    }

    @GET
    public Uni<Model.ListFunctionsResponse> list(@QueryParam("Marker") String marker, @QueryParam("MaxItems") String maxItems) {
        // Markers are the function names this API hands out.
        if (marker != null && !FunctionRef.validName(marker)) throw LambdaError.invalid("Marker '" + marker + "' is not one this API returned");
        return functions.list(marker, Params.integer("MaxItems", maxItems, 50, 1, 10_000));
    }

    @GET
    @Path("/{name}")
    public Uni<Model.GetFunctionResponse> get(@PathParam("name") String name, @QueryParam("Qualifier") String qualifier) {
        FunctionRef ref = FunctionRef.parse(name, qualifier);
        // Lambda's Location is a download URL of the zip. Flicker keeps the unpacked code, not the zip, and the
        // directory's host path would tell a client about the host: no Location (both AWS SDKs take its absence).
        return functions.configuration(ref).map(c -> new Model.GetFunctionResponse(c, new Model.CodeLocation("Flicker", null)));
    }

    @GET
    @Path("/{name}/configuration")
    public Uni<Model.FunctionConfiguration> configuration(@PathParam("name") String name, @QueryParam("Qualifier") String qualifier) {
        return functions.configuration(FunctionRef.parse(name, qualifier));
    }

    /** UpdateFunctionCode: {@code {"ZipFile": base64, "Publish": bool}}; only $LATEST changes. */
    @PUT
    @Path("/{name}/code")
    @Consumes("*/*")
    public Uni<Model.FunctionConfiguration> updateCode(@PathParam("name") String name, @Context RoutingContext request) {
        String function = FunctionRef.unqualifiedName(name);
        return Bodies.of(request).chain(body -> functions.updateCode(function, body));
    }

    /** UpdateFunctionConfiguration of $LATEST. */
    @PUT
    @Path("/{name}/configuration")
    @Consumes("*/*")
    public Uni<Model.FunctionConfiguration> updateConfiguration(@PathParam("name") String name, @Context RoutingContext request) {
        String function = FunctionRef.unqualifiedName(name);
        return Bodies.of(request).chain(body -> functions.updateConfiguration(function, read(body, Model.UpdateConfigurationRequest.class)));
    }

    /** PublishVersion: {@code {"CodeSha256", "Description"}}, both optional. */
    @POST
    @Path("/{name}/versions")
    @Consumes("*/*")
    public Uni<Response> publishVersion(@PathParam("name") String name, @Context RoutingContext request) {
        return Bodies.of(request).chain(body -> {
            Model.PublishVersionRequest r = body == null || body.length == 0 ? new Model.PublishVersionRequest(null, null)
                    : read(body, Model.PublishVersionRequest.class);
            return functions.publish(FunctionRef.unqualifiedName(name), r.codeSha256(), r.description(), false);
        }).map(c -> Response.status(201).entity(c).build());
    }

    /** ListVersionsByFunction: $LATEST and the published versions. */
    @GET
    @Path("/{name}/versions")
    public Uni<Model.ListVersionsResponse> listVersions(@PathParam("name") String name, @QueryParam("Marker") String marker,
                                                       @QueryParam("MaxItems") String maxItems) {
        return functions.listVersions(FunctionRef.unqualifiedName(name), marker, Params.integer("MaxItems", maxItems, 50, 1, 10_000));
    }

    private <T> T read(byte[] body, Class<T> type) {
        return JsonBody.read(json, body, type);
    }

    @DELETE
    @Path("/{name}")
    public Uni<Response> delete(@PathParam("name") String name, @QueryParam("Qualifier") String qualifier) {
        FunctionRef ref = FunctionRef.parse(name, qualifier);
        if (ref.isLatest() && FunctionRef.namesQualifier(name, qualifier)) {
            throw LambdaError.invalid("$LATEST version cannot be deleted without deleting the function");
        }
        return functions.delete(ref).replaceWith(() -> Response.noContent().build());
    }

    /**
     * Invoke: {@code RequestResponse} (default), {@code Event} (queued durably, 202) and {@code DryRun}. The VM runs on a
     * worker thread; the request's event loop only waits for it.
     */
    @POST
    @Path("/{name}/invocations")
    @Consumes("*/*")
    @Produces("*/*")
    public Uni<Response> invoke(@PathParam("name") String name, @QueryParam("Qualifier") String qualifier,
                                @HeaderParam("X-Amz-Invocation-Type") @DefaultValue("RequestResponse") String type,
                                @HeaderParam("X-Amz-Log-Type") @DefaultValue("None") String logType,
                                @Context RoutingContext request) {
        long acceptedNanos = System.nanoTime();
        return Bodies.of(request).chain(payload -> invoke(name, qualifier, type, logType, payload, acceptedNanos));
    }

    private Uni<Response> invoke(String name, String qualifier, String type, String logType, byte[] payload, long acceptedNanos) {
        if (!logType.equals("None") && !logType.equals("Tail")) throw LambdaError.invalid("X-Amz-Log-Type must be None or Tail, was " + logType);
        FunctionRef ref = FunctionRef.parse(name, qualifier);
        byte[] event = payload == null || payload.length == 0 ? "{}".getBytes(StandardCharsets.UTF_8) : payload;
        if (event.length > MAX_SYNC_PAYLOAD) {
            throw LambdaError.tooLarge("Request must be smaller than " + MAX_SYNC_PAYLOAD + " bytes for the Invoke operation");
        }
        switch (type) {
            case "DryRun" -> {
                return functions.requireExists(ref).replaceWith(() -> Response.noContent().build());
            }
            case "RequestResponse" -> {
            }
            case "Event" -> {
                if (event.length > AsyncQueue.MAX_ASYNC_PAYLOAD) {
                    throw LambdaError.tooLarge("Request must be smaller than " + AsyncQueue.MAX_ASYNC_PAYLOAD
                            + " bytes for an Event invocation");
                }
                String requestId = java.util.UUID.randomUUID().toString();
                return functions.requireRunnable(ref)
                        .chain(() -> asyncQueue.enqueue(requestId, ref, event)) // durable before the 202
                        .replaceWith(() -> Response.status(202).header("X-Amzn-RequestId", requestId).build());
            }
            default -> throw LambdaError.invalid("X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, was " + type);
        }
        String requestId = java.util.UUID.randomUUID().toString();
        return functions.invoke(ref, requestId, event, acceptedNanos).map(inv -> answer(ref, requestId, logType, inv));
    }

    private static Response answer(FunctionRef ref, String requestId, String logType, Invoked inv) {
        byte[] answer = inv.response();
        // The function chose its error type: into a header only as Lambda's pattern allows (no line breaks, <= 128).
        String errorType = GuestText.errorType(inv.errorType());
        if ("Sandbox.Timedout".equals(errorType)) {
            answer = ("{\"errorMessage\":\"Task timed out after " + inv.timeoutMillis() / 1000
                    + ".00 seconds\",\"errorType\":\"Sandbox.Timedout\"}").getBytes(StandardCharsets.UTF_8);
        }
        Response.ResponseBuilder rb = Response.ok(answer, MediaType.APPLICATION_JSON).header("X-Amz-Executed-Version", ref.qualifier())
                .header("X-Amzn-RequestId", requestId);
        if (errorType != null) rb.header("X-Amz-Function-Error", errorType.equals("Sandbox.Timedout")
                || errorType.startsWith("Runtime.") ? "Unhandled" : errorType);
        if (logType.equals("Tail")) rb.header("X-Amz-Log-Result", logTail(requestId, ref, inv));
        return rb.build();
    }

    private static String logTail(String requestId, FunctionRef ref, Invoked inv) {
        byte[] all = Invocations.logs(requestId, ref.qualifier(), inv);
        byte[] tail = Arrays.copyOfRange(all, Math.max(0, all.length - LOG_TAIL_BYTES), all.length);
        return Base64.getEncoder().encodeToString(tail);
    }
}
