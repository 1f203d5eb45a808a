package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.Layer;
import dev.flicker.guest.kernel.Clocks;
import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.Kvm;
import dev.flicker.testing.NeedsKvm;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vDSO mapped into every program (docs/micro-guest-abi.md, "vDSO"): libc finds it through AT_SYSINFO_EHDR, reads
 * the clocks in the guest without a host call, and reads the host's time, also in a clone restored from a snapshot
 * taken seconds earlier (its clock page is rewritten before it runs).
 */
@NeedsKvm
class VdsoClockTest {
    /** Rounding (gettimeofday's microseconds, time()'s seconds aside) and the TSC's kHz: far below a millisecond. */
    private static final long SLACK_NANOS = 2_000_000;
    private static final Pattern READING = Pattern.compile(
            "(\\w+) realtime_ns=(\\d+) monotonic_ns=(\\d+) tod_us=(\\d+) time_s=(\\d+)");
    private static final List<String> CLOCK_CALLS = List.of("clock_gettime", "gettimeofday", "time");

    static Kvm kvm;
    static MicroVmRunner runner;
    static Bundle musl, glibc, dynamic;
    static Layer layer;

    @BeforeAll
    static void start() {
        kvm = Kvm.open();
        runner = new MicroVmRunner(kvm);
        musl = Programs.bundle("musl");
        glibc = Programs.bundle("glibc");
        dynamic = Programs.bundle("dynamic");
        layer = Programs.libcLayer();
    }

    @AfterAll
    static void stop() {
        runner.close();
        musl.close();
        glibc.close();
        dynamic.close();
        layer.close();
        kvm.close();
    }

    record Reading(long realtimeNanos, long monotonicNanos, long todMicros, long timeSeconds) {}

    static Map<String, Reading> readings(String stdout) {
        Map<String, Reading> out = new java.util.HashMap<>();
        Matcher m = READING.matcher(stdout);
        while (m.find()) {
            out.put(m.group(1), new Reading(Long.parseLong(m.group(2)), Long.parseLong(m.group(3)),
                    Long.parseLong(m.group(4)), Long.parseLong(m.group(5))));
        }
        return out;
    }

    /** Every clock of {@code r} lies between the host's readings before and after the run that made it. */
    static void assertBetween(Reading r, long wallBefore, long wallAfter, long monoBefore, long monoAfter) {
        assertTrue(r.realtimeNanos() >= wallBefore - SLACK_NANOS && r.realtimeNanos() <= wallAfter + SLACK_NANOS,
                () -> "CLOCK_REALTIME " + r.realtimeNanos() + " outside the host's [" + wallBefore + ", " + wallAfter + "]");
        assertTrue(r.monotonicNanos() >= monoBefore - SLACK_NANOS && r.monotonicNanos() <= monoAfter + SLACK_NANOS,
                () -> "CLOCK_MONOTONIC " + r.monotonicNanos() + " outside the host's [" + monoBefore + ", " + monoAfter + "]");
        assertTrue(r.todMicros() * 1000 >= wallBefore - SLACK_NANOS - 1000 && r.todMicros() * 1000 <= wallAfter + SLACK_NANOS,
                () -> "gettimeofday " + r.todMicros());
        assertTrue(r.timeSeconds() >= wallBefore / 1_000_000_000 - 1 && r.timeSeconds() <= wallAfter / 1_000_000_000 + 1,
                () -> "time " + r.timeSeconds());
    }

    /** With the vDSO counting time, no clock read is a host call; without it (no invariant TSC), each one is. */
    static void assertClockHostCalls(RunResult r) {
        Map<String, Long> calls = r.exits().syscalls();
        if (runner.vdsoClocks()) {
            for (String call : CLOCK_CALLS) assertFalse(calls.containsKey(call), () -> call + " was a host call: " + calls);
        } else {
            assertTrue(calls.getOrDefault("clock_gettime", 0L) >= 2, calls::toString);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"musl", "glibc", "dynamic"})
    void libcReadsTheHostsClocksInTheGuest(String kind) {
        RunRequest request = switch (kind) {
            case "musl" -> RunRequest.of(musl, "clock_probe");
            case "glibc" -> RunRequest.of(glibc, "clock_probe");
            default -> RunRequest.of(dynamic, "clock_probe_glibc").withLayer(layer);
        };
        long wallBefore = Clocks.realtimeNanos(), monoBefore = System.nanoTime();
        RunResult r = runner.run(request.withStdin("go".getBytes(StandardCharsets.US_ASCII)));
        long wallAfter = Clocks.realtimeNanos(), monoAfter = System.nanoTime();
        assertTrue(r.exitedWith(0), () -> r + " " + r.stderrText());
        Map<String, Reading> readings = readings(r.stdoutText());
        assertEquals(2, readings.size(), r.stdoutText());
        for (Reading reading : readings.values()) assertBetween(reading, wallBefore, wallAfter, monoBefore, monoAfter);
        assertTrue(r.stdoutText().contains("sysinfo_ehdr=0x" + Long.toHexString(Vdso.IMAGE_VA)), r.stdoutText());
        assertClockHostCalls(r);
    }

    @Test
    void aCloneRestoredSecondsAfterItsSnapshotReadsTheHostsTimeNotTheSnapshots() throws Exception {
        MicroVm original = runner.boot(RunRequest.of(musl, "clock_probe"));
        MicroVm.Captured captured;
        GuestMemory copy;
        try {
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, original.run().outcome());
            captured = original.capture();
            copy = GuestMemory.anonymous(GuestAddress.of(0), captured.memory().sizeBytes());
            MemorySegment.copy(captured.memory().segment(), 0, copy.segment(), 0, captured.memory().sizeBytes());
        } finally {
            original.close();
        }
        long snapshotWall = Clocks.realtimeNanos();
        Thread.sleep(1500); // the clone must not live 1.5 s in the past

        long wallBefore = Clocks.realtimeNanos(), monoBefore = System.nanoTime();
        MicroVm clone = runner.restore(copy, captured.vcpu(), captured.guestState(), musl, Limits.DEFAULT, List.of());
        RunResult r;
        try {
            clone.deliver("go".getBytes(StandardCharsets.US_ASCII));
            r = clone.run();
        } finally {
            clone.close();
        }
        long wallAfter = Clocks.realtimeNanos(), monoAfter = System.nanoTime();
        assertTrue(r.exitedWith(0), () -> r + " " + r.stderrText());
        Reading after = readings(r.stdoutText()).get("after");
        assertBetween(after, wallBefore, wallAfter, monoBefore, monoAfter);
        assertTrue(after.realtimeNanos() - snapshotWall >= 1_400_000_000L, "the clone's time is the host's, not the snapshot's");
        assertClockHostCalls(r);
    }

    @Test
    void withoutTheVdsosClocksEveryReadIsAHostCallAndStillRight() {
        boolean before = runner.vdsoClocks();
        runner.setVdsoClocks(false);
        try {
            long wallBefore = Clocks.realtimeNanos(), monoBefore = System.nanoTime();
            RunResult r = runner.run(RunRequest.of(musl, "clock_probe").withStdin("go".getBytes(StandardCharsets.US_ASCII)));
            long wallAfter = Clocks.realtimeNanos(), monoAfter = System.nanoTime();
            assertTrue(r.exitedWith(0), r::toString);
            for (Reading reading : readings(r.stdoutText()).values()) {
                assertBetween(reading, wallBefore, wallAfter, monoBefore, monoAfter);
            }
            // musl makes gettimeofday and time of clock_gettime: four reads per probe, two probes.
            assertEquals(8L, r.exits().syscalls().get("clock_gettime"), r.exits().syscalls()::toString);
        } finally {
            runner.setVdsoClocks(before);
        }
    }
}
