package dev.flicker.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code GET /admin/overview} against real micro VMs, and the dashboard page that draws it. */
@QuarkusTest
class DashboardTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * A signed request. FunctionsResourceTest registers SigV4Filter for every request once it has run; signing
     * twice would send two Authorization headers, so this signs only when that has not happened.
     */
    static RequestSpecification signed() {
        RequestSpecification spec = given();
        return RestAssured.filters().stream().anyMatch(f -> f instanceof SigV4Filter) ? spec : spec.filter(new SigV4Filter());
    }

    static void createActive(String name, Path bootstrap, int timeoutSeconds) throws Exception {
        String zip = Base64.getEncoder().encodeToString(FunctionsResourceTest.zipOf("bootstrap", Files.readAllBytes(bootstrap)));
        signed().contentType(ContentType.JSON)
                .body(FunctionsResourceTest.createBody(name, "provided.al2023", 128, zip).replace("\"Timeout\":3", "\"Timeout\":" + timeoutSeconds))
                .post("/2015-03-31/functions").then().statusCode(201);
        assertEquals("Active", FunctionsResourceTest.awaitStateSettled(name));
    }

    static JsonNode overviewUnchecked() {
        try {
            return overview();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** A request of the logged-in dashboard: the admin cookie that the login URL sets. */
    static RequestSpecification operator() {
        return given().cookie(AdminAuth.COOKIE, AccessTest.token());
    }

    static JsonNode overview() throws Exception {
        String body = operator().get("/admin/overview").then().statusCode(200).contentType(ContentType.JSON).extract().asString();
        return JSON.readTree(body);
    }

    static JsonNode function(JsonNode overview, String name) {
        for (JsonNode f : overview.get("functions")) if (f.get("name").asText().equals(name)) return f;
        throw new AssertionError("the overview does not list " + name + ": " + overview.get("functions"));
    }

    static long queueTotal(JsonNode async) {
        return async.get("queued").asLong() + async.get("running").asLong() + async.get("succeeded").asLong()
                + async.get("deadLettered").asLong();
    }

    /** PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks. */
    static double percentileCont(List<Double> sorted, double fraction) {
        double position = fraction * (sorted.size() - 1);
        int below = (int) Math.floor(position), above = (int) Math.ceil(position);
        return sorted.get(below) + (position - below) * (sorted.get(above) - sorted.get(below));
    }

    @NeedsKvm
    @Test
    void overviewCountsInvocationsErrorsStartPathsPoolAndQueue() throws Exception {
        String name = "dash";
        createActive(name, FunctionsResourceTest.BOOTSTRAP, 3);
        List<String> syncIds = new ArrayList<>();
        for (String payload : List.of("{\"name\":\"a\"}", "{\"name\":\"b\"}", "{\"name\":\"c\"}", "{}")) {
            Response r = signed().body(payload).post("/2015-03-31/functions/" + name + "/invocations");
            r.then().statusCode(200);
            syncIds.add(r.header("X-Amzn-RequestId"));
        }

        // Event invocations of earlier tests may still be running or waiting for a retry; only rows that stop
        // moving between statuses make the counts below exact.
        JsonNode before = TestTime.await("the Event queue to drain", Duration.ofSeconds(60), () -> {
            JsonNode async = overviewUnchecked().get("async");
            return async.get("queued").asLong() + async.get("running").asLong() == 0 ? async : null;
        });
        signed().contentType(ContentType.JSON).body("{\"MaximumRetryAttempts\":0}")
                .put("/2019-09-25/functions/" + name + "/event-invoke-config").then().statusCode(200);
        String succeeds = signed().header("X-Amz-Invocation-Type", "Event").body("{\"name\":\"later\"}")
                .post("/2015-03-31/functions/" + name + "/invocations").then().statusCode(202).extract().header("X-Amzn-RequestId");
        String fails = signed().header("X-Amz-Invocation-Type", "Event").body("{}")
                .post("/2015-03-31/functions/" + name + "/invocations").then().statusCode(202).extract().header("X-Amzn-RequestId");
        assertEquals("Succeeded", FunctionsResourceTest.awaitAsync(succeeds, "Succeeded"));
        assertEquals("DeadLettered", FunctionsResourceTest.awaitAsync(fails, "DeadLettered"));
        io.quarkus.arc.Arc.container().instance(Invocations.class).get().flush();

        JsonNode o = overview();
        assertEquals(Overview.WINDOW_SECONDS, o.get("windowSeconds").asInt());
        assertTrue(o.hasNonNull("generatedAt"));
        assertEquals(64, o.at("/concurrency/limit").asInt(), "the configured flicker.max-concurrency");
        assertTrue(o.at("/concurrency/inFlight").asInt() >= 0);

        // Four synchronous invocations (one without a name: a function error) and two Event ones (one fails once,
        // with no retries), each recorded once.
        JsonNode f = function(o, name);
        assertEquals("Active", f.get("state").asText());
        assertTrue(f.get("stateReason").isNull());
        assertEquals(128, f.get("memoryMb").asInt());
        assertEquals(3, f.get("timeoutSeconds").asInt());
        assertTrue(f.get("reservedConcurrency").isNull());
        assertEquals(0, f.get("inFlight").asInt(), "nothing of " + name + " runs any more");
        JsonNode w = f.get("window");
        assertEquals(6, w.get("invocations").asLong());
        assertEquals(2, w.get("errors").asLong());

        // The aggregate agrees with the records it is computed from.
        JsonNode records = JSON.readTree(operator().get("/admin/invocations?function=" + name + "&limit=100")
                .then().statusCode(200).extract().asString());
        assertEquals(6, records.size());
        Map<String, Long> startPaths = new HashMap<>();
        List<Double> durations = new ArrayList<>();
        for (JsonNode r : records) {
            startPaths.merge(r.get("startPath").asText(), 1L, Long::sum);
            durations.add(r.get("durationMs").asDouble());
        }
        durations.sort(null);
        assertEquals(Map.of("POOL_HIT", startPaths.getOrDefault("POOL_HIT", 0L),
                        "RESTORE_ON_DEMAND", startPaths.getOrDefault("RESTORE_ON_DEMAND", 0L),
                        "FRESH_START", startPaths.getOrDefault("FRESH_START", 0L)),
                JSON.convertValue(w.get("startPaths"), new com.fasterxml.jackson.core.type.TypeReference<Map<String, Long>>() {}));
        assertEquals(6, startPaths.values().stream().mapToLong(Long::longValue).sum(), "every record has a known start path: " + startPaths);
        double p50 = w.get("p50Ms").asDouble(), p99 = w.get("p99Ms").asDouble();
        assertEquals(percentileCont(durations, 0.5), p50, 1e-9);
        assertEquals(percentileCont(durations, 0.99), p99, 1e-9);
        assertTrue(p50 > 0 && p50 <= p99, p50 + " " + p99);

        JsonNode all = o.get("allFunctions");
        assertTrue(all.get("invocations").asLong() >= 6 && all.get("errors").asLong() >= 2, all.toString());

        // The pool: counts are never negative, and this process and its VMs use memory.
        JsonNode pool = o.get("pool");
        for (String count : List.of("ready", "restoring", "leased", "destroying", "nativeHeapTrims")) {
            assertTrue(pool.get(count).isIntegralNumber() && pool.get(count).asLong() >= 0, count + ": " + pool);
        }
        assertTrue(pool.at("/processMemory/rssKib").asLong() > 0 && pool.at("/processMemory/pssKib").asLong() > 0, pool.toString());
        assertTrue(pool.at("/processMemory/hostAvailableKib").asLong() > 0);
        JsonNode jvm = o.get("jvm");
        assertTrue(jvm.get("heapUsedKib").asLong() > 0 && jvm.get("heapUsedKib").asLong() <= jvm.get("heapCommittedKib").asLong(),
                jvm.toString());
        // A clone's guest memory is resident only where it touched pages, so a ready VM may have a PSS of 0 KiB.
        JsonNode vms = pool.get("vmMemory");
        assertTrue(vms.get("count").asInt() >= 0);
        assertTrue(vms.get("totalRssKib").asLong() >= vms.get("totalPssKib").asLong(), vms.toString());
        assertTrue(vms.get("totalPssKib").asLong() >= vms.get("medianPssKib").asLong(), vms.toString());
        if (vms.get("count").asInt() == 0) assertEquals(0, vms.get("totalRssKib").asLong(), vms.toString());

        // The queue: exactly our two Event invocations arrived, one succeeded, one became a dead letter.
        JsonNode after = o.get("async");
        assertEquals(0, after.get("queued").asLong() + after.get("running").asLong());
        assertEquals(queueTotal(before) + 2, queueTotal(after));
        assertEquals(before.get("succeeded").asLong() + 1, after.get("succeeded").asLong());
        assertEquals(before.get("deadLettered").asLong() + 1, after.get("deadLettered").asLong());
        assertEquals(before.get("deadLetters").asLong() + 1, after.get("deadLetters").asLong());

        // The newest records, without their logs, newest first; ours are the newest six.
        JsonNode recent = o.get("recent");
        assertTrue(recent.size() >= 6 && recent.size() <= Overview.RECENT_RECORDS, "recent: " + recent.size());
        List<String> recentIds = new ArrayList<>();
        String previousAt = null;
        for (JsonNode r : recent) {
            recentIds.add(r.get("requestId").asText());
            assertFalse(r.has("logs"));
            for (String phase : List.of("queuedMs", "vmReadyMs", "initMs", "deliverMs", "handlerMs", "responseMs", "durationMs")) {
                assertTrue(r.get(phase).asDouble() >= 0, phase + ": " + r);
            }
            assertEquals(r.get("vmReadyMs").asDouble() + r.get("initMs").asDouble() + r.get("deliverMs").asDouble()
                    + r.get("handlerMs").asDouble() + r.get("responseMs").asDouble(),
                    r.get("durationMs").asDouble(), 1e-6, "the phases but queued add up to the total: " + r);
            assertTrue(r.get("version").asText().matches("\\$LATEST|[1-9][0-9]*"), r::toString);
            String at = r.get("createdAt").asText();
            if (previousAt != null) {
                assertTrue(java.time.OffsetDateTime.parse(at).compareTo(java.time.OffsetDateTime.parse(previousAt)) <= 0, at + " after " + previousAt);
            }
            previousAt = at;
        }
        for (int i = 0; i < 6; i++) assertEquals(name, recent.get(i).get("function").asText(), recent.get(i).toString());
        assertTrue(recentIds.containsAll(syncIds), recentIds + " lacks some of " + syncIds);
        assertTrue(recentIds.contains(succeeds + "-1") && recentIds.contains(fails + "-1"), recentIds.toString());
        JsonNode failed = recent.get(recentIds.indexOf(syncIds.getLast()));
        assertEquals("Error", failed.get("status").asText());
        assertEquals("Unhandled", failed.get("errorType").asText());

        signed().delete("/2015-03-31/functions/" + name).then().statusCode(204);
        for (JsonNode g : overview().get("functions")) assertFalse(g.get("name").asText().equals(name), "deleted, still listed");
    }

    @NeedsKvm
    @Test
    void inFlightCountsAnInvocationWhileItRuns() throws Exception {
        String name = "dash-hang";
        createActive(name, Path.of("../guest-kernel/target/test-programs/hang-runtime/bootstrap"), 5);
        assertEquals(0, function(overview(), name).get("inFlight").asInt());
        RequestSpecification invoke = signed().body("{}");
        CompletableFuture<Integer> running = CompletableFuture.supplyAsync(() ->
                invoke.post("/2015-03-31/functions/" + name + "/invocations").statusCode());
        try {
            // The handler never answers, so the invocation holds its slot until its 5 s timeout kills it. It is
            // admitted before it waits for a run slot and leases (perhaps restores) its VM, so look until all show.
            JsonNode during = null;
            boolean seen = false;
            while (!running.isDone() && !seen) {
                during = overview();
                seen = function(during, name).get("inFlight").asInt() == 1 && during.at("/pool/leased").asInt() >= 1
                        && during.at("/pool/vmMemory/count").asInt() >= 1;
            }
            assertTrue(seen, "the running invocation was never seen in flight with its VM leased and counted: " + during);
            assertTrue(during.at("/concurrency/inFlight").asInt() >= 1);
        } finally {
            assertEquals(200, running.get());
        }
        assertEquals(0, function(overview(), name).get("inFlight").asInt());
        signed().delete("/2015-03-31/functions/" + name).then().statusCode(204);
    }

    @Test
    void dashboardIsServedAndTheRootRedirectsToIt() {
        String html = operator().get("/dashboard/").then().statusCode(200).contentType(containsString("text/html"))
                .extract().asString();
        for (String id : List.of("host", "status", "concurrency", "functions-body", "functions-total", "window-label", "pool",
                "vm-memory", "async", "recent-body")) {
            assertTrue(html.contains("id=\"" + id + "\""), "the page lacks #" + id);
        }
        assertTrue(html.contains("src=\"dashboard.js\""));
        assertTrue(html.contains("p50 ms") && html.contains("p99 ms"), "units in the column headers");
        String js = operator().get("/dashboard/dashboard.js").then().statusCode(200).contentType(containsString("javascript"))
                .extract().asString();
        assertTrue(js.contains("admin/overview"));
        assertTrue(js.contains("response.status === 401"), "the page says how to log in when its cookie is missing or old");
        assertNotNull(operator().get("/dashboard/dashboard.css").then().statusCode(200).contentType(containsString("text/css"))
                .extract().asString());
        given().redirects().follow(false).get("/").then().statusCode(303).header("Location", endsWith("/dashboard/"));
        given().redirects().follow(false).get("/dashboard").then().statusCode(303).header("Location", endsWith("/dashboard/"));
        // The root resource claims only "/": other paths, signed, still get the API's 404.
        signed().get("/no-such-path").then().statusCode(404).header("X-Amzn-ErrorType", equalTo("UnrecognizedClientException"));
    }
}
