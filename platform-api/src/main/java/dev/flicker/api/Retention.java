package dev.flicker.api;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

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
    private final Vertx vertx;
    private final long recordsHours;
    private final long asyncSucceededMinutes;
    private volatile boolean stopped;

    public Retention(Pool db, Vertx vertx, @ConfigProperty(name = "flicker.retention.records-hours") long recordsHours,
                     @ConfigProperty(name = "flicker.retention.async-succeeded-minutes") long asyncSucceededMinutes) {
        if (recordsHours < 1) throw new IllegalArgumentException("flicker.retention.records-hours must be at least 1");
        if (asyncSucceededMinutes < 1) throw new IllegalArgumentException("flicker.retention.async-succeeded-minutes must be at least 1");
        this.db = db;
        this.vertx = vertx;
        this.recordsHours = recordsHours;
        this.asyncSucceededMinutes = asyncSucceededMinutes;
    }

    void onStart(@Observes StartupEvent event) {
        sweepLater();
    }

    void onStop(@Observes ShutdownEvent event) {
        stopped = true;
    }

    /** The next sweep, {@link #SWEEP_EVERY_SECONDS} after this one ended (on a Vert.x timer; sweeps never overlap). */
    private void sweepLater() {
        if (stopped) return;
        vertx.setTimer(TimeUnit.SECONDS.toMillis(SWEEP_EVERY_SECONDS), id -> sweep().subscribe().with(
                swept -> sweepLater(),
                e -> {
                    LOG.warn("retention sweep failed: " + e.getMessage());
                    sweepLater();
                }));
    }

    /** What one sweep deleted. */
    public record Swept(long invocationRecords, long succeededEventInvocations) {}

    /** Deletes what is past its retention now. */
    public Uni<Swept> sweep() {
        return deleteInBatches("DELETE FROM invocations WHERE request_id IN (SELECT request_id FROM invocations "
                + "WHERE created_at < now() - ($1 || ' hours')::interval LIMIT " + BATCH_ROWS + ")", recordsHours, 0)
                .chain(records -> deleteInBatches("DELETE FROM async_invocations WHERE request_id IN (SELECT request_id FROM "
                        + "async_invocations WHERE status = 'Succeeded' AND updated_at < now() - ($1 || ' minutes')::interval LIMIT "
                        + BATCH_ROWS + ")", asyncSucceededMinutes, 0).map(succeeded -> new Swept(records, succeeded)))
                .invoke(swept -> {
                    if (swept.invocationRecords() + swept.succeededEventInvocations() > 0) {
                        LOG.infof("retention: deleted %d invocation records and %d succeeded Event invocations",
                                swept.invocationRecords(), swept.succeededEventInvocations());
                    }
                });
    }

    /** Runs {@code sql} (a batch of at most {@link #BATCH_ROWS}) until a batch deletes fewer; {@code total} so far. */
    private Uni<Long> deleteInBatches(String sql, long age, long total) {
        return db.preparedQuery(sql).execute(Tuple.of(Long.toString(age))).chain(rows -> rows.rowCount() < BATCH_ROWS
                ? Uni.createFrom().item(total + rows.rowCount())
                : deleteInBatches(sql, age, total + rows.rowCount()));
    }
}
