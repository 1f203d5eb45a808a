package dev.flicker.deploy;

import dev.flicker.api.SigV4;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged platform as a process: 500 Event invocations are accepted, the process is killed with SIGKILL
 * while they run, and after a restart every accepted invocation completes (none lost), and an invocation
 * whose success was recorded never runs again.
 */
class AsyncDurabilityTest {
    static final Path PLATFORM = Path.of("../platform-api/target/quarkus-app/quarkus-run.jar");
    static final Path BOOTSTRAP = Path.of("../guest-kernel/target/test-programs/c-runtime/bootstrap");
    static final HttpClient HTTP = HttpClient.newHttpClient();

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static Process start(Path dataDir, int port) throws Exception {
        if (!Files.isRegularFile(PLATFORM)) throw new IllegalStateException(PLATFORM.toAbsolutePath() + " is missing: build platform-api first");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", PLATFORM.toString());
        Map<String, String> env = pb.environment();
        env.put("FLICKER_PORT", Integer.toString(port));
        env.put("FLICKER_DATA_DIR", dataDir.toString());
        env.put("FLICKER_DB_URL", "postgresql://localhost:5432/flicker_it");
        env.put("FLICKER_ASYNC_WORKERS", "1");
        env.put("FLICKER_ASYNC_BACKOFF_MILLIS", "50");
        Path log = Path.of("target", "platform-" + System.nanoTime() + ".log");
        Files.createDirectories(log.getParent());
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        Process p = pb.start();
        for (int i = 0; i < 300; i++) {
            try {
                if (get(port, "/2015-03-31/functions").statusCode() == 200) return p;
            } catch (IOException e) {
                // not listening yet
            }
            if (!p.isAlive()) throw new IllegalStateException("the platform exited with " + p.exitValue());
            Thread.sleep(100);
        }
        throw new IllegalStateException("the platform did not start on port " + port);
    }

    static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A POST signed with SigV4 and the platform's default credentials, as every mutating call must be. */
    static HttpResponse<String> post(int port, String path, String body, String invocationType) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
        if (invocationType != null) b.header("X-Amz-Invocation-Type", invocationType);
        SigV4.sign(new SigV4.Request("POST", path, null, Map.of("Host", "localhost:" + port),
                body.getBytes(java.nio.charset.StandardCharsets.UTF_8)), "flicker", "flicker-local-secret", "local",
                java.time.Instant.now()).forEach(b::header);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void acceptedEventInvocationsSurviveSigkill(@TempDir Path dataDir) throws Exception {
        int port = freePort();
        Process platform = start(dataDir, port);
        List<String> accepted = new ArrayList<>();
        try {
            ByteArrayOutputStream zip = new ByteArrayOutputStream();
            try (ZipOutputStream z = new ZipOutputStream(zip)) {
                z.putNextEntry(new ZipEntry("bootstrap"));
                z.write(Files.readAllBytes(BOOTSTRAP));
            }
            String fn = "durable" + Long.toHexString(System.nanoTime());
            HttpResponse<String> created = post(port, "/2015-03-31/functions", "{\"FunctionName\":\"" + fn
                    + "\",\"Runtime\":\"provided\",\"Handler\":\"h\",\"Code\":{\"ZipFile\":\""
                    + Base64.getEncoder().encodeToString(zip.toByteArray()) + "\"}}", null);
            assertEquals(201, created.statusCode(), created.body());
            for (int i = 0; i < 300 && !get(port, "/2015-03-31/functions/" + fn).body().contains("\"State\":\"Active\""); i++) {
                Thread.sleep(100);
            }
            for (int i = 0; i < 500; i++) {
                HttpResponse<String> r = post(port, "/2015-03-31/functions/" + fn + "/invocations", "{\"name\":\"n" + i + "\"}", "Event");
                assertEquals(202, r.statusCode(), r.body());
                accepted.add(r.headers().firstValue("X-Amzn-RequestId").orElseThrow());
            }
        } finally {
            platform.destroyForcibly().waitFor(); // SIGKILL: no shutdown hooks, no clean stop
        }

        Process again = start(dataDir, port);
        try {
            Pattern status = Pattern.compile("\"status\":\"(\\w+)\".*\"attempts\":(\\d+)");
            int succeeded = 0, ranAgain = 0;
            for (String id : accepted) {
                String state = "";
                int attempts = 0;
                for (int i = 0; i < 600; i++) {
                    HttpResponse<String> r = get(port, "/admin/async/" + id);
                    assertEquals(200, r.statusCode(), "accepted invocation " + id + " is lost: " + r.body());
                    Matcher m = status.matcher(r.body());
                    assertTrue(m.find(), r.body());
                    state = m.group(1);
                    attempts = Integer.parseInt(m.group(2));
                    if (state.equals("Succeeded") || state.equals("DeadLettered")) break;
                    Thread.sleep(50);
                }
                assertEquals("Succeeded", state, "invocation " + id);
                succeeded++;
                if (attempts > 1) ranAgain++;
            }
            assertEquals(500, succeeded);
            // At least once: only an invocation that was running when the process died may have run twice.
            assertTrue(ranAgain <= 1, ranAgain + " invocations ran more than once");
        } finally {
            again.destroy();
            again.waitFor();
        }
    }
}
