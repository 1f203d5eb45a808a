package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;
import dev.flicker.kvm.Kvm;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host running out of heap in the middle of a system call ends that program, not the host: a JVM with a
 * 64 MiB heap runs a VM whose budget (768 MiB for 3 GiB of memory) and /tmp limit are far larger, so growing a
 * /tmp file throws a real OutOfMemoryError inside the host call; the run ends CRASHED and the next VM runs.
 */
@NeedsKvm
class OutOfMemoryContainmentTest {
    @Test
    void anOutOfMemoryErrorInAHostCallEndsOnlyThatProgram() throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-Xmx64m", "-XX:+UseSerialGC", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Probe.class.getName())
                .redirectErrorStream(true).start();
        boolean ended = p.waitFor(TestTime.scaledMillis(120_000), TimeUnit.MILLISECONDS); // a bound for a hang, far above the few seconds it takes
        if (!ended) p.destroyForcibly();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(ended, out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("first: CRASHED ") && out.contains("OutOfMemoryError"), out);
        assertTrue(out.contains("then: EXITED 0"), out);
    }

    /** Runs in the child JVM. */
    public static final class Probe {
        public static void main(String[] args) {
            Limits huge = new Limits(3072, 60_000, 1 << 20, 2L << 30, 1 << 20);
            try (Kvm kvm = Kvm.open(); MicroVmRunner runner = new MicroVmRunner(kvm); Bundle musl = Programs.bundle("musl")) {
                RunResult first = runner.run(RunRequest.of(musl, "hostile").withArgs("tmp-grow").withLimits(huge));
                System.out.println("first: " + first.outcome() + " " + first.detail());
                RunResult then = runner.run(RunRequest.of(musl, "exit0"));
                System.out.println("then: " + then.outcome() + " " + then.exitStatus());
            }
        }
    }
}
