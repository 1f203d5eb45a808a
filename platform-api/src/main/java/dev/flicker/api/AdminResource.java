package dev.flicker.api;

import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import java.util.List;

/** Operator endpoints; handlers return {@link Uni}s. */
@Path("/admin")
@Produces(MediaType.APPLICATION_JSON)
public class AdminResource {
    /** Request ids are UUIDs; an Event invocation's attempts add "-N". */
    private static final java.util.regex.Pattern REQUEST_ID = java.util.regex.Pattern.compile("[A-Za-z0-9-]{1,64}");
    private final Invocations invocations;
    private final AsyncQueue asyncQueue;
    private final Overview overview;

    public AdminResource(Invocations invocations, AsyncQueue asyncQueue, Overview overview) {
        this.invocations = invocations;
        this.asyncQueue = asyncQueue;
        this.overview = overview;
    }

    /** The platform now, for the dashboard: functions, the last five minutes of invocations, pool, queue, newest records. */
    @GET
    @Path("/overview")
    public Uni<Overview.Snapshot> overview() {
        return overview.read();
    }

    /** One Event invocation's state: Queued, Running, Succeeded or DeadLettered, with its attempts. */
    @GET
    @Path("/async/{requestId}")
    public Uni<AsyncQueue.Status> async(@jakarta.ws.rs.PathParam("requestId") String requestId) {
        if (!REQUEST_ID.matcher(requestId).matches()) throw LambdaError.invalid("'" + requestId + "' is not a request id");
        return asyncQueue.status(requestId).onItem().ifNull().failWith(() -> LambdaError.notFound("no Event invocation " + requestId));
    }

    /** Event invocations whose retries ran out, newest first. */
    @GET
    @Path("/dead-letters")
    public Uni<List<AsyncQueue.DeadLetter>> deadLetters(@QueryParam("function") String function, @QueryParam("limit") String limit) {
        return asyncQueue.deadLetters(functionName(function), Params.integer("limit", limit, 50, 1, 1000));
    }

    /** Invocation records, newest first: {@code ?function=&status=Success|Error&limit=&offset=}. */
    @GET
    @Path("/invocations")
    public Uni<List<InvocationRecord>> invocations(@QueryParam("function") String function, @QueryParam("status") String status,
                                              @QueryParam("limit") String limit, @QueryParam("offset") String offset) {
        if (status != null && !List.of("Success", "Error").contains(status)) throw LambdaError.invalid("status must be Success or Error");
        return invocations.find(functionName(function), status, Params.integer("limit", limit, 50, 1, 1000),
                Params.integer("offset", offset, 0, 0, Integer.MAX_VALUE - 1000));
    }

    /** A {@code function} filter: absent, or a function name. */
    private static String functionName(String function) {
        if (function != null && !FunctionRef.validName(function)) {
            throw LambdaError.invalid("function must be a function name (1 to 64 letters, digits, '-' or '_')");
        }
        return function;
    }
}
