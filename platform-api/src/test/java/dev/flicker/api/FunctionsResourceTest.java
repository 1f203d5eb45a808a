package dev.flicker.api;

import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Lambda REST API against real micro VMs: the example C runtime deployed as a zip. */
@QuarkusTest
class FunctionsResourceTest {
    static final Path BOOTSTRAP = Path.of("../guest-kernel/target/test-programs/c-runtime/bootstrap");
    static String zipBase64;

    @BeforeAll
    static void zip() throws IOException {
        if (zipBase64 != null) return; // once per JVM: a second SigV4Filter would sign the signature headers
        io.restassured.RestAssured.filters(new SigV4Filter());
        zipBase64 = Base64.getEncoder().encodeToString(zipOf("bootstrap", Files.readAllBytes(BOOTSTRAP)));
    }

    static byte[] zipOf(String name, byte[] content) throws IOException {
        return zipOf(Map.of(name, content));
    }

    /** A zip of these entries, in name order. */
    static byte[] zipOf(Map<String, byte[]> entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            for (var e : new java.util.TreeMap<>(entries).entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    static String createBody(String name, String runtime, int memory, String zip) {
        return "{\"FunctionName\":\"" + name + "\",\"Runtime\":\"" + runtime + "\",\"Handler\":\"handler\",\"MemorySize\":"
                + memory + ",\"Timeout\":3,\"Role\":\"arn:aws:iam::000000000000:role/ignored\",\"Code\":{\"ZipFile\":\"" + zip
                + "\"},\"Environment\":{\"Variables\":{\"GREETING\":\"hi\"}}}";
    }

    static void createActive(String name) throws InterruptedException {
        createActive(name, Base64.getDecoder().decode(zipBase64));
    }

    static void createActive(String name, byte[] zip) throws InterruptedException {
        given().contentType(ContentType.JSON).body(createBody(name, "provided.al2023", 128, Base64.getEncoder().encodeToString(zip)))
                .post("/2015-03-31/functions").then().statusCode(201)
                .body("FunctionName", equalTo(name)).body("State", equalTo("Pending"))
                .body("FunctionArn", equalTo("arn:aws:lambda:local:000000000000:function:" + name));
        assertEquals("Active", awaitStateSettled(name));
    }

    @NeedsKvm
    @Test
    void createInvokeAndDelete() throws InterruptedException {
        createActive("hello");
        Response r = given().header("X-Amz-Log-Type", "Tail").body("{\"name\":\"Flicker\"}")
                .post("/2015-03-31/functions/hello/invocations");
        r.then().statusCode(200).header("X-Amz-Executed-Version", "$LATEST");
        assertEquals("{\"greeting\":\"hello, Flicker\"}", r.asString());
        assertTrue(r.header("X-Amz-Function-Error") == null);
        assertTrue(r.header("X-Amz-Log-Result") != null);

        Response bad = given().body("{}").post("/2015-03-31/functions/hello/invocations");
        bad.then().statusCode(200).header("X-Amz-Function-Error", "Unhandled").body(containsString("MissingName"));
        String logs = new String(Base64.getDecoder().decode(
                given().header("X-Amz-Log-Type", "Tail").body("{}").post("/2015-03-31/functions/hello/invocations")
                        .header("X-Amz-Log-Result")), StandardCharsets.UTF_8);
        assertTrue(logs.contains("event without a name"), logs);

        given().header("X-Amz-Invocation-Type", "DryRun").post("/2015-03-31/functions/hello/invocations").then().statusCode(204);
        given().get("/2015-03-31/functions/hello/configuration").then().statusCode(200)
                .body("MemorySize", equalTo(128)).body("Timeout", equalTo(3)).body("Environment.Variables.GREETING", equalTo("hi"));
        given().get("/2015-03-31/functions").then().statusCode(200).body("Functions.FunctionName", hasItem("hello"));
        given().delete("/2015-03-31/functions/hello").then().statusCode(204);
        given().get("/2015-03-31/functions/hello").then().statusCode(404)
                .header("X-Amzn-ErrorType", "ResourceNotFoundException").body("message", containsString("hello"));
    }

    @Test
    void badInputGetsLambdaErrorsNeverA500() throws IOException {
        String invalid = "InvalidParameterValueException";
        given().contentType(ContentType.JSON).body("{not json").post("/2015-03-31/functions").then().statusCode(400)
                .header("X-Amzn-ErrorType", invalid);
        given().contentType(ContentType.JSON).body(createBody("b64", "provided", 128, "***not base64***"))
                .post("/2015-03-31/functions").then().statusCode(400).body("message", containsString("base64"));
        String noBootstrap = Base64.getEncoder().encodeToString(zipOf("handler.sh", "echo".getBytes()));
        given().contentType(ContentType.JSON).body(createBody("nobootstrap", "provided", 128, noBootstrap))
                .post("/2015-03-31/functions").then().statusCode(400).body("message", containsString("bootstrap"));
        given().contentType(ContentType.JSON).body(createBody("notzip", "provided", 128,
                Base64.getEncoder().encodeToString("plain text".getBytes()))).post("/2015-03-31/functions").then().statusCode(400);
        given().contentType(ContentType.JSON).body(createBody("py", "python3.12", 128, zipBase64))
                .post("/2015-03-31/functions").then().statusCode(400).body("message", containsString("python3.12"));
        given().contentType(ContentType.JSON).body(createBody("neg", "provided", -5, zipBase64))
                .post("/2015-03-31/functions").then().statusCode(400).body("message", containsString("MemorySize"));
        given().contentType(ContentType.JSON).body(createBody("bad name!", "provided", 128, zipBase64))
                .post("/2015-03-31/functions").then().statusCode(400).body("message", containsString("FunctionName"));
        String slip = Base64.getEncoder().encodeToString(zipOf("../../escape", "x".getBytes()));
        given().contentType(ContentType.JSON).body(createBody("slip", "provided", 128, slip))
                .post("/2015-03-31/functions").then().statusCode(400).body("message", containsString("outside"));
        given().body("{}").post("/2015-03-31/functions/nobody/invocations").then().statusCode(404)
                .header("X-Amzn-ErrorType", "ResourceNotFoundException");
        given().body(new byte[FunctionsResource.MAX_SYNC_PAYLOAD + 1]).post("/2015-03-31/functions/nobody/invocations")
                .then().statusCode(413).header("X-Amzn-ErrorType", "RequestTooLargeException");
        given().header("X-Amz-Invocation-Type", "Sometimes").body("{}").post("/2015-03-31/functions/nobody/invocations")
                .then().statusCode(400);
        given().get("/2015-03-31/functions?MaxItems=0").then().statusCode(400);
    }

    @NeedsKvm
    @Test
    void controlCharactersAreRefusedWhereTheyEnter() {
        // Each gave a 500 that echoed SQL: PostgreSQL refuses NUL in text.
        for (String path : List.of("/2015-03-31/functions?Marker=%00", "/admin/invocations?function=%00",
                "/admin/dead-letters?function=%00", "/admin/async/%00", "/2015-03-31/functions/fn?Qualifier=%00",
                "/2015-03-31/functions/fn%3A%00", "/2015-03-31/functions?MaxItems=abc", "/admin/invocations?limit=ten",
                "/admin/invocations?offset=-1", "/2015-03-31/functions/fn/versions?MaxItems=1x")) {
            given().urlEncodingEnabled(false).get(path).then().statusCode(400)
                    .header("X-Amzn-ErrorType", "InvalidParameterValueException");
        }
        String ok = createBody("ctl", "provided", 128, zipBase64);
        for (String bad : List.of(ok.replace("\"Handler\":\"handler\"", "\"Handler\":\"h\\u0000\""),
                ok.replace("\"Handler\":\"handler\"", "\"Handler\":\"two words\""),
                ok.replace("\"Handler\":\"handler\"", "\"Handler\":\"handler\",\"Description\":\"a\\u0000b\""),
                ok.replace("\"GREETING\":\"hi\"", "\"GREETING\":\"h\\u0000i\""),
                ok.replace("\"GREETING\":\"hi\"", "\"GREETING\":null"))) {
            given().contentType(ContentType.JSON).body(bad).post("/2015-03-31/functions").then().statusCode(400)
                    .header("X-Amzn-ErrorType", "InvalidParameterValueException");
        }
        given().contentType(ContentType.JSON).body("{\"Description\":\"\\u0000\"}").put("/2015-03-31/functions/ctl/configuration")
                .then().statusCode(400);
        given().contentType(ContentType.JSON).body("{\"Description\":\"\\u001b[31m\"}").post("/2015-03-31/functions/ctl/versions")
                .then().statusCode(400);
        given().header("X-Amz-Log-Type", "Everything").body("{}").post("/2015-03-31/functions/ctl/invocations").then().statusCode(400);
        given().get("/2015-03-31/functions/ctl").then().statusCode(404); // none of them created it
    }

    @Test
    void aBodyThatIsNotAJsonObjectIsA400() {
        // "null" gave a NullPointerException (500) in UpdateFunctionCode and PublishVersion.
        for (String body : List.of("null", "[]", "\"text\"", "1", "true")) {
            for (var call : List.of(List.of("POST", "/2015-03-31/functions"), List.of("PUT", "/2015-03-31/functions/fn/code"),
                    List.of("PUT", "/2015-03-31/functions/fn/configuration"), List.of("POST", "/2015-03-31/functions/fn/versions"),
                    List.of("PUT", "/2017-10-31/functions/fn/concurrency"), List.of("PUT", "/2019-09-25/functions/fn/event-invoke-config"))) {
                given().contentType(ContentType.JSON).body(body).request(call.get(0), call.get(1)).then().statusCode(400)
                        .header("X-Amzn-ErrorType", "InvalidParameterValueException");
            }
        }
    }

    @Test
    void anUnexpectedFailureIsLoggedNotEchoed() {
        jakarta.ws.rs.core.Response r = new ErrorMapper().toResponse(
                new IllegalStateException("ERROR: relation \"functions\" at /root/.local/share/flicker/code/abc"));
        assertEquals(500, r.getStatus());
        String message = r.getEntity().toString();
        assertTrue(!message.contains("functions") && !message.contains("/root"), message);
        assertTrue(message.matches(".*internal error [0-9a-f-]{36} .*"), message);
    }

    @NeedsKvm
    @Test
    void reservedConcurrencyThrottlesAndInvocationsAreRecorded() throws Exception {
        createActive("limited");
        given().contentType(ContentType.JSON).body("{\"ReservedConcurrentExecutions\":0}")
                .put("/2017-10-31/functions/limited/concurrency").then().statusCode(200)
                .body("ReservedConcurrentExecutions", equalTo(0));
        given().get("/2019-09-30/functions/limited/concurrency").then().statusCode(200)
                .body("ReservedConcurrentExecutions", equalTo(0));
        given().body("{\"name\":\"x\"}").post("/2015-03-31/functions/limited/invocations").then().statusCode(429)
                .header("X-Amzn-ErrorType", "TooManyRequestsException")
                .body("Reason", equalTo("ReservedFunctionConcurrentInvocationLimitExceeded"));
        given().contentType(ContentType.JSON).body("{\"ReservedConcurrentExecutions\":100000}")
                .put("/2017-10-31/functions/limited/concurrency").then().statusCode(400);
        given().delete("/2017-10-31/functions/limited/concurrency").then().statusCode(204);

        String requestId = given().body("{\"name\":\"recorded\"}").post("/2015-03-31/functions/limited/invocations")
                .then().statusCode(200).extract().header("X-Amzn-RequestId");
        given().body("{}").post("/2015-03-31/functions/limited/invocations").then().statusCode(200);
        io.quarkus.arc.Arc.container().instance(Invocations.class).get().flush();
        given().get("/admin/invocations?function=limited").then().statusCode(200)
                .body("requestId", hasItem(requestId)).body("status", hasItem("Success")).body("status", hasItem("Error"));
        given().get("/admin/invocations?function=limited&status=Error").then().statusCode(200)
                .body("errorType", hasItem("Unhandled")).body("logs", hasItem(containsString("event without a name")));
        given().get("/admin/invocations?limit=0").then().statusCode(400);
        given().delete("/2015-03-31/functions/limited").then().statusCode(204);
    }

    /**
     * The state a function settles in after {@code Pending}: {@code Active} once its snapshot is taken. {@code name}
     * may carry a query ({@code name?Qualifier=1}).
     */
    static String awaitStateSettled(String name) {
        return TestTime.await(name + " to leave Pending", Duration.ofSeconds(30), () -> {
            String state = DashboardTest.signed().get("/2015-03-31/functions/" + name).then().statusCode(200).extract().path("Configuration.State");
            return state.equals("Pending") ? null : state;
        });
    }

    static String awaitAsync(String requestId, String wanted) {
        return TestTime.await("Event invocation " + requestId + " to be " + wanted, Duration.ofSeconds(15), () -> {
            String status = DashboardTest.operator().get("/admin/async/" + requestId).then().statusCode(200).extract().path("status");
            return status.equals(wanted) ? status : null;
        });
    }

    @NeedsKvm
    @Test
    void eventInvocationsAreDurableRetriedAndDeadLettered() throws Exception {
        createActive("async");
        String ok = given().header("X-Amz-Invocation-Type", "Event").body("{\"name\":\"later\"}")
                .post("/2015-03-31/functions/async/invocations").then().statusCode(202).extract().header("X-Amzn-RequestId");
        assertEquals("Succeeded", awaitAsync(ok, "Succeeded"));

        given().contentType(ContentType.JSON).body("{\"MaximumRetryAttempts\":1}")
                .put("/2019-09-25/functions/async/event-invoke-config").then().statusCode(200)
                .body("MaximumRetryAttempts", equalTo(1));
        String failing = given().header("X-Amz-Invocation-Type", "Event").body("{}")
                .post("/2015-03-31/functions/async/invocations").then().statusCode(202).extract().header("X-Amzn-RequestId");
        assertEquals("DeadLettered", awaitAsync(failing, "DeadLettered"));
        given().get("/admin/async/" + failing).then().body("attempts", equalTo(2));
        given().get("/admin/dead-letters?function=async").then().statusCode(200)
                .body("requestId", hasItem(failing)).body("error", hasItem(containsString("MissingName")));

        given().header("X-Amz-Invocation-Type", "Event").body(new byte[AsyncQueue.MAX_ASYNC_PAYLOAD + 1])
                .post("/2015-03-31/functions/async/invocations").then().statusCode(413);
        given().header("X-Amz-Invocation-Type", "Event").body("{}")
                .post("/2015-03-31/functions/nobody/invocations").then().statusCode(404);
        given().get("/admin/async/no-such-id").then().statusCode(404);
        given().delete("/2015-03-31/functions/async").then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void aHandlerPastItsTimeoutIsKilledWithLambdasError() throws Exception {
        String hang = Base64.getEncoder().encodeToString(zipOf("bootstrap",
                Files.readAllBytes(Path.of("../guest-kernel/target/test-programs/hang-runtime/bootstrap"))));
        given().contentType(ContentType.JSON).body(createBody("hang", "provided", 128, hang).replace("\"Timeout\":3", "\"Timeout\":1"))
                .post("/2015-03-31/functions").then().statusCode(201);
        assertEquals("Active", awaitStateSettled("hang"));
        long t0 = System.nanoTime();
        given().body("{}").post("/2015-03-31/functions/hang/invocations").then().statusCode(200)
                .header("X-Amz-Function-Error", "Unhandled")
                .body("errorMessage", equalTo("Task timed out after 1.00 seconds")).body("errorType", equalTo("Sandbox.Timedout"));
        long tookMillis = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(tookMillis >= 1000, "answered after " + tookMillis + " ms");
        given().delete("/2015-03-31/functions/hang").then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void listFunctionsPagesWithMarkerAndMaxItems() throws InterruptedException {
        for (String name : List.of("page-a", "page-b", "page-c")) createActive(name);
        List<String> seen = new ArrayList<>();
        String marker = null;
        for (int pages = 0; pages < 100; pages++) {
            var page = given().get("/2015-03-31/functions?MaxItems=2" + (marker == null ? "" : "&Marker=" + marker))
                    .then().statusCode(200).extract();
            List<String> names = page.path("Functions.FunctionName");
            assertTrue(names.size() <= 2, names::toString);
            seen.addAll(names);
            marker = page.path("NextMarker");
            if (marker == null) break;
        }
        assertEquals(seen.stream().distinct().sorted().toList(), seen, "pages overlap or are out of order");
        assertTrue(seen.containsAll(List.of("page-a", "page-b", "page-c")), seen::toString);
        given().get("/2019-09-25/functions/page-a/event-invoke-config").then().statusCode(200)
                .body("MaximumRetryAttempts", equalTo(2)).body("FunctionArn", containsString(":function:page-a"));
        for (String name : List.of("page-a", "page-b", "page-c")) given().delete("/2015-03-31/functions/" + name).then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void aSignedZipOfSevenMegabytesIsDeployed() throws Exception {
        // The signature check once read only the first 8 MB of a body, so a zip of 7 MB (9.4 MB in base64) could
        // not be signed. Random bytes, so that the zip is as large as its data.
        byte[] data = new byte[7 << 20];
        new java.util.Random(7).nextBytes(data);
        String zip = Base64.getEncoder().encodeToString(zipOf(Map.of("bootstrap", Files.readAllBytes(BOOTSTRAP), "data.bin", data)));
        assertTrue(zip.length() > 9_000_000, "base64 of the zip: " + zip.length());
        given().contentType(ContentType.JSON).body(createBody("seven-mb", "provided", 128, zip)).post("/2015-03-31/functions")
                .then().statusCode(201).body("CodeSize", org.hamcrest.Matchers.greaterThan(7 << 20));
        assertEquals("Active", awaitStateSettled("seven-mb"));
        given().body("{\"name\":\"big\"}").post("/2015-03-31/functions/seven-mb/invocations").then().statusCode(200)
                .body("greeting", equalTo("hello, big"));
        given().delete("/2015-03-31/functions/seven-mb").then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void duplicateNamesConflict() throws InterruptedException {
        createActive("twice");
        given().contentType(ContentType.JSON).body(createBody("twice", "provided", 128, zipBase64))
                .post("/2015-03-31/functions").then().statusCode(409).header("X-Amzn-ErrorType", "ResourceConflictException");
        given().delete("/2015-03-31/functions/twice").then().statusCode(204);
    }
}
