package dev.flicker.api;

import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;

/**
 * A request's body, for handlers that run on the event loop. {@link AuthFilter} reads the body of every request to
 * the Lambda API whole (bounded, hashed as it comes, with SigV4 off too) before any resource runs; the handlers take
 * it from there, not as an entity parameter: a non-blocking handler's entity is read by Quarkus REST from the request
 * stream, which the filter has already consumed, and came out as zeros.
 */
final class Bodies {
    private Bodies() {}

    static Uni<byte[]> of(RoutingContext ctx) {
        io.vertx.ext.web.RequestBody read = ctx.body();
        if (read == null || read.buffer() == null) {
            // A route the filter let through without reading its body (an operator's page) has no body to give.
            return Uni.createFrom().failure(new IllegalStateException("no body was read for " + ctx.request().path()));
        }
        return Uni.createFrom().item(read.buffer().getBytes());
    }
}
