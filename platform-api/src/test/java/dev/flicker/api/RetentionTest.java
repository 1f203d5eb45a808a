package dev.flicker.api;

import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Old invocation records and old succeeded Event invocations go; everything else stays. */
@QuarkusTest
class RetentionTest {
    @Inject
    Retention retention;
    @Inject
    Pool db;

    void record(String id, String age) {
        db.preparedQuery("INSERT INTO invocations (request_id, function_name, version, status, billed_memory_mb, "
                + "vm_ready_ms, deliver_ms, handler_ms, duration_ms, logs, logs_truncated, created_at) "
                + "VALUES ($1, 'kept', '$LATEST', 'Success', 128, 0, 0, 0, 0, '', false, now() - $2::text::interval)")
                .execute(Tuple.of(id, age)).await().indefinitely();
    }

    void event(String id, String status, String age) {
        db.preparedQuery("INSERT INTO async_invocations (request_id, function_name, payload, status, attempts, "
                + "next_attempt_at, created_at, updated_at) VALUES ($1, 'kept', '\\x7b7d'::bytea, $2, 1, now(), "
                + "now() - $3::text::interval, now() - $3::text::interval)").execute(Tuple.of(id, status, age)).await().indefinitely();
    }

    long count(String table, List<String> ids) {
        return db.preparedQuery("SELECT count(*) FROM " + table + " WHERE request_id = ANY($1)")
                .execute(Tuple.of(ids.toArray(String[]::new))).await().indefinitely().iterator().next().getLong(0);
    }

    @Test
    void sweepDeletesOnlyWhatIsPastItsRetention() {
        String run = Long.toHexString(System.nanoTime());
        record("old-record-" + run, "200 hours");       // past the default 168 hours
        record("new-record-" + run, "1 hour");
        event("old-success-" + run, "Succeeded", "2 hours"); // past the default 60 minutes
        event("new-success-" + run, "Succeeded", "5 minutes");
        event("old-queued-" + run, "Queued", "2 hours");     // not finished: never deleted
        event("old-dead-" + run, "DeadLettered", "2 hours"); // an operator's to deal with

        Retention.Swept swept = retention.sweep().await().indefinitely();
        assertTrue(swept.invocationRecords() >= 1 && swept.succeededEventInvocations() >= 1, swept::toString);
        assertEquals(0, count("invocations", List.of("old-record-" + run)));
        assertEquals(1, count("invocations", List.of("new-record-" + run)));
        assertEquals(0, count("async_invocations", List.of("old-success-" + run)));
        assertEquals(3, count("async_invocations", List.of("new-success-" + run, "old-queued-" + run, "old-dead-" + run)));
        assertEquals(new Retention.Swept(0, 0), retention.sweep().await().indefinitely());
    }
}
