package dev.flicker.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.vertx.VertxContextSupport;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The registry records how a preparation ended only for the Pending configuration that was prepared: a version
 * updated meanwhile (another {@code lastModified}) or already settled is left as it is, so that a slow preparation
 * of old code cannot make new code Active.
 */
@QuarkusTest
class FunctionRegistryTest {
    @Inject
    FunctionRegistry registry;

    /** Hibernate Reactive runs on a Vert.x context: the test thread waits for one. */
    static <T> T onContext(Supplier<Uni<T>> work) throws Throwable {
        return VertxContextSupport.subscribeAndAwait(work);
    }

    static FunctionRecord pending(String name, String lastModified) {
        FunctionRecord f = new FunctionRecord();
        f.name = name;
        f.runtime = "provided";
        f.handler = "x";
        f.description = "";
        f.memoryMb = 128;
        f.timeoutSeconds = 3;
        f.environmentJson = "{}";
        f.codeSha256 = "c2hh";
        f.codeSize = 1;
        f.codeDir = "0".repeat(64);
        f.state = FunctionState.Pending;
        f.stateReason = "The function is being created.";
        f.stateReasonCode = "Creating";
        f.lastModified = lastModified;
        return f;
    }

    @Test
    void onlyThePreparedPendingConfigurationSettles() throws Throwable {
        String name = "settles-" + Long.toHexString(System.nanoTime());
        FunctionRef ref = FunctionRef.latest(name);
        assertTrue(onContext(() -> registry.insert(pending(name, "2026-01-01T00:00:00.000+0000"))));
        try {
            // A preparation of another configuration (updated since) records nothing.
            assertFalse(onContext(() -> registry.settle(ref, "2025-12-31T23:59:59.999+0000", FunctionState.Active, null, null)));
            assertEquals(FunctionState.Pending, onContext(() -> registry.get(name)).state);

            assertTrue(onContext(() -> registry.settle(ref, "2026-01-01T00:00:00.000+0000", FunctionState.Failed, "init failed", "InvalidRuntime")));
            FunctionRecord failed = onContext(() -> registry.get(name));
            assertEquals(FunctionState.Failed, failed.state);
            assertEquals("init failed", failed.stateReason);

            // Settled is settled: Failed does not become Active without a new deployment (Pending first).
            assertFalse(onContext(() -> registry.settle(ref, "2026-01-01T00:00:00.000+0000", FunctionState.Active, null, null)));
            FunctionRecord still = onContext(() -> registry.get(name));
            assertEquals(FunctionState.Failed, still.state);
            Model.FunctionConfiguration c = registry.configuration(ref, still);
            assertEquals("Failed", c.lastUpdateStatus());
            assertEquals("init failed", c.lastUpdateStatusReason());

            // An update makes it Pending again (InProgress, no failure's reason), and its own preparation settles it.
            FunctionRecord updated = onContext(() -> registry.update(name, f -> f.memoryMb = 256));
            assertEquals(FunctionState.Pending, updated.state);
            assertNull(registry.configuration(ref, updated).lastUpdateStatusReason());
            assertEquals("InProgress", registry.configuration(ref, updated).lastUpdateStatus());
            assertTrue(onContext(() -> registry.settle(ref, updated.lastModified, FunctionState.Active, null, null)));
            assertEquals(FunctionState.Active, onContext(() -> registry.get(name)).state);
        } finally {
            onContext(() -> registry.deleteFunction(name));
        }
    }
}
