package dev.flicker.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/** Per-function settings at Lambda's paths and versions: reserved concurrency and the Event invoke config. Handlers return {@link Uni}s. */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
public class ConcurrencyResource {
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Concurrency(@JsonProperty("ReservedConcurrentExecutions") Integer reservedConcurrentExecutions) {}

    private final Functions functions;
    private final com.fasterxml.jackson.databind.ObjectMapper json;

    public ConcurrencyResource(Functions functions, com.fasterxml.jackson.databind.ObjectMapper json) {
        this.functions = functions;
        this.json = json;
    }

    @PUT
    @Path("2017-10-31/functions/{name}/concurrency")
    @Consumes("*/*")
    public Uni<Concurrency> put(@PathParam("name") String name, @Context RoutingContext request) {
        return Bodies.of(request).chain(bytes -> {
            Concurrency body = JsonBody.read(json, bytes, Concurrency.class);
            if (body.reservedConcurrentExecutions() == null) {
                throw LambdaError.invalid("ReservedConcurrentExecutions is required");
            }
            return functions.reserveConcurrency(FunctionRef.unqualifiedName(name), body.reservedConcurrentExecutions()).replaceWith(body);
        });
    }

    @GET
    @Path("2019-09-30/functions/{name}/concurrency")
    public Uni<Concurrency> get(@PathParam("name") String name) {
        return functions.reservedConcurrency(FunctionRef.unqualifiedName(name)).map(Concurrency::new);
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record EventInvokeConfig(@JsonProperty("FunctionArn") String functionArn,
                                    @JsonProperty("MaximumRetryAttempts") Integer maximumRetryAttempts) {}

    /** PutFunctionEventInvokeConfig: how often a failed Event invocation is retried (Flicker allows up to 100). */
    @PUT
    @Path("2019-09-25/functions/{name}/event-invoke-config")
    @Consumes("*/*")
    public Uni<EventInvokeConfig> putEventInvokeConfig(@PathParam("name") String name, @Context RoutingContext request) {
        return Bodies.of(request).chain(bytes -> {
            EventInvokeConfig body = JsonBody.read(json, bytes, EventInvokeConfig.class);
            if (body.maximumRetryAttempts() == null) throw LambdaError.invalid("MaximumRetryAttempts is required");
            String function = FunctionRef.unqualifiedName(name);
            return functions.setMaxRetryAttempts(function, body.maximumRetryAttempts())
                    .replaceWith(new EventInvokeConfig(FunctionRegistry.arn(function), body.maximumRetryAttempts()));
        });
    }

    @GET
    @Path("2019-09-25/functions/{name}/event-invoke-config")
    public Uni<EventInvokeConfig> getEventInvokeConfig(@PathParam("name") String name) {
        String function = FunctionRef.unqualifiedName(name);
        return functions.maxRetryAttempts(function).map(attempts -> new EventInvokeConfig(FunctionRegistry.arn(function), attempts));
    }

    @DELETE
    @Path("2017-10-31/functions/{name}/concurrency")
    public Uni<Response> delete(@PathParam("name") String name) {
        return functions.reserveConcurrency(FunctionRef.unqualifiedName(name), null).replaceWith(() -> Response.noContent().build());
    }
}
