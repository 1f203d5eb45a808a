package dev.flicker.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flicker.deploy.CommandLineTest.Outcome;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static dev.flicker.deploy.CommandLineTest.flicker;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI against the packaged platform running as a process (one for the class): the README's flow, text that
 * round-trips exactly, and the platform's refusals as one line.
 */
@NeedsKvm
class FnCommandTest {
    static final Path BOOTSTRAP = Path.of("../guest-kernel/target/test-programs/c-runtime/bootstrap");
    /** The CLI's own wait for a snapshot, scaled with the machine as every wait of the tests. */
    static final String WAIT_SECONDS = Long.toString(TestTime.scaled(Duration.ofSeconds(60)).toSeconds());
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dataDir;
    @TempDir
    static Path code;
    static int port;
    static Process platform;

    @BeforeAll
    static void startPlatform() throws Exception {
        Files.copy(BOOTSTRAP, code.resolve("bootstrap"));
        port = PlatformProcess.freePort();
        platform = PlatformProcess.start(dataDir, port);
    }

    @AfterAll
    static void stopPlatform() throws InterruptedException {
        if (platform == null) return;
        platform.destroy();
        platform.waitFor();
    }

    /** {@code flicker fn ARGS...} against the platform of this class. */
    static Outcome fn(String... args) {
        return flicker(Map.of("FLICKER_ENDPOINT", "http://localhost:" + port), Stream.concat(Stream.of("fn"), Stream.of(args)).toArray(String[]::new));
    }

    static String uniqueName(String prefix) {
        return prefix + Long.toHexString(System.nanoTime());
    }

    @Test
    void aPythonFunctionFromTheExamplesIsDeployedAndInvokedAsTheReadmeShows() {
        String name = uniqueName("py");
        Outcome created = fn("create", name, "--dir", "../examples/python-hello", "--runtime", "python3.11",
                "--handler", "app.handler", "--wait-seconds", WAIT_SECONDS);
        assertEquals(0, created.status(), created.err());
        assertTrue(created.out().contains("\"Runtime\":\"python3.11\"") && created.out().contains("\"State\":\"Active\""),
                created.out());
        Outcome ok = fn("invoke", name, "--payload", "{\"name\":\"Ada\"}", "--logs");
        assertEquals(0, ok.status(), ok.err());
        assertEquals("{\"greeting\": \"hello, Ada\", \"function\": \"" + name + "\"}\n", ok.out());
        assertTrue(ok.err().contains("[INFO]") && ok.err().contains("greeting Ada"), ok.err());
        assertEquals(0, fn("delete", name).status());
    }

    @Test
    void deployInvokeInspectAndDelete() throws Exception {
        operatorLoginIsPrintedOnceAndWorks(port);
        String name = uniqueName("cli");
        Outcome created = fn("create", name, "--dir", code.toString(), "--memory", "256", "--env", "STAGE=test", "--wait-seconds", WAIT_SECONDS);
        assertEquals(0, created.status(), created.err());
        assertTrue(created.err().contains("uploading " + name), created.err());
        assertTrue(created.out().contains("\"State\":\"Active\"") && created.out().contains("\"MemorySize\":256"), created.out());

        Outcome ok = fn("invoke", name, "--payload", "{\"name\":\"cli\"}");
        assertEquals(0, ok.status(), ok.err());
        assertEquals("{\"greeting\":\"hello, cli\"}\n", ok.out());

        Outcome failed = fn("invoke", name, "--payload", "{}", "--logs");
        assertEquals(1, failed.status());
        assertTrue(failed.err().contains("event without a name"), failed.err());

        Outcome queued = fn("invoke", name, "--async", "--payload", "{\"name\":\"later\"}");
        assertEquals(0, queued.status(), queued.err());
        assertTrue(queued.out().startsWith("queued as "), queued.out());

        assertTrue(fn("list").out().contains("\"FunctionName\":\"" + name + "\""));
        // Invocation records are written in the background.
        TestTime.await("a Success record in fn logs", Duration.ofSeconds(10), () -> fn("logs", name).out().contains("\"status\":\"Success\""));
        Outcome published = fn("publish", name, "--description", "first", "--wait-seconds", WAIT_SECONDS);
        assertEquals(0, published.status(), published.err());
        assertTrue(published.err().contains("published " + name + ":1"), published.err());
        assertTrue(published.out().contains("\"Version\":\"1\"") && published.out().contains("\"State\":\"Active\""), published.out());
        Outcome fromVersion = fn("invoke", name + ":1", "--payload", "{\"name\":\"one\"}", "--logs");
        assertEquals(0, fromVersion.status(), fromVersion.err());
        assertTrue(fromVersion.err().contains(" as " + name + ":1\n"), fromVersion.err());
        assertTrue(fn("versions", name).out().contains("\"Version\":\"1\""));

        assertEquals(0, fn("update", name, "--dir", code.toString(), "--wait-seconds", WAIT_SECONDS).status());
        assertEquals(0, fn("delete", name + ":1").status());
        Outcome versionGone = fn("invoke", name + ":1");
        assertEquals(1, versionGone.status());
        assertTrue(versionGone.oneErrorLine().startsWith("flicker: ResourceNotFoundException: "), versionGone.err());
        assertEquals(0, fn("delete", name).status());
        Outcome gone = fn("invoke", name);
        assertEquals(1, gone.status());
        assertTrue(gone.oneErrorLine().startsWith("flicker: ResourceNotFoundException: "), gone.err());
    }

    /**
     * A newline, quotes, a backslash, a tab and non-ASCII text in --env values and --description come back exactly,
     * from the CLI's own output and from GetFunctionConfiguration through the SDK, for $LATEST and a published version.
     */
    @Test
    void textRoundTripsExactly() throws Exception {
        String name = uniqueName("text");
        Map<String, String> variables = Map.of("GREETING", CommandLineTest.TRICKY, "EQUALS", "a=b=c", "EMPTY", "");
        List<String> args = new ArrayList<>(List.of("create", name, "--dir", code.toString(), "--description", CommandLineTest.TRICKY,
                "--wait-seconds", WAIT_SECONDS));
        variables.forEach((k, v) -> args.addAll(List.of("--env", k + "=" + v)));
        Outcome created = fn(args.toArray(String[]::new));
        assertEquals(0, created.status(), created.err());
        JsonNode printed = JSON.readTree(created.out());
        assertEquals(CommandLineTest.TRICKY, printed.path("Description").asText());
        assertEquals(variables, JSON.convertValue(printed.path("Environment").path("Variables"), Map.class));

        String versionText = "v1: \"quoted\"\n\ttabbed \\ back, ü 日本 😀";
        Outcome published = fn("publish", name, "--description", versionText, "--wait-seconds", WAIT_SECONDS);
        assertEquals(0, published.status(), published.err());
        assertEquals(versionText, JSON.readTree(published.out()).path("Description").asText());

        try (PlatformClient client = PlatformProcess.client(port)) {
            var latest = client.lambda().getFunctionConfiguration(b -> b.functionName(name));
            assertEquals(CommandLineTest.TRICKY, latest.description());
            assertEquals(variables, latest.environment().variables());
            var one = client.lambda().getFunctionConfiguration(b -> b.functionName(name).qualifier("1"));
            assertEquals(versionText, one.description());
            assertEquals(variables, one.environment().variables());
        }
        JsonNode versions = JSON.readTree(fn("versions", name).out()).path("Versions");
        assertEquals(2, versions.size(), versions.toString());
        assertEquals(versionText, versions.get(1).path("Description").asText());
        assertEquals(0, fn("delete", name).status());
    }

    /** The platform's refusals, from the SDK's operations and from /admin alike: one line with Lambda's type, status 1. */
    @Test
    void platformRefusalsAreOneLineWithTheirType() throws Exception {
        Outcome missing = fn("invoke", "nosuch");
        assertEquals(1, missing.status(), missing.toString());
        assertTrue(missing.oneErrorLine().matches("flicker: ResourceNotFoundException: Function not found: arn:aws:lambda:local:\\d+:function:nosuch"),
                missing.err());

        Outcome tooBig = fn("create", uniqueName("big"), "--dir", code.toString(), "--memory", "99999");
        assertEquals(1, tooBig.status(), tooBig.toString());
        assertTrue(tooBig.err().endsWith("\n") && tooBig.err().lines().toList().getLast().startsWith("flicker: InvalidParameterValueException: "),
                tooBig.err());

        Outcome badLimit = fn("logs", "x", "--limit", "5000");
        assertEquals(1, badLimit.status(), badLimit.toString());
        assertTrue(badLimit.oneErrorLine().startsWith("flicker: InvalidParameterValueException: "), badLimit.err());

        Outcome wrongSecret = flicker(Map.of("FLICKER_ENDPOINT", "http://localhost:" + port, "FLICKER_SECRET_ACCESS_KEY", "not-the-secret"),
                "fn", "list");
        assertEquals(1, wrongSecret.status(), wrongSecret.toString());
        assertTrue(wrongSecret.oneErrorLine().startsWith("flicker: InvalidSignatureException: "), wrongSecret.err());
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
}
