package dev.flicker.api;

import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;

/**
 * A request's body, for handlers that run on the event loop. {@link AuthFilter} reads a signed request's body whole
 * (bounded, hashed as it comes) before any resource runs; the handlers take it from there, not as an entity
 * parameter: a non-blocking handler's entity is read by Quarkus REST from the request stream, which the filter has
 * already consumed, and came out as zeros. Without SigV4 (flicker.auth.enabled=false) nothing read it: it is read here.
 */
final class Bodies {
    private Bodies() {}

    static Uni<byte[]> of(RoutingContext ctx) {
        io.vertx.ext.web.RequestBody read = ctx.body();
        if (read != null && read.buffer() != null) return Uni.createFrom().item(read.buffer().getBytes());
        return Uni.createFrom().completionStage(() -> ctx.request().body().toCompletionStage()).map(Buffer::getBytes);
    }
}
