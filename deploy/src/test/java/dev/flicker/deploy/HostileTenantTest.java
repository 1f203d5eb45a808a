package dev.flicker.deploy;

import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 9's hostile tenant against the packaged platform, held to a 384 MiB heap: while one tenant floods the
 * Runtime API, floods /tmp with entries and spins in its init over and over, another function answers every call,
 * every attack ends by its timeout, every spinning init fails at the init limit, and the platform lives on within
 * its heap. How the victim's latency moves meanwhile is a benchmark ({@code flicker bench hostile}), not an assertion.
 */
@NeedsKvm
class HostileTenantTest {
    static final String HEAP_LIMIT = "-Xmx384m";
    /** Short, so that spinning inits fail often; long enough for the victim's own init where the machine is slow. */
    static final long INIT_TIMEOUT_SECONDS = TestTime.scaled(Duration.ofSeconds(2)).toSeconds();

    @Test
    void aHostileTenantCostsTheOthersNothingAndTheHostOnlyItsLimits(@TempDir Path dataDir) throws Exception {
        int port = PlatformProcess.freePort();
        Process platform = PlatformProcess.start(dataDir, port, List.of(HEAP_LIMIT),
                Map.of("FLICKER_INIT_TIMEOUT_SECONDS", Long.toString(INIT_TIMEOUT_SECONDS)));
        HostileTenants.Outcome o;
        try (PlatformClient client = PlatformProcess.client(port)) {
            o = HostileTenants.run(client, Path.of("../guest-kernel/target/test-programs"), Duration.ofSeconds(5), 1, 20,
                    TestTime.scaled(Duration.ofSeconds(30)));
            assertTrue(platform.isAlive(), "the platform died; its log: " + PlatformProcess.log(port));
        } finally {
            platform.destroy();
            platform.waitFor();
        }
        String summary = "solo " + o.soloMillis().size() + " calls, attacked " + o.attackedMillis().size() + " calls, heap "
                + o.heapBeforeKib() / 1024 + " -> peak " + o.heapPeakKib() / 1024 + " MiB";
        assertEquals(List.of(), o.victimFailures(), "the victim answers every call: " + summary);
        assertFalse(o.soloMillis().isEmpty() || o.attackedMillis().isEmpty(), summary);

        long limitMillis = HostileTenants.ATTACK_TIMEOUT_SECONDS * 1000L + TestTime.scaledMillis(5_000);
        for (String fn : List.of(HostileTenants.FLOOD, HostileTenants.TMP)) {
            assertTrue(o.attacks().stream().anyMatch(a -> a.function().equals(fn)), fn + " ran: " + o.attacks());
        }
        for (HostileTenants.AttackInvocation a : o.attacks()) {
            assertEquals("Sandbox.Timedout", a.errorType(), a.toString());
            assertTrue(a.millis() <= limitMillis, a + " ended more than " + limitMillis + " ms after it started");
        }
        assertFalse(o.initRounds().isEmpty());
        for (HostileTenants.InitRound r : o.initRounds()) {
            assertEquals("Failed", r.state(), r.toString());
            assertTrue(r.reason().contains("did not initialise (in at most " + INIT_TIMEOUT_SECONDS + " s)"), r.reason());
        }
    }
}
