package dev.flicker.lambda.runtime;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVm;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.net.LoopbackEndpoint;
import dev.flicker.kvm.Kvm;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hostile program against the Runtime API in a real VM: floods of requests, malformed and well-formed, partial
 * bodies on many sockets, and too many sockets each stop at a limit (flow control, the VM's host-memory budget, the
 * socket count) with the errno Linux would give, and the host holds next to nothing for the VM.
 */
@NeedsKvm
class RuntimeApiHostileGuestTest {
    /** The Runtime API, which the api-* cases of the hostile program flood. */
    static final List<LoopbackEndpoint.Spec> API = List.of(RuntimeApi.ENDPOINT);
    static Kvm kvm;
    static MicroVmRunner runner;
    static Bundle musl;

    @BeforeAll
    static void start() {
        kvm = Kvm.open();
        runner = new MicroVmRunner(kvm);
        musl = GuestPrograms.bundle("musl");
    }

    @AfterAll
    static void stop() {
        runner.close();
        musl.close();
        kvm.close();
    }

    /** Runs {@code hostile what args...} in a VM of its own with the Runtime API, to look at its host memory after. */
    static RunResult hostileIn(Limits limits, java.util.function.Consumer<MicroVm> after, String... args) {
        try (MicroVm vm = runner.boot(RunRequest.of(musl, "hostile").withArgs(args).withLimits(limits).withEndpoints(API))) {
            RunResult r = vm.run();
            after.accept(vm);
            return r;
        }
    }

    private static long threadCpuNanos() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    /**
     * Issue 9's trigger: 1 MB of pipelined {@code "A / HTTP/1.\r\n\r\n"} to 127.0.0.1:9001, never read, written
     * again and again. The first request is malformed, so the server answers 400 and closes; the program then
     * only gets EPIPE, and it ends at its deadline with the host holding next to nothing for it.
     */
    @Test
    void aFloodOfMalformedRequestsToTheRuntimeApiIsCutOffAndEndsAtTheDeadline() {
        long[] peak = new long[1];
        long t0 = System.nanoTime();
        RunResult r = hostileIn(Limits.DEFAULT.withTimeoutMillis(2000), vm -> peak[0] = vm.hostMemory().peakBytes(),
                "api-flood", "bad", "block");
        long tookMillis = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(RunResult.Outcome.TIMED_OUT, r.outcome(), r::toString);
        assertTrue(tookMillis < 2000 + TestTime.scaledMillis(5000), "took " + tookMillis + " ms for a 2 s timeout");
        assertTrue(peak[0] < 256 * 1024, peak[0] + " bytes held for the VM");
        RunResult nb = runner.run(RunRequest.of(musl, "hostile").withArgs("api-flood", "bad", "nonblock").withEndpoints(API));
        assertTrue(nb.exitedWith(0), nb::toString);
        assertTrue(nb.stdoutText().matches("sent \\d+ then EPIPE\n"), nb.stdoutText());
    }

    /**
     * The same flood of well-formed requests: answers pile up to the connection's cap, the server stops reading,
     * the window fills and the blocking write waits, as on Linux, without using the host's CPU, until the
     * deadline ends the run.
     */
    @Test
    void aFloodOfPipelinedRequestsThatNeverReadsIsHeldBackUntilTheDeadline() {
        long[] peak = new long[1];
        long t0 = System.nanoTime(), cpu0 = threadCpuNanos();
        RunResult r = hostileIn(Limits.DEFAULT.withTimeoutMillis(3000), vm -> peak[0] = vm.hostMemory().peakBytes(),
                "api-flood", "valid", "block");
        long tookMillis = (System.nanoTime() - t0) / 1_000_000, cpuMillis = (threadCpuNanos() - cpu0) / 1_000_000;
        assertEquals(RunResult.Outcome.TIMED_OUT, r.outcome(), r::toString);
        assertTrue(tookMillis < 3000 + TestTime.scaledMillis(5000), "took " + tookMillis + " ms for a 3 s timeout");
        assertTrue(cpuMillis < TestTime.scaledMillis(1500), "the blocked write used " + cpuMillis + " ms of CPU");
        assertTrue(peak[0] < 512 * 1024, peak[0] + " bytes held for the VM");
        RunResult nb = runner.run(RunRequest.of(musl, "hostile").withArgs("api-flood", "valid", "nonblock").withEndpoints(API));
        assertTrue(nb.exitedWith(0), nb::toString);
        String out = nb.stdoutText();
        assertTrue(out.matches("sent \\d+ then EAGAIN\n"), out);
        long sent = Long.parseLong(out.split(" ")[1]);
        assertTrue(sent > 0 && sent < 512 * 1024, "the Runtime API took " + sent + " bytes before EAGAIN");
    }

    /** Issue 9: partial 6 MB bodies on socket after socket stop at the VM's host-memory budget with ENOMEM. */
    @Test
    void partialBodiesOnManySocketsStopAtTheBudget() {
        long[] peak = new long[1], limit = new long[1];
        RunResult r = hostileIn(Limits.DEFAULT.withTimeoutMillis(TestTime.scaledMillis(Limits.DEFAULT.timeoutMillis())), vm -> {
            peak[0] = vm.hostMemory().peakBytes();
            limit[0] = vm.hostMemory().limitBytes();
        }, "api-bodies", "5120");
        assertTrue(r.exitedWith(0), r::toString);
        String out = r.stdoutText();
        assertTrue(out.matches("\\d+ sockets, \\d+ body bytes, then ENOMEM\n"), out);
        long bytes = Long.parseLong(out.split(" ")[2]);
        assertEquals(Limits.DEFAULT.hostBudgetBytes(), limit[0]);
        assertTrue(bytes > limit[0] / 2 && bytes <= limit[0], out);
        assertTrue(peak[0] <= limit[0], peak[0] + " bytes held, budget " + limit[0]);
    }

    @Test
    void runtimeApiSocketsAreLimitedPerVm() {
        RunResult none = runner.run(RunRequest.of(musl, "hostile").withArgs("api-bodies", "0").withEndpoints(API));
        assertTrue(none.exitedWith(0), none::toString);
        assertEquals("64 sockets, 0 body bytes, then ENFILE\n", none.stdoutText());
    }
}
