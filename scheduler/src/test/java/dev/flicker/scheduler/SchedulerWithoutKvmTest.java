package dev.flicker.scheduler;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A scheduler on a host without KVM (its device path pointed at nothing) starts, says why, and runs nothing. */
class SchedulerWithoutKvmTest {
    @Test
    void itSaysWhyAndRefusesToRunAnything(@TempDir Path dir) throws Exception {
        try (Scheduler s = new Scheduler(new Scheduler.Settings(Path.of("/nonexistent/kvm"), dir, dir.resolve("runtimes"), 4, 1, 5, 1, 1000))) {
            assertTrue(s.cannotRunFunctions().contains("/nonexistent/kvm does not exist"), s.cannotRunFunctions());
            assertEquals(null, s.poolFigures(), "no pool without KVM");

            CompletableFuture<Scheduler.Prepared> settled = new CompletableFuture<>();
            FunctionSpec spec = new FunctionSpec("f", "f-v1", dir, "bootstrap", List.of(), null, Map.of(), 128, 3000);
            s.deploy("f:$LATEST", spec, (d, outcome) -> settled.complete(outcome));
            assertEquals(new Scheduler.Prepared.CannotRunHere(s.cannotRunFunctions()), settled.get(10, TimeUnit.SECONDS),
                    "nothing is wrong with the function: it stays Pending, saying why");

            Scheduler.HostCannotRun refused = assertThrows(Scheduler.HostCannotRun.class, () -> s.invoke("f:$LATEST",
                    new Scheduler.Request("r", new byte[0], "arn", "trace", System.nanoTime())));
            assertEquals(s.cannotRunFunctions(), refused.getMessage());
        }
    }
}
