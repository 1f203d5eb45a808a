package dev.flicker.deploy;

import dev.flicker.api.SigV4;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged platform as a process: 500 Event invocations are accepted, the process is killed with SIGKILL
 * while they run, and after a restart every accepted invocation completes (none lost), and an invocation
 * whose success was recorded never runs again.
 */
@NeedsKvm
class AsyncDurabilityTest {
    static final Path BOOTSTRAP = Path.of("../guest-kernel/target/test-programs/c-runtime/bootstrap");

    @Test
    void acceptedEventInvocationsSurviveSigkill(@TempDir Path dataDir) throws Exception {
        int port = PlatformProcess.freePort();
        Process platform = PlatformProcess.start(dataDir, port);
        List<String> accepted = new ArrayList<>();
        try {
            byte[] zip = FnCommand.zipDirectory(BOOTSTRAP.getParent());
            String fn = "durable" + Long.toHexString(System.nanoTime());
            HttpResponse<String> created = PlatformProcess.post(port, "/2015-03-31/functions", "{\"FunctionName\":\"" + fn
                    + "\",\"Runtime\":\"provided\",\"Handler\":\"h\",\"Code\":{\"ZipFile\":\""
                    + Base64.getEncoder().encodeToString(zip) + "\"}}", null);
            assertEquals(201, created.statusCode(), created.body());
            PlatformProcess.awaitActive(port, fn);
            for (int i = 0; i < 500; i++) {
                HttpResponse<String> r = PlatformProcess.post(port, "/2015-03-31/functions/" + fn + "/invocations", "{\"name\":\"n" + i + "\"}", "Event");
                assertEquals(202, r.statusCode(), r.body());
                accepted.add(r.headers().firstValue("X-Amzn-RequestId").orElseThrow());
            }
        } finally {
            platform.destroyForcibly().waitFor(); // SIGKILL: no shutdown hooks, no clean stop
        }

        Process again = PlatformProcess.start(dataDir, port);
        try {
            Pattern status = Pattern.compile("\"status\":\"(\\w+)\".*\"attempts\":(\\d+)");
            int succeeded = 0, ranAgain = 0;
            for (String id : accepted) {
                Matcher m = TestTime.await("invocation " + id + " to finish", Duration.ofSeconds(30), () -> {
                    HttpResponse<String> r = getUnchecked(port, "/admin/async/" + id);
                    assertEquals(200, r.statusCode(), "accepted invocation " + id + " is lost: " + r.body());
                    Matcher found = status.matcher(r.body());
                    assertTrue(found.find(), r.body());
                    return found.group(1).equals("Succeeded") || found.group(1).equals("DeadLettered") ? found : null;
                });
                assertEquals("Succeeded", m.group(1), "invocation " + id);
                succeeded++;
                if (Integer.parseInt(m.group(2)) > 1) ranAgain++;
            }
            assertEquals(500, succeeded);
            // At least once: only an invocation that was running when the process died may have run twice.
            assertTrue(ranAgain <= 1, ranAgain + " invocations ran more than once");
        } finally {
            again.destroy();
            again.waitFor();
        }
    }

    private static HttpResponse<String> getUnchecked(int port, String path) {
        try {
            return PlatformProcess.get(port, path);
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException("GET " + path, e);
        }
    }
}
