package dev.flicker.api;

import io.quarkus.vertx.core.runtime.context.VertxContextSafetyToggle;
import io.smallrye.common.vertx.VertxContext;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Context;
import io.vertx.core.Vertx;

import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Reactive work started outside a request (a timer, a preparer thread): Hibernate Reactive needs a duplicated Vert.x
 * context of its own, marked safe, as a request has. Nothing here waits.
 */
final class Contexts {
    private Contexts() {}

    /** Subscribes to {@code work} on a new duplicated context; {@code onItem} or {@code onFailure} hears how it ended. */
    static <T> void run(Vertx vertx, Supplier<Uni<T>> work, Consumer<? super T> onItem, Consumer<Throwable> onFailure) {
        Context context = VertxContext.createNewDuplicatedContext(vertx.getOrCreateContext());
        VertxContextSafetyToggle.setContextSafe(context, true);
        context.runOnContext(ignored -> {
            Uni<T> uni;
            try {
                uni = work.get();
            } catch (RuntimeException e) {
                onFailure.accept(e);
                return;
            }
            uni.subscribe().with(onItem, onFailure);
        });
    }
}
