package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.Inode;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Static musl and glibc programs running in real micro VMs on /dev/kvm. */
@NeedsKvm
class MicroVmRunnerTest {
    static Kvm kvm;
    static MicroVmRunner runner;
    static Bundle musl, glibc, pie;

    @BeforeAll
    static void start() {
        kvm = Kvm.open(); // fails with a message naming what is missing when there is no /dev/kvm
        runner = new MicroVmRunner(kvm);
        musl = Programs.bundle("musl");
        glibc = Programs.bundle("glibc");
        pie = Programs.bundle("pie");
    }

    @AfterAll
    static void stop() {
        runner.close();
        musl.close();
        glibc.close();
        pie.close();
        kvm.close();
    }

    static Bundle bundle(String libc) {
        return libc.equals("musl") ? musl : glibc;
    }

    static RunResult run(String libc, String program, String... args) {
        return runner.run(RunRequest.of(bundle(libc), program).withArgs(args));
    }

    @ParameterizedTest
    @ValueSource(strings = {"musl", "glibc"})
    void hello(String libc) {
        RunResult r = run(libc, "hello", "one", "two");
        assertTrue(r.exitedWith(0), r::toString);
        assertEquals("hello from the micro guest, argc=3 argv0=/var/task/hello\n", r.stdoutText());
        assertTrue(r.exits().hostCalls() > 0);
        assertTrue(r.timings().totalNanos() > 0);
    }

    @Test
    void staticPie() {
        RunResult r = runner.run(RunRequest.of(pie, "hello"));
        assertTrue(r.exitedWith(0), r::toString);
        assertTrue(r.stdoutText().startsWith("hello from the micro guest"), r.stdoutText());
    }

    @ParameterizedTest
    @ValueSource(strings = {"musl", "glibc"})
    void echoesStdin(String libc) {
        byte[] input = "the event\nwith two lines\n".repeat(500).getBytes(StandardCharsets.UTF_8);
        RunResult r = runner.run(RunRequest.of(bundle(libc), "echo").withStdin(input));
        assertTrue(r.exitedWith(0), r::toString);
        assertEquals(new String(input, StandardCharsets.UTF_8), r.stdoutText());
    }

    @ParameterizedTest
    @ValueSource(strings = {"musl", "glibc"})
    void readsBundleFilesAndUsesTmp(String libc) {
        RunResult r = run(libc, "readfile", "data.txt");
        assertTrue(r.exitedWith(0), () -> r + r.stderrText());
        String out = r.stdoutText();
        assertTrue(out.startsWith("line one\nline two\nsize=18\nat2=n\n"), out);
        assertTrue(out.contains("found=1"), out);
        assertTrue(out.contains("cwd=/var/task\nwritten to tmp\nmissing=ENOENT\nbundle-write=refused\n"), out);
    }

    @ParameterizedTest
    @ValueSource(strings = {"musl", "glibc"})
    void mallocHeavyUsesBrkAndMmap(String libc) {
        RunResult r = runner.run(RunRequest.of(bundle(libc), "malloc_heavy").withArgs("16")
                .withLimits(Limits.DEFAULT.withMemoryMib(64)));
        assertTrue(r.exitedWith(0), r::toString);
        assertTrue(r.stdoutText().startsWith("sum="), r.stdoutText());
        Map<String, Long> calls = r.exits().syscalls();
        assertTrue(calls.containsKey("mmap") && calls.containsKey("munmap"), calls::toString);
    }

    @ParameterizedTest
    @ValueSource(strings = {"musl", "glibc"})
    void timeIsTheHostsAndRandomnessIsFresh(String libc) {
        RunResult a = run(libc, "time_random"), b = run(libc, "time_random");
        assertTrue(a.exitedWith(0) && b.exitedWith(0), a + " " + b);
        long hostSeconds = System.currentTimeMillis() / 1000;
        long guestSeconds = Long.parseLong(a.stdoutText().replaceAll(".*realtime=(\\d+).*\\n", "$1"));
        assertTrue(Math.abs(hostSeconds - guestSeconds) <= 5, a.stdoutText());
        long slept = Long.parseLong(a.stdoutText().replaceAll(".*slept_us=(\\d+).*\\n", "$1"));
        assertTrue(slept >= 2000, "nanosleep(2 ms) returned after " + slept + " us");
        String randomA = a.stdoutText().replaceAll(".*random=([0-9a-f]+)\\n", "$1");
        String randomB = b.stdoutText().replaceAll(".*random=([0-9a-f]+)\\n", "$1");
        assertEquals(32, randomA.length());
        assertNotEquals(randomA, randomB);
    }

    @ParameterizedTest
    @ValueSource(strings = {"musl", "glibc"})
    void jsonHandler(String libc) {
        RunResult r = runner.run(RunRequest.of(bundle(libc), "json_handler")
                .withStdin("{\"name\": \"Ada\"}".getBytes(StandardCharsets.UTF_8)));
        assertTrue(r.exitedWith(0), r::toString);
        assertEquals("{\"greeting\":\"hello, Ada\",\"length\":3}\n", r.stdoutText());
        RunResult bad = runner.run(RunRequest.of(bundle(libc), "json_handler").withStdin("{}".getBytes()));
        assertTrue(bad.exitedWith(1), bad::toString);
        assertEquals("no name in event\n", bad.stderrText());
    }

    @Test
    void environmentReachesTheProgram() {
        RunResult r = runner.run(RunRequest.of(musl, "getpid_loop").withArgs("10"));
        assertTrue(r.exitedWith(0), r::toString);
        assertEquals(10, r.exits().syscalls().get("getpid"));
    }

    @Test
    void missingProgramFailsToStart() {
        RunResult r = runner.run(RunRequest.of(musl, "no-such-program"));
        assertEquals(RunResult.Outcome.FAILED_TO_START, r.outcome());
        assertTrue(r.detail().contains("not in the bundle"), r.detail());
    }

    @Test
    void notAnExecutableFailsToStart() {
        RunResult r = runner.run(RunRequest.of(musl, "data.txt"));
        assertEquals(RunResult.Outcome.FAILED_TO_START, r.outcome());
        assertTrue(r.detail().contains("not an ELF file"), r.detail());
    }

    @Test
    void everyPhaseOfAFreshStartIsMeasured() {
        RunResult r = runner.run(RunRequest.of(musl, "echo").withStdin("x".getBytes(StandardCharsets.UTF_8)));
        assertTrue(r.exitedWith(0), r::toString);
        RunResult.Timings t = r.timings();
        assertTrue(t.createVmNanos() > 0 && t.loadNanos() > 0 && t.vcpuSetupNanos() > 0 && t.runNanos() > 0
                && t.teardownNanos() > 0, t::toString);
        assertEquals(t.createVmNanos() + t.loadNanos() + t.vcpuSetupNanos() + t.runNanos() + t.teardownNanos(), t.totalNanos());
    }

    @Test
    void aRestoreMeasuresItsOwnPhasesAndOnlyItsFirstRunReportsThem() throws Exception {
        MicroVm.Captured captured;
        GuestMemory copy;
        try (MicroVm original = runner.boot(RunRequest.of(musl, "echo"))) {
            RunResult first = original.run();
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, first.outcome(), first::toString);
            RunResult.Timings booted = first.timings();
            assertTrue(booted.createVmNanos() > 0 && booted.loadNanos() > 0 && booted.vcpuSetupNanos() > 0
                    && booted.runNanos() > 0, booted::toString);
            assertEquals(0, booted.teardownNanos(), "the VM is its owner's to destroy");
            captured = original.capture();
            copy = GuestMemory.anonymous(GuestAddress.of(0), captured.memory().sizeBytes());
            MemorySegment.copy(captured.memory().segment(), 0, copy.segment(), 0, captured.memory().sizeBytes());
        }
        try (MicroVm clone = runner.restore(copy, captured.vcpu(), captured.guestState(), musl, Limits.DEFAULT, List.of())) {
            clone.deliver("x".getBytes(StandardCharsets.UTF_8));
            RunResult r = clone.run();
            assertTrue(r.exitedWith(0), r::toString);
            RunResult.Timings restored = r.timings();
            assertTrue(restored.createVmNanos() > 0 && restored.loadNanos() > 0 && restored.vcpuSetupNanos() > 0
                    && restored.runNanos() > 0, restored::toString);
            assertEquals(0, restored.teardownNanos());
        }
        try (MicroVm vm = runner.boot(RunRequest.of(musl, "echo"))) {
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, vm.run().outcome());
            vm.deliver("x".getBytes(StandardCharsets.UTF_8));
            RunResult.Timings again = vm.run().timings();
            assertEquals(List.of(0L, 0L, 0L), List.of(again.createVmNanos(), again.loadNanos(), again.vcpuSetupNanos()),
                    "a run after deliver made no VM");
            assertTrue(again.runNanos() > 0, again::toString);
        }
    }

    @Test
    void aHostKernelFailureWhileDeliveringTheEventEndsTheProgramNotTheCaller() {
        try (MicroVm vm = runner.boot(RunRequest.of(musl, "echo"))) {
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, vm.run().outcome());
            // Stands for any host-half bug in the pending call (the read on stdin) that deliver answers.
            FileDescription stdin = vm.kernel().files().get(0);
            vm.kernel().files().installAt(0, new FileDescription(stdin.path(), stdin.statusFlags()) {
                @Override
                public Inode inode() {
                    return stdin.inode();
                }

                @Override
                public boolean readable() {
                    throw new IllegalStateException("a host-half bug");
                }
            }, false);
            vm.deliver("{}".getBytes(StandardCharsets.UTF_8)); // no exception reaches the caller
            RunResult r = vm.run();
            assertEquals(RunResult.Outcome.CRASHED, r.outcome(), r::toString);
            assertEquals(11, r.signal());
            assertTrue(r.detail().contains("host kernel error in read: java.lang.IllegalStateException: a host-half bug"),
                    r.detail());
        }
    }
}
