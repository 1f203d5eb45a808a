package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.Layer;
import dev.flicker.kvm.Kvm;
import dev.flicker.testing.NeedsKvm;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Dynamically linked programs in real micro VMs: glibc's and musl's dynamic loaders from a runtime layer load the
 * program, its libraries and a plugin through the guest's openat, read, pread64, fstat, mmap and mprotect.
 */
@NeedsKvm
class DynamicProgramTest {
    static Kvm kvm;
    static MicroVmRunner runner;
    static Bundle dynamic;
    static Layer layer;

    @BeforeAll
    static void start() {
        kvm = Kvm.open();
        runner = new MicroVmRunner(kvm);
        dynamic = Programs.bundle("dynamic");
        layer = Programs.libcLayer();
    }

    @AfterAll
    static void stop() {
        runner.close();
        dynamic.close();
        layer.close();
        kvm.close();
    }

    static RunRequest request(String program, String... args) {
        return RunRequest.of(dynamic, program).withArgs(args).withLayer(layer);
    }

    @ParameterizedTest
    @ValueSource(strings = {"glibc", "musl"})
    void aDynamicProgramLoadsItsLibrariesAndAPlugin(String libc) {
        RunResult r = runner.run(request("hello_" + libc, "one"));
        assertTrue(r.exitedWith(0), () -> r + " stderr: " + r.stderrText());
        String path = "/var/task/hello_" + libc;
        assertEquals("argc=2 argv0=" + path + " execfn=" + path + " exe=" + path + " at_base=set\n"
                + "hello, dynamic world\nplugin=42 greet_calls=2\n", r.stdoutText());
        Map<String, Long> calls = r.exits().syscalls();
        // glibc's loader opens with openat, musl's with open; both map and protect (RELRO) the libraries.
        assertTrue(calls.containsKey(libc.equals("glibc") ? "openat" : "open"), calls::toString);
        for (String call : new String[] {"mmap", "mprotect"}) {
            assertTrue(calls.containsKey(call), () -> call + " was not called: " + calls);
        }
        assertEquals(0, r.exits().unknownSyscalls(), calls::toString);
    }

    @Test
    void debiansTrueRunsFromTheLayer() {
        RunResult r = runner.run(RunRequest.of(dynamic, "/usr/bin/true").withLayer(layer));
        assertTrue(r.exitedWith(0), () -> r + " stderr: " + r.stderrText());
        RunResult version = runner.run(RunRequest.of(dynamic, "/usr/bin/true").withArgs("--version").withLayer(layer));
        assertTrue(version.exitedWith(0), version::toString);
        assertTrue(version.stdoutText().startsWith("true (GNU coreutils)"), version.stdoutText());
    }

    @Test
    void theDynamicLoaderRunsAsAProgramToo() {
        // As build.sh runs the layer's python3.11: ld.so is the program, and it loads the one named in its arguments.
        RunResult r = runner.run(RunRequest.of(dynamic, "/lib64/ld-linux-x86-64.so.2").withArgs("/var/task/hello_glibc")
                .withLayer(layer));
        assertTrue(r.exitedWith(0), () -> r + " stderr: " + r.stderrText());
        assertTrue(r.stdoutText().startsWith("argc=1 argv0=/var/task/hello_glibc "), r.stdoutText());
        assertTrue(r.stdoutText().contains("exe=/lib64/ld-linux-x86-64.so.2 "), r.stdoutText());
    }

    @Test
    void withoutItsInterpreterADynamicProgramDoesNotStart() {
        RunResult r = runner.run(RunRequest.of(dynamic, "hello_glibc"));
        assertEquals(RunResult.Outcome.FAILED_TO_START, r.outcome(), r::toString);
        assertTrue(r.detail().contains("/lib64/ld-linux-x86-64.so.2") && r.detail().contains("layer"), r.detail());
    }

    @Test
    void aProgramMissingFromTheLayerOrOutsideTheBundleDoesNotStart() {
        RunResult missing = runner.run(RunRequest.of(dynamic, "/usr/bin/false").withLayer(layer));
        assertEquals(RunResult.Outcome.FAILED_TO_START, missing.outcome(), missing::toString);
        assertTrue(missing.detail().contains("/usr/bin/false"), missing.detail());
        RunResult escape = runner.run(RunRequest.of(dynamic, "../../usr/bin/true").withLayer(layer));
        assertEquals(RunResult.Outcome.FAILED_TO_START, escape.outcome(), escape::toString);
        assertTrue(escape.detail().contains("is not in the bundle"), escape.detail());
        RunResult directory = runner.run(RunRequest.of(dynamic, "/usr/bin").withLayer(layer));
        assertEquals(RunResult.Outcome.FAILED_TO_START, directory.outcome(), directory::toString);
    }

    @Test
    void readOnlyMappingsOfTheLayersFilesBehaveAsLinuxPrivateMappings() {
        RunResult r = runner.run(RunRequest.of(dynamic, "shared_map").withArgs("/lib/x86_64-linux-gnu/libc.so.6").withLayer(layer));
        assertTrue(r.exitedWith(0), () -> r + " stderr: " + r.stderrText());
        assertEquals("same_bytes=1\nprivate_write=1 other_mapping_untouched=1\nreplaced_reads_zero=1\nreplaced_writable=1\n"
                + "remapped_file=1\n", r.stdoutText());
    }

    @Test
    void theLayersLibrariesAreSharedNotChargedToTheProgram() {
        // The glibc program stops at its first read of stdin, with libc and libgreet mapped by ld.so.
        long shared = committedAtItsFirstRead(runner);
        try (MicroVmRunner copying = new MicroVmRunner(kvm)) {
            copying.setShareFiles(false);
            long copied = committedAtItsFirstRead(copying);
            if (runner.sharesFiles()) {
                // libc.so.6's 1.9 MiB of read-only segments and ld.so's, copied, against nothing: at least 1.5 MiB less.
                assertTrue(copied - shared >= (3L << 19), "committed " + shared + " bytes shared, " + copied + " copied");
            } else {
                assertEquals(copied, shared, "KVM without read-only memory slots: files are copied either way");
            }
        }
    }

    private static long committedAtItsFirstRead(MicroVmRunner r) {
        try (MicroVm vm = r.boot(RunRequest.of(dynamic, "clock_probe_glibc").withLayer(layer))) {
            RunResult init = vm.run();
            assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, init.outcome(), init::toString);
            return vm.committedBytes();
        }
    }
}
