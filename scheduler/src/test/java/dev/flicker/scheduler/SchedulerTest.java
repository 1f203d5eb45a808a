package dev.flicker.scheduler;

import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scheduler on real VMs with one run slot: a VM that never lets go of the CPU (a spinning handler, a spinning
 * init) or blocks in the host does not keep a short invocation waiting for its end. Each test asserts an order (the
 * short one answered while the other still runs), never a duration.
 */
@NeedsKvm
class SchedulerTest {
    static final Path PROGRAMS = Path.of("../guest-kernel/target/test-programs");
    static final byte[] ADA = "{\"name\":\"Ada\"}".getBytes(StandardCharsets.UTF_8);
    static final String GREETING = "{\"greeting\":\"hello, Ada\"}";
    /** Long enough that the other VM is still running when the short invocation answers, on any machine. */
    static final long LONG_MILLIS = TestTime.scaledMillis(30_000);

    static Scheduler oneSlot(Path snapshots, long sliceMillis) {
        if (!Files.isRegularFile(PROGRAMS.resolve("c-runtime/bootstrap"))) {
            throw new IllegalStateException("the test programs are missing in " + PROGRAMS.toAbsolutePath() + ": build guest-kernel first");
        }
        // No runtime layer: these functions are static programs of their bundles.
        return new Scheduler(new Scheduler.Settings(Path.of("/dev/kvm"), snapshots, snapshots.resolve("no-runtimes"), 16, 1,
                sliceMillis, 2, LONG_MILLIS));
    }

    static FunctionSpec spec(String function, String bundle, Map<String, String> env, long timeoutMillis) {
        Map<String, String> all = new HashMap<>(env);
        all.put("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        all.put("AWS_LAMBDA_FUNCTION_NAME", function);
        all.put("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        return new FunctionSpec(function, function + "-v1", PROGRAMS.resolve(bundle), "bootstrap", List.of(), null, all, 128,
                timeoutMillis);
    }

    /** Deploys {@code spec} under its function's name; the future ends with how its preparation ended. */
    static CompletableFuture<Scheduler.Prepared> deploy(Scheduler s, FunctionSpec spec) {
        CompletableFuture<Scheduler.Prepared> settled = new CompletableFuture<>();
        s.deploy(spec.function(), spec, (deployment, outcome) -> {
            if (outcome instanceof Scheduler.Prepared.Ready) deployment.activate();
            settled.complete(outcome);
        });
        return settled;
    }

    static void deployReady(Scheduler s, FunctionSpec spec) throws Exception {
        Scheduler.Prepared outcome = deploy(s, spec).get(LONG_MILLIS, TimeUnit.MILLISECONDS);
        assertInstanceOf(Scheduler.Prepared.Ready.class, outcome, spec.function() + ": " + outcome);
    }

    static Invoked invoke(Scheduler s, String key, byte[] payload) {
        return s.invoke(key, new Scheduler.Request(key + "-" + System.nanoTime(), payload,
                "arn:aws:lambda:local:000000000000:function:" + key, "Root=1-0-0", System.nanoTime()));
    }

    static void assertGreeted(Invoked inv) {
        assertEquals(GREETING, new String(inv.response(), StandardCharsets.UTF_8), "error " + inv.errorType());
    }

    @Test
    void aShortInvocationAnswersWhileASpinnerHoldsTheOnlySlot(@TempDir Path snapshots) throws Exception {
        CompletableFuture<Invoked> spinner;
        try (Scheduler s = oneSlot(snapshots, 5)) {
            deployReady(s, spec("short", "c-runtime", Map.of(), LONG_MILLIS));
            deployReady(s, spec("spin", "hang-runtime", Map.of(), LONG_MILLIS));
            spinner = CompletableFuture.supplyAsync(() -> invoke(s, "spin", ADA));
            TestTime.await("the spinner holds the slot", Duration.ofSeconds(30), () -> s.runSlotFigures().running() == 1);

            Invoked shortOne = invoke(s, "short", ADA);
            assertGreeted(shortOne);
            assertFalse(spinner.isDone(), "the spinner still runs: the short invocation did not wait for its end");
            assertTrue(s.runSlotFigures().preemptions() >= 1, "the spinner gave the slot up at the end of a slice");
        }
        // Closing the scheduler stops the spinner.
        assertNotNull(spinner.get(LONG_MILLIS, TimeUnit.MILLISECONDS).errorType());
    }

    @Test
    void aSpinningInitTakesASlotLikeAnInvocationAndSharesIt(@TempDir Path snapshots) throws Exception {
        CompletableFuture<Scheduler.Prepared> spinningInit;
        try (Scheduler s = oneSlot(snapshots, 5)) {
            deployReady(s, spec("short", "c-runtime", Map.of(), LONG_MILLIS));
            spinningInit = deploy(s, spec("init", "attack-runtime", Map.of("ATTACK", "init-spin"), LONG_MILLIS));
            TestTime.await("the init holds the slot", Duration.ofSeconds(30), () -> s.runSlotFigures().running() == 1);

            assertGreeted(invoke(s, "short", ADA));
            assertFalse(spinningInit.isDone(), "the init still spins: the invocation did not wait for its end");
            assertTrue(s.runSlotFigures().preemptions() >= 1);
        }
        assertInstanceOf(Scheduler.Prepared.Failed.class, spinningInit.get(LONG_MILLIS, TimeUnit.MILLISECONDS));
    }

    @Test
    void aVmBlockedInTheHostGivesItsSlotUp(@TempDir Path dir) throws Exception {
        // A runtime that sleeps in its handler, as a bundle of its own.
        Path sleeper = Files.createDirectories(dir.resolve("sleep-runtime"));
        Files.copy(PROGRAMS.resolve("musl/sleep_runtime"), sleeper.resolve("bootstrap"));
        CompletableFuture<Invoked> sleeping;
        // A slice of an hour: no preemption, so only the sleeper's wait in the host can let the short one run.
        try (Scheduler s = oneSlot(dir.resolve("snapshots"), 3_600_000)) {
            deployReady(s, spec("short", "c-runtime", Map.of(), LONG_MILLIS));
            FunctionSpec sleep = spec("sleep", "c-runtime", Map.of(), LONG_MILLIS);
            deployReady(s, new FunctionSpec(sleep.function(), sleep.versionKey(), sleeper, "bootstrap", List.of(), null,
                    sleep.environment(), sleep.memoryMib(), sleep.timeoutMillis()));
            sleeping = CompletableFuture.supplyAsync(() -> invoke(s, "sleep", ADA));
            TestTime.await("the sleeper's invocation is admitted", Duration.ofSeconds(30), () -> s.inFlight("sleep") == 1);

            assertGreeted(invoke(s, "short", ADA));
            assertFalse(sleeping.isDone(), "the sleeper still sleeps: the short invocation did not wait for its end");
            assertEquals(0, s.runSlotFigures().preemptions());
        }
        assertNotNull(sleeping.get(LONG_MILLIS, TimeUnit.MILLISECONDS).errorType());
    }

    @Test
    void aRefusalSaysWhy(@TempDir Path snapshots) throws Exception {
        try (Scheduler s = oneSlot(snapshots, 5)) {
            assertInstanceOf(Scheduler.NotReady.class, assertThrows(RuntimeException.class,
                    () -> invoke(s, "nothing", ADA)));
            CompletableFuture<Scheduler.Prepared> gone = deploy(s, spec("gone", "no-such-bundle", Map.of(), LONG_MILLIS));
            Scheduler.Prepared outcome = gone.get(LONG_MILLIS, TimeUnit.MILLISECONDS);
            assertTrue(outcome instanceof Scheduler.Prepared.Failed f && f.reason().startsWith("The function cannot be set up"),
                    outcome.toString());
            assertInstanceOf(Scheduler.NotReady.class, assertThrows(RuntimeException.class,
                    () -> invoke(s, "gone", ADA)));
        }
    }
}
