package dev.flicker.api;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the tables that grow with every invocation bounded: invocation records older than
 * {@code flicker.retention.records-hours}, and Event invocations that succeeded more than
 * {@code flicker.retention.async-succeeded-minutes} ago. At 500 invocations a second the records alone grow
 * by 43 million rows a day. Dead letters stay until an operator deals with them. Rows go in batches, so that
 * no sweep holds locks for long.
 */
@ApplicationScoped
public class Retention {
    private static final Logger LOG = Logger.getLogger(Retention.class);
    private static final int BATCH_ROWS = 10_000;
    private static final long SWEEP_EVERY_SECONDS = 60;

    private final Pool db;
    private final long recordsHours;
    private final long asyncSucceededMinutes;
    private final ScheduledExecutorService sweeper = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("retention").daemon().factory());

    public Retention(Pool db, @ConfigProperty(name = "flicker.retention.records-hours") long recordsHours,
                     @ConfigProperty(name = "flicker.retention.async-succeeded-minutes") long asyncSucceededMinutes) {
        if (recordsHours < 1) throw new IllegalArgumentException("flicker.retention.records-hours must be at least 1");
        if (asyncSucceededMinutes < 1) throw new IllegalArgumentException("flicker.retention.async-succeeded-minutes must be at least 1");
        this.db = db;
        this.recordsHours = recordsHours;
        this.asyncSucceededMinutes = asyncSucceededMinutes;
    }

    void onStart(@Observes StartupEvent event) {
        sweeper.scheduleWithFixedDelay(() -> {
            try {
                sweep();
            } catch (RuntimeException e) {
                LOG.warn("retention sweep failed: " + e.getMessage());
            }
        }, SWEEP_EVERY_SECONDS, SWEEP_EVERY_SECONDS, TimeUnit.SECONDS);
    }

    void onStop(@Observes ShutdownEvent event) {
        sweeper.shutdownNow();
    }

    /** What one sweep deleted. */
    public record Swept(long invocationRecords, long succeededEventInvocations) {}

    /** Deletes what is past its retention now. */
    public Swept sweep() {
        long records = deleteInBatches("DELETE FROM invocations WHERE request_id IN (SELECT request_id FROM invocations "
                + "WHERE created_at < now() - ($1 || ' hours')::interval LIMIT " + BATCH_ROWS + ")", recordsHours);
        long succeeded = deleteInBatches("DELETE FROM async_invocations WHERE request_id IN (SELECT request_id FROM "
                + "async_invocations WHERE status = 'Succeeded' AND updated_at < now() - ($1 || ' minutes')::interval LIMIT "
                + BATCH_ROWS + ")", asyncSucceededMinutes);
        if (records + succeeded > 0) LOG.infof("retention: deleted %d invocation records and %d succeeded Event invocations", records, succeeded);
        return new Swept(records, succeeded);
    }

    private long deleteInBatches(String sql, long age) {
        long total = 0;
        while (true) {
            int deleted = Db.await(() -> db.preparedQuery(sql).execute(Tuple.of(Long.toString(age)))).rowCount();
            total += deleted;
            if (deleted < BATCH_ROWS) return total;
        }
    }
}
