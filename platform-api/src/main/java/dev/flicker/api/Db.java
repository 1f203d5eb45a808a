package dev.flicker.api;

import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.vertx.VertxContextSupport;
import io.smallrye.mutiny.Uni;

import java.util.function.Supplier;

/**
 * The boundary between the blocking request threads (which run VMs) and Hibernate Reactive, which runs on
 * Vert.x contexts: each call is one transaction, awaited.
 */
final class Db {
    private Db() {}

    static <T> T tx(Supplier<Uni<T>> work) {
        return await(() -> Panache.withTransaction(work));
    }

    static <T> T read(Supplier<Uni<T>> work) {
        return await(() -> Panache.withSession(work));
    }

    /** Runs reactive work on a Vert.x context and waits for it; for plain SQL clients too. */
    static <T> T await(Supplier<Uni<T>> work) {
        try {
            return VertxContextSupport.subscribeAndAwait(work);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("database call failed: " + t.getMessage(), t);
        }
    }
}
