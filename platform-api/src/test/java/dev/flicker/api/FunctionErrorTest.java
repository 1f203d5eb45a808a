package dev.flicker.api;

import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.vertx.VertxContextSupport;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A function's error type is the function's to choose: the platform puts it in a header and in columns only in
 * Lambda's pattern, one bad invocation record costs only itself, and an Event invocation never stays Running.
 */
@QuarkusTest
class FunctionErrorTest {
    static final String ERROR_TYPE = "[A-Za-z0-9._-]{1,128}";

    @Inject
    Invocations invocations;
    @Inject
    Pool db;

    @BeforeAll
    static void zip() throws IOException {
        FunctionsResourceTest.zip();
    }

    @NeedsKvm
    @Test
    void aHostileErrorTypeReachesNoHeaderOrColumnAsItIs() throws Exception {
        FunctionsResourceTest.createActive("hostile-type",
                FunctionsResourceTest.zipOf("bootstrap", Files.readAllBytes(PrepareTest.RUNTIMES.resolve("error-type-hostile/bootstrap"))));
        Response r = given().body("{}").post("/2015-03-31/functions/hostile-type/invocations");
        r.then().statusCode(200);
        String header = r.header("X-Amz-Function-Error");
        assertTrue(header != null && header.matches(ERROR_TYPE), "X-Amz-Function-Error: " + header);

        // Its record is written (a type longer than VARCHAR(128) failed the whole batch of records).
        String requestId = r.header("X-Amzn-RequestId");
        invocations.flush();
        List<Map<String, Object>> records = DashboardTest.operator().get("/admin/invocations?function=hostile-type")
                .then().statusCode(200).extract().path("");
        Map<String, Object> record = records.stream().filter(m -> requestId.equals(m.get("requestId"))).findFirst()
                .orElseThrow(() -> new AssertionError("no record of " + requestId + " in " + records));
        assertTrue(((String) record.get("errorType")).matches(ERROR_TYPE), record::toString);

        // As an Event invocation without retries, it becomes a dead letter (the insert failed: it stayed Running).
        given().contentType(ContentType.JSON).body("{\"MaximumRetryAttempts\":0}")
                .put("/2019-09-25/functions/hostile-type/event-invoke-config").then().statusCode(200);
        String queued = given().header("X-Amz-Invocation-Type", "Event").body("{}").post("/2015-03-31/functions/hostile-type/invocations")
                .then().statusCode(202).extract().header("X-Amzn-RequestId");
        assertEquals("DeadLettered", FunctionsResourceTest.awaitAsync(queued, "DeadLettered"));
        List<Map<String, Object>> dead = DashboardTest.operator().get("/admin/dead-letters?function=hostile-type")
                .then().statusCode(200).extract().path("");
        assertEquals(1, dead.size(), dead::toString);
        assertTrue(((String) dead.getFirst().get("errorType")).matches(ERROR_TYPE), dead::toString);
        given().delete("/2015-03-31/functions/hostile-type").then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void anEventInvocationWhoseOutcomeCannotBeStoredIsQueuedAgainNotLeftRunning() throws Exception {
        FunctionsResourceTest.createActive("unstorable");
        given().contentType(ContentType.JSON).body("{\"MaximumRetryAttempts\":0}")
                .put("/2019-09-25/functions/unstorable/event-invoke-config").then().statusCode(200);
        // The dead letter cannot be written, as when the insert failed on a function's error type.
        db.query("ALTER TABLE dead_letters ADD CONSTRAINT refuse_all CHECK (false) NOT VALID").execute().await().indefinitely();
        String queued;
        try {
            queued = given().header("X-Amz-Invocation-Type", "Event").body("{}").post("/2015-03-31/functions/unstorable/invocations")
                    .then().statusCode(202).extract().header("X-Amzn-RequestId");
            String lastError = TestTime.await("the Event invocation's last error to say its outcome could not be recorded",
                    Duration.ofSeconds(30), () -> {
                        String e = DashboardTest.operator().get("/admin/async/" + queued).then().statusCode(200).extract().path("lastError");
                        return e != null && e.contains("could not be recorded") ? e : null;
                    });
            assertTrue(lastError != null && lastError.contains("could not be recorded"), "last error: " + lastError);
        } finally {
            db.query("ALTER TABLE dead_letters DROP CONSTRAINT refuse_all").execute().await().indefinitely();
        }
        // Queued again, it runs again and, with the table back, becomes a dead letter.
        assertEquals("DeadLettered", FunctionsResourceTest.awaitAsync(queued, "DeadLettered"));
        given().delete("/2015-03-31/functions/unstorable").then().statusCode(204);
    }

    static InvocationRecord record(String requestId, String function) {
        InvocationRecord r = new InvocationRecord();
        r.requestId = requestId;
        r.functionName = function;
        r.version = "$LATEST";
        r.status = "Success";
        r.startPath = "POOL_HIT";
        r.billedMemoryMb = 128;
        r.logs = "";
        r.createdAt = OffsetDateTime.now(ZoneOffset.UTC);
        return r;
    }

    @Test
    void oneBadRecordCostsOnlyItself() throws Throwable {
        String run = Long.toHexString(System.nanoTime());
        List<InvocationRecord> batch = new ArrayList<>();
        for (int i = 0; i < Invocations.BATCH_ROWS - 1; i++) batch.add(record(run + "-" + i, "others-" + (i % 7)));
        batch.add(250, record(run + "-bad", "x".repeat(65))); // function_name is VARCHAR(64)
        assertEquals(Invocations.BATCH_ROWS, batch.size());
        // Hibernate Reactive runs on a Vert.x context: the test thread waits for one.
        assertEquals(Invocations.BATCH_ROWS - 1, VertxContextSupport.subscribeAndAwait(() -> invocations.write(batch)));
        long stored = db.preparedQuery("SELECT count(*) FROM invocations WHERE request_id LIKE $1")
                .execute(Tuple.of(run + "-%")).await().indefinitely().iterator().next().getLong(0);
        assertEquals(Invocations.BATCH_ROWS - 1, stored);
    }
}
