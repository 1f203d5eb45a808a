package dev.flicker.deploy;

import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI against the packaged platform running as a process. */
class FnCommandTest {
    record Outcome(int status, String out, String err) {}

    static Outcome fn(int port, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = new FnCommand(Map.of("FLICKER_ENDPOINT", "http://localhost:" + port),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).run(args);
        return new Outcome(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @NeedsKvm
    @Test
    void deployInvokeInspectAndDelete(@TempDir Path dataDir, @TempDir Path code) throws Exception {
        Files.copy(Path.of("../guest-kernel/target/test-programs/c-runtime/bootstrap"), code.resolve("bootstrap"));
        int port = PlatformProcess.freePort();
        Process platform = PlatformProcess.start(dataDir, port);
        try {
            operatorLoginIsPrintedOnceAndWorks(port);
            String name = "cli" + Long.toHexString(System.nanoTime());
            Outcome created = fn(port, "create", name, "--dir", code.toString(), "--memory", "256", "--env", "STAGE=test");
            assertEquals(0, created.status(), created.err());
            assertTrue(created.err().contains("uploading " + name), created.err());
            assertTrue(created.out().contains("\"State\":\"Active\"") && created.out().contains("\"MemorySize\":256"), created.out());

            Outcome ok = fn(port, "invoke", name, "--payload", "{\"name\":\"cli\"}");
            assertEquals(0, ok.status(), ok.err());
            assertEquals("{\"greeting\":\"hello, cli\"}\n", ok.out());

            Outcome failed = fn(port, "invoke", name, "--payload", "{}", "--logs");
            assertEquals(1, failed.status());
            assertTrue(failed.err().contains("event without a name"), failed.err());

            Outcome queued = fn(port, "invoke", name, "--async", "--payload", "{\"name\":\"later\"}");
            assertEquals(0, queued.status(), queued.err());
            assertTrue(queued.out().startsWith("queued as "), queued.out());

            assertTrue(fn(port, "list").out().contains("\"FunctionName\":\"" + name + "\""));
            // Invocation records are written in the background.
            TestTime.await("a Success record in fn logs", Duration.ofSeconds(10), () -> {
                try {
                    return fn(port, "logs", name).out().contains("\"status\":\"Success\"");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Outcome published = fn(port, "publish", name, "--description", "first");
            assertEquals(0, published.status(), published.err());
            assertTrue(published.err().contains("published " + name + ":1"), published.err());
            assertTrue(published.out().contains("\"Version\":\"1\"") && published.out().contains("\"State\":\"Active\""), published.out());
            Outcome fromVersion = fn(port, "invoke", name + ":1", "--payload", "{\"name\":\"one\"}", "--logs");
            assertEquals(0, fromVersion.status(), fromVersion.err());
            assertTrue(fromVersion.err().contains(" as " + name + ":1\n"), fromVersion.err());
            assertTrue(fn(port, "versions", name).out().contains("\"Version\":\"1\""));

            assertEquals(0, fn(port, "update", name, "--dir", code.toString()).status());
            assertEquals(0, fn(port, "delete", name + ":1").status());
            Outcome versionGone = fn(port, "invoke", name + ":1");
            assertEquals(1, versionGone.status());
            assertTrue(versionGone.err().contains("ResourceNotFoundException"), versionGone.err());
            assertEquals(0, fn(port, "delete", name).status());
            Outcome gone = fn(port, "invoke", name);
            assertEquals(1, gone.status());
            assertTrue(gone.err().contains("ResourceNotFoundException"), gone.err());
        } finally {
            platform.destroy();
            platform.waitFor();
        }
    }

    /**
     * The platform prints the dashboard's login URL with the admin token once when it starts (what {@code ./flicker
     * up} shows): the URL sets the dashboard's cookie, the token opens {@code /admin}, which refuses a caller without.
     */
    static void operatorLoginIsPrintedOnceAndWorks(int port) throws Exception {
        Pattern printed = Pattern.compile("operator dashboard: (http://localhost:" + port + "/dashboard/login\\?token=([A-Za-z0-9_-]{40,}))");
        String output = TestTime.await("the login URL in the platform's output", Duration.ofSeconds(5), () -> {
            try {
                String now = Files.readString(PlatformProcess.log(port));
                return printed.matcher(now).find() ? now : null;
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Matcher m = printed.matcher(output);
        assertTrue(m.find(), "no login URL in the platform's output:\n" + output);
        String url = m.group(1), token = m.group(2);
        assertFalse(m.find(), "the login URL is printed more than once");

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> login = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(303, login.statusCode());
        String cookie = login.headers().firstValue("Set-Cookie").orElseThrow();
        assertTrue(cookie.contains(token) && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), cookie);
        URI overview = URI.create("http://localhost:" + port + "/admin/overview");
        assertEquals(401, http.send(HttpRequest.newBuilder(overview).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(200, http.send(HttpRequest.newBuilder(overview).header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
    }

    @Test
    void mistakesAreExplained(@TempDir Path empty) throws Exception {
        assertEquals(2, fn(1, "frobnicate").status());
        Outcome badName = fn(1, "delete", "no spaces allowed");
        assertEquals(2, badName.status());
        assertTrue(badName.err().contains("is not a function name"), badName.err());
        Outcome badVersion = fn(1, "invoke", "fn:prod");
        assertEquals(2, badVersion.status());
        assertTrue(badVersion.err().contains("'prod' is not a version number"), badVersion.err());
        Outcome noBootstrap = fn(1, "create", "x", "--dir", empty.toString());
        assertEquals(2, noBootstrap.status());
        assertTrue(noBootstrap.err().contains("has no 'bootstrap'"), noBootstrap.err());
        Outcome unreachable = fn(PlatformProcess.freePort(), "list"); // nothing listens there
        assertEquals(1, unreachable.status());
        assertTrue(unreachable.err().contains("cannot reach the platform"), unreachable.err());
    }
}
