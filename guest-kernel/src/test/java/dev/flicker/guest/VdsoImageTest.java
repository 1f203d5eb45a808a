package dev.flicker.guest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vDSO image (src/main/vdso), tested natively on the host by the programs of src/test/c/vdso: its functions
 * against the host's clocks, its seqlock, its fall-back to the system call, and its discovery by glibc's and
 * musl's own vDSO lookup through AT_SYSINFO_EHDR.
 */
class VdsoImageTest {
    static final Path TESTS = Path.of("target/vdso-tests");
    static final Duration LIMIT = Duration.ofSeconds(60);
    /** The CLOCK_REALTIME that vdso_launch's parameter page holds: 2001-09-09T01:46:40Z. */
    static final long FAKE_REALTIME_SEC = 1_000_000_000L;

    static Path image() {
        var url = VdsoImageTest.class.getResource("/dev/flicker/guest/vdso.so");
        if (url == null) throw new IllegalStateException("vdso.so is not on the class path: src/main/vdso/build.sh builds it in generate-resources");
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path program(String name) {
        Path p = TESTS.resolve(name);
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException(p.toAbsolutePath() + " is missing: src/test/c/vdso/build.sh builds it in generate-test-resources");
        }
        return p;
    }

    @Test
    void everyCheckOfVdsoTestPasses() {
        NativeCommand.Result r = NativeCommand.run(LIMIT, List.of(program("vdso_test").toString(), image().toString()));
        assertEquals(0, r.exitStatus(), r::toString);
        List<String> expected = List.of("elf", "no-relocations", "lookup-hash-and-gnu-hash", "plain-names-alias",
                "lookup-respects-versions", "realtime-close-to-host", "monotonic-close-to-host", "boottime-close-to-host",
                "monotonic-raw-close-to-host", "realtime-coarse-close-to-host", "monotonic-coarse-close-to-host",
                "monotonic-over-100000-calls", "gettimeofday", "gettimeofday-null", "time", "time-null", "getcpu",
                "clock_getres", "seqlock-odd-retries", "seqlock-never-tears", "unknown-clock-is-the-syscall",
                "cpu-clock-is-the-syscall", "realtime-makes-no-syscall", "cpu-clock-syscall-proven",
                "unknown-clock-syscall-proven", "clock_getres-unknown-syscall-proven", "clock-outside-mask-is-the-syscall",
                "unknown-layout-version-is-the-syscall", "mode-syscall-is-the-syscall");
        List<String> missing = new ArrayList<>();
        for (String check : expected) {
            if (!r.output().lines().anyMatch(line -> line.equals("ok " + check))) missing.add(check);
        }
        assertTrue(missing.isEmpty(), () -> "checks not passed: " + missing + "\n" + r);
        assertFalse(r.output().contains("FAIL"), r::toString);
        assertTrue(r.output().contains("vdso_test: all checks passed"), r::toString);
    }

    static final Pattern LAUNCHED = Pattern.compile("launch: vdso at (0x[0-9a-f]+)");
    static final Pattern PROBE = Pattern.compile(
            "probe: clock_gettime=(\\d+) gettimeofday=(\\d+) time=(\\d+) monotonic=(\\d+) sysinfo_ehdr=(0x[0-9a-f]+)");

    /**
     * A program started with the image in AT_SYSINFO_EHDR reads the parameter page's fake CLOCK_REALTIME through
     * clock_gettime, gettimeofday and time: its libc found and called this vDSO's functions.
     */
    @ParameterizedTest
    @ValueSource(strings = {"vdso_probe_glibc_dynamic", "vdso_probe_glibc_static", "vdso_probe_musl_static"})
    void libcFindsTheVdsoThroughItsOwnLookup(String probe) {
        List<String> command = new ArrayList<>(List.of(program("vdso_launch").toString(), image().toString()));
        if (probe.endsWith("dynamic")) command.add("/lib64/ld-linux-x86-64.so.2"); // ld.so loads the probe, as in the guest
        command.add(program(probe).toString());
        NativeCommand.Result r = NativeCommand.run(LIMIT, command);
        assertEquals(0, r.exitStatus(), r::toString);
        Matcher launched = LAUNCHED.matcher(r.output());
        Matcher probed = PROBE.matcher(r.output());
        assertTrue(launched.find() && probed.find(), r::toString);
        for (int group = 1; group <= 3; group++) {
            long seconds = Long.parseLong(probed.group(group));
            assertTrue(seconds >= FAKE_REALTIME_SEC && seconds < FAKE_REALTIME_SEC + 600,
                    () -> "the probe's clock did not come from the vDSO's parameter page:\n" + r);
        }
        assertEquals(launched.group(1), probed.group(5), "getauxval(AT_SYSINFO_EHDR) names the image");
    }
}
