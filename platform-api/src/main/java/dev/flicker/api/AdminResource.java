package dev.flicker.api;

import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import java.util.List;

/** Operator endpoints. */
@Path("/admin")
@Produces(MediaType.APPLICATION_JSON)
public class AdminResource {
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
    public Overview.Snapshot overview() {
        return overview.read();
    }

    /** One Event invocation's state: Queued, Running, Succeeded or DeadLettered, with its attempts. */
    @GET
    @Path("/async/{requestId}")
    public AsyncQueue.Status async(@jakarta.ws.rs.PathParam("requestId") String requestId) {
        AsyncQueue.Status s = asyncQueue.status(requestId);
        if (s == null) throw LambdaError.notFound("no Event invocation " + requestId);
        return s;
    }

    /** Event invocations whose retries ran out, newest first. */
    @GET
    @Path("/dead-letters")
    public List<AsyncQueue.DeadLetter> deadLetters(@QueryParam("function") String function,
                                                   @QueryParam("limit") @DefaultValue("50") int limit) {
        if (limit < 1 || limit > 1000) throw LambdaError.invalid("limit must be between 1 and 1000");
        return asyncQueue.deadLetters(function, limit);
    }

    /** Invocation records, newest first: {@code ?function=&status=Success|Error&limit=&offset=}. */
    @GET
    @Path("/invocations")
    public List<InvocationRecord> invocations(@QueryParam("function") String function, @QueryParam("status") String status,
                                              @QueryParam("limit") @DefaultValue("50") int limit,
                                              @QueryParam("offset") @DefaultValue("0") int offset) {
        if (limit < 1 || limit > 1000) throw LambdaError.invalid("limit must be between 1 and 1000");
        if (offset < 0) throw LambdaError.invalid("offset must not be negative");
        if (status != null && !List.of("Success", "Error").contains(status)) throw LambdaError.invalid("status must be Success or Error");
        return invocations.find(function, status, limit, offset);
    }
}
