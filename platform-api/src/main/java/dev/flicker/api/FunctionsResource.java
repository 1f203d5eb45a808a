package dev.flicker.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flicker.scheduler.Invoked;
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
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/** The Lambda REST API paths Flicker implements (API version 2015-03-31). */
@Path("/2015-03-31/functions")
@Produces(MediaType.APPLICATION_JSON)
public class FunctionsResource {
    static final int MAX_SYNC_PAYLOAD = 6 * 1024 * 1024;
    private static final int LOG_TAIL_BYTES = 4096;

    private final Functions functions;
    private final AsyncQueue asyncQueue;
    private final CodeStore codeStore;
    private final ObjectMapper json;

    public FunctionsResource(Functions functions, AsyncQueue asyncQueue, CodeStore codeStore, ObjectMapper json) {
        this.functions = functions;
        this.asyncQueue = asyncQueue;
        this.codeStore = codeStore;
        this.json = json;
    }

    /** CreateFunction; the zip in {@code Code.ZipFile} is decoded into the code store as the body is parsed. */
    @POST
    @Consumes("*/*")
    public Response create(InputStream body) {
        try (CodeStore.Upload zip = codeStore.newUpload()) {
            Model.CreateFunctionRequest r = JsonBody.readWithZip(json, body, List.of("Code", "ZipFile"), zip, Model.CreateFunctionRequest.class);
            return Response.status(201).entity(functions.create(r, zip)).build();
        }
    }

    @GET
    public Model.ListFunctionsResponse list(@QueryParam("Marker") String marker, @QueryParam("MaxItems") String maxItems) {
        // Markers are the function names this API hands out.
        if (marker != null && !FunctionRef.validName(marker)) throw LambdaError.invalid("Marker '" + marker + "' is not one this API returned");
        return functions.list(marker, Params.integer("MaxItems", maxItems, 50, 1, 10_000));
    }

    @GET
    @Path("/{name}")
    public Model.GetFunctionResponse get(@PathParam("name") String name, @QueryParam("Qualifier") String qualifier) {
        FunctionRef ref = FunctionRef.parse(name, qualifier);
        FunctionConfig c = functions.find(ref);
        // Lambda's Location is a download URL of the zip. Flicker keeps the unpacked code, not the zip, and the
        // directory's host path would tell a client about the host: no Location (both AWS SDKs take its absence).
        return new Model.GetFunctionResponse(functions.configuration(ref, c), new Model.CodeLocation("Flicker", null));
    }

    @GET
    @Path("/{name}/configuration")
    public Model.FunctionConfiguration configuration(@PathParam("name") String name, @QueryParam("Qualifier") String qualifier) {
        FunctionRef ref = FunctionRef.parse(name, qualifier);
        return functions.configuration(ref, functions.find(ref));
    }

    /** UpdateFunctionCode: {@code {"ZipFile": base64, "Publish": bool}}; only $LATEST changes. */
    @PUT
    @Path("/{name}/code")
    @Consumes("*/*")
    public Model.FunctionConfiguration updateCode(@PathParam("name") String name, InputStream body) {
        String function = FunctionRef.unqualifiedName(name);
        try (CodeStore.Upload zip = codeStore.newUpload()) {
            Model.UpdateCodeRequest r = JsonBody.readWithZip(json, body, List.of("ZipFile"), zip, Model.UpdateCodeRequest.class);
            return functions.updateCode(function, zip, Boolean.TRUE.equals(r.publish()));
        }
    }

    /** UpdateFunctionConfiguration of $LATEST. */
    @PUT
    @Path("/{name}/configuration")
    @Consumes("*/*")
    public Model.FunctionConfiguration updateConfiguration(@PathParam("name") String name, byte[] body) {
        return functions.updateConfiguration(FunctionRef.unqualifiedName(name), read(body, Model.UpdateConfigurationRequest.class));
    }

    /** PublishVersion: {@code {"CodeSha256", "Description"}}, both optional. */
    @POST
    @Path("/{name}/versions")
    @Consumes("*/*")
    public Response publishVersion(@PathParam("name") String name, byte[] body) {
        Model.PublishVersionRequest r = body == null || body.length == 0 ? new Model.PublishVersionRequest(null, null)
                : read(body, Model.PublishVersionRequest.class);
        return Response.status(201).entity(functions.publish(FunctionRef.unqualifiedName(name), r.codeSha256(),
                r.description(), false)).build();
    }

    /** ListVersionsByFunction: $LATEST and the published versions. */
    @GET
    @Path("/{name}/versions")
    public Model.ListVersionsResponse listVersions(@PathParam("name") String name, @QueryParam("Marker") String marker,
                                                  @QueryParam("MaxItems") String maxItems) {
        return functions.listVersions(FunctionRef.unqualifiedName(name), marker, Params.integer("MaxItems", maxItems, 50, 1, 10_000));
    }

    private <T> T read(byte[] body, Class<T> type) {
        return JsonBody.read(json, body, type);
    }

    @DELETE
    @Path("/{name}")
    public Response delete(@PathParam("name") String name, @QueryParam("Qualifier") String qualifier) {
        FunctionRef ref = FunctionRef.parse(name, qualifier);
        if (ref.isLatest() && FunctionRef.namesQualifier(name, qualifier)) {
            throw LambdaError.invalid("$LATEST version cannot be deleted without deleting the function");
        }
        functions.delete(ref);
        return Response.noContent().build();
    }

    /** Invoke: {@code RequestResponse} (default), {@code Event} (queued durably, 202) and {@code DryRun}. */
    @POST
    @Path("/{name}/invocations")
    @Consumes("*/*")
    @Produces("*/*")
    public Response invoke(@PathParam("name") String name, @QueryParam("Qualifier") String qualifier,
                           @HeaderParam("X-Amz-Invocation-Type") @DefaultValue("RequestResponse") String type,
                           @HeaderParam("X-Amz-Log-Type") @DefaultValue("None") String logType, byte[] payload) {
        long acceptedNanos = System.nanoTime();
        if (!logType.equals("None") && !logType.equals("Tail")) throw LambdaError.invalid("X-Amz-Log-Type must be None or Tail, was " + logType);
        FunctionRef ref = FunctionRef.parse(name, qualifier);
        byte[] event = payload == null || payload.length == 0 ? "{}".getBytes(StandardCharsets.UTF_8) : payload;
        if (event.length > MAX_SYNC_PAYLOAD) {
            throw LambdaError.tooLarge("Request must be smaller than " + MAX_SYNC_PAYLOAD + " bytes for the Invoke operation");
        }
        switch (type) {
            case "DryRun" -> {
                functions.find(ref); // checks that it exists
                return Response.noContent().build();
            }
            case "RequestResponse" -> {
            }
            case "Event" -> {
                if (event.length > AsyncQueue.MAX_ASYNC_PAYLOAD) {
                    throw LambdaError.tooLarge("Request must be smaller than " + AsyncQueue.MAX_ASYNC_PAYLOAD
                            + " bytes for an Event invocation");
                }
                functions.find(ref);
                functions.requireHostCanRun(ref);
                String requestId = java.util.UUID.randomUUID().toString();
                asyncQueue.enqueue(requestId, ref, event); // durable before the 202
                return Response.status(202).header("X-Amzn-RequestId", requestId).build();
            }
            default -> throw LambdaError.invalid("X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, was " + type);
        }
        String requestId = java.util.UUID.randomUUID().toString();
        Invoked inv = functions.invoke(ref, requestId, event, acceptedNanos);
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
