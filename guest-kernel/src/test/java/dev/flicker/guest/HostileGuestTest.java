package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;
import dev.flicker.kvm.Kvm;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The guest is hostile: every misbehaviour ends with a clear result and the host stays healthy. */
@NeedsKvm
class HostileGuestTest {
    /** For programs that must finish: the default limits, with a timeout that scales with the machine. */
    static final Limits FINISHING = Limits.DEFAULT.withTimeoutMillis(TestTime.scaledMillis(Limits.DEFAULT.timeoutMillis()));

    static Kvm kvm;
    static MicroVmRunner runner;
    static Bundle musl;

    @BeforeAll
    static void start() {
        kvm = Kvm.open();
        runner = new MicroVmRunner(kvm);
        musl = Programs.bundle("musl");
    }

    @AfterAll
    static void stop() {
        runner.close();
        musl.close();
        kvm.close();
    }

    static RunResult hostile(String what, Limits limits) {
        return runner.run(RunRequest.of(musl, "hostile").withArgs(what).withLimits(limits));
    }

    @Test
    void closingTheRunnerStopsAProgramThatLoops() throws Exception {
        MicroVmRunner closing = new MicroVmRunner(kvm);
        var result = new java.util.concurrent.CompletableFuture<RunResult>();
        Thread caller = Thread.ofPlatform().start(() -> result.complete(closing.run(
                RunRequest.of(musl, "hostile").withArgs("loop").withLimits(Limits.DEFAULT.withTimeoutMillis(600_000)))));
        Thread.sleep(300); // let it enter its loop
        closing.close();
        // The bound only keeps a broken stop from hanging the suite; the deadline is ten minutes away.
        RunResult r = result.get(TestTime.scaledMillis(60_000), java.util.concurrent.TimeUnit.MILLISECONDS);
        caller.join();
        assertEquals(RunResult.Outcome.STOPPED, r.outcome(), r::toString);
        // A run that starts after the close is refused the same way, not left without a deadline.
        assertEquals(RunResult.Outcome.STOPPED, closing.run(RunRequest.of(musl, "hostile").withArgs("loop")).outcome());
    }

    @Test
    void badPointersAndLengthsAreRefusedNotFatal() {
        RunResult r = hostile("badptrs", FINISHING);
        assertTrue(r.exitedWith(0), () -> r + " " + r.stdoutText());
        assertEquals("rejected 61 of 61\n", r.stdoutText());
        assertTrue(r.exits().unknownSyscalls() >= 1);
    }

    @ParameterizedTest
    @CsvSource({
            "jump-unmapped, 11, page fault at address 0x123456000",
            "jump-noncanonical, 11, general protection fault",
            "jump-kernel, 11, page fault at address 0xffffffffffe01000",
            "write-null, 11, page fault at address 0x8 (write)",
            "write-text, 11, (write)",
            "ud2, 4, invalid opcode",
            "int3, 5, breakpoint",
            "hlt, 11, general protection fault",
            "div0, 8, divide error"})
    void faultsEndTheProgramWithTheLinuxSignal(String what, int signal, String detail) {
        RunResult r = hostile(what, FINISHING);
        assertEquals(RunResult.Outcome.CRASHED, r.outcome(), r::toString);
        assertEquals(signal, r.signal(), r::toString);
        assertTrue(r.detail().contains(detail), r.detail());
    }

    @Test
    void infiniteLoopIsKilledAtTheDeadline() {
        long t0 = System.nanoTime();
        RunResult r = hostile("loop", Limits.DEFAULT.withTimeoutMillis(300));
        long tookMillis = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(RunResult.Outcome.TIMED_OUT, r.outcome(), r::toString);
        assertTrue(tookMillis >= 300, "stopped after " + tookMillis + " ms");
    }

    @Test
    void sleepingForeverIsKilledAtTheDeadline() {
        RunResult r = hostile("sleep", Limits.DEFAULT.withTimeoutMillis(300));
        assertEquals(RunResult.Outcome.TIMED_OUT, r.outcome(), r::toString);
    }

    @Test
    void allocatingPastTheLimitGetsEnomem() {
        RunResult r = hostile("alloc", FINISHING.withMemoryMib(32));
        assertTrue(r.exitedWith(0), r::toString);
        int mib = Integer.parseInt(r.stdoutText().replaceAll("malloc failed after (\\d+) MiB\\n", "$1"));
        assertTrue(mib >= 16 && mib < 32, r.stdoutText());
    }

    @Test
    void floodingStdoutIsCappedAndReported() {
        long gib = 1L << 30;
        RunResult r = runner.run(RunRequest.of(musl, "hostile").withArgs("flood", Long.toString(gib))
                .withLimits(Limits.DEFAULT.withOutputCapBytes(1 << 20).withTimeoutMillis(TestTime.scaledMillis(60_000))));
        assertTrue(r.exitedWith(0), r::toString);
        assertEquals(1 << 20, r.stdout().length);
        assertEquals(gib - (1 << 20), r.stdoutDroppedBytes());
    }

    /** Runs {@code hostile what args...} in a VM of its own, so that its host memory can be looked at afterwards. */
    static RunResult hostileIn(Limits limits, java.util.function.Consumer<MicroVm> after, String... args) {
        try (MicroVm vm = runner.boot(RunRequest.of(musl, "hostile").withArgs(args).withLimits(limits))) {
            RunResult r = vm.run();
            after.accept(vm);
            return r;
        }
    }

    /**
     * Issue 9: 100,000 mkdirs in /tmp with 4,000-byte names held 399 MB of the host's heap while /tmp counted 0.
     * Such names are ENAMETOOLONG, as on Linux (NAME_MAX 255); with 255-byte names, the entries count against
     * /tmp and the VM's budget, and /tmp fills with ENOSPC.
     */
    @Test
    void tmpEntriesAndTheirNamesCountAgainstTmpAndTheBudget() {
        RunResult tooLong = hostile("tmp-names", Limits.DEFAULT.withTimeoutMillis(TestTime.scaledMillis(30_000)));
        assertTrue(tooLong.exitedWith(0), tooLong::toString);
        assertEquals("made 0, then ENAMETOOLONG\n", tooLong.stdoutText());

        long[] peak = new long[1];
        RunResult r = hostileIn(Limits.DEFAULT.withTimeoutMillis(TestTime.scaledMillis(30_000)), vm -> peak[0] = vm.hostMemory().peakBytes(),
                "tmp-names", "255");
        assertTrue(r.exitedWith(0), r::toString);
        String out = r.stdoutText();
        assertTrue(out.matches("made \\d+, then ENOSPC\n"), out);
        long made = Long.parseLong(out.split("[ ,]")[1]);
        long perEntry = dev.flicker.guest.fs.TmpFs.entryBytes("n".repeat(255));
        assertEquals(Limits.DEFAULT.tmpBytes() / perEntry, made, out);
        assertTrue(peak[0] <= Limits.DEFAULT.tmpBytes(), peak[0] + " bytes held for /tmp");
    }

    @Test
    void pathsOutOfTheBundleAreNotFound() {
        RunResult r = hostile("escape", FINISHING);
        assertTrue(r.exitedWith(0), () -> r + r.stdoutText());
        assertEquals("refused 6 of 6\n", r.stdoutText());
    }

    @Test
    void smashingTheHostCallPageHurtsOnlyTheGuest() {
        RunResult r = hostile("smash-hostcall", FINISHING);
        // The program owns that page: whatever it wrote, it ends in a defined way and the host goes on.
        assertTrue(r.outcome() == RunResult.Outcome.EXITED || r.outcome() == RunResult.Outcome.CRASHED, r::toString);
        assertTrue(runner.run(RunRequest.of(musl, "exit0")).exitedWith(0));
    }

    @Test
    void dynamicallyLinkedProgramIsRefused(@TempDir Path dir) throws IOException {
        Files.copy(Path.of("/bin/true"), dir.resolve("true"));
        try (Bundle b = Bundle.open(dir)) {
            RunResult r = runner.run(RunRequest.of(b, "true"));
            assertEquals(RunResult.Outcome.FAILED_TO_START, r.outcome());
            assertTrue(r.detail().contains("dynamically linked"), r.detail());
        }
    }

    @Test
    void thousandRunsLeakNoFdsOrMappings() throws IOException {
        String[] cases = {"exit0", "crash", "timeout"};
        for (int i = 0; i < 20; i++) runOnce(cases[i % 3]); // warm up lazily created JVM resources
        long fds = openFds(), maps = mappings();
        for (int i = 0; i < 1000; i++) runOnce(i % 100 == 0 ? "timeout" : i % 10 == 0 ? "crash" : "exit0");
        System.gc();
        long fdsAfter = openFds(), mapsAfter = mappings();
        assertEquals(fds, fdsAfter, "open fds before and after 1,000 runs");
        // The JVM itself may map a few regions (JIT code, GC); a VM leak would add thousands.
        assertTrue(mapsAfter - maps < 50, "mappings grew from " + maps + " to " + mapsAfter);
    }

    private static void runOnce(String kind) {
        RunResult r = switch (kind) {
            case "crash" -> hostile("write-null", FINISHING);
            case "timeout" -> hostile("loop", Limits.DEFAULT.withTimeoutMillis(20));
            default -> runner.run(RunRequest.of(musl, "exit0"));
        };
        assertTrue(r.outcome() != RunResult.Outcome.FAILED_TO_START, r::toString);
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    private static long mappings() throws IOException {
        try (Stream<String> s = Files.lines(Path.of("/proc/self/maps"))) {
            return s.count();
        }
    }
}
