package dev.flicker.api;

import dev.flicker.scheduler.EventQueue;
import dev.flicker.scheduler.Invoked;
import dev.flicker.scheduler.Scheduler;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.core.buffer.Buffer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/**
 * Event invocations, durable in PostgreSQL. {@link #enqueue} commits the row before the API answers 202. The
 * scheduler's dispatch workers ({@link Scheduler#dispatchEvents}) claim rows with {@code FOR UPDATE SKIP LOCKED}, run
 * them, and this queue records success, a retry with exponential backoff, or a dead letter. A row left
 * {@code Running} by a process that died is queued again at start: delivery is at least once, and a row whose success
 * was recorded never runs again.
 * <p>
 * Hand-written SQL on the application's reactive pool. The request handlers' methods return {@link Uni}s; the
 * {@link EventQueue} methods are called by the scheduler's dispatch threads, which run VMs and block by design, and
 * wait there (never on an event loop) for their statements, at most {@link #STATEMENT_WAIT}.
 */
@ApplicationScoped
public class AsyncQueue implements EventQueue<AsyncQueue.Claimed> {
    private static final Logger LOG = Logger.getLogger(AsyncQueue.class);
    static final int MAX_ASYNC_PAYLOAD = 256 * 1024;
    /** How much of a function's error a dead letter keeps (the function's response may be 6 MB), and a row's last error. */
    static final int MAX_DEAD_LETTER_ERROR_CHARS = 64 * 1024, MAX_LAST_ERROR_CHARS = 4096;
    /** How long a dispatch thread waits for one statement before it counts as failed. */
    static final Duration STATEMENT_WAIT = Duration.ofSeconds(30);
    private final Pool db;
    private final Scheduler scheduler;
    private final Invocations invocations;
    private final int workers;
    private final long baseBackoffMillis;
    private Scheduler.Dispatch dispatch;

    public AsyncQueue(Pool db, Scheduler scheduler, Invocations invocations,
                      @ConfigProperty(name = "flicker.async.workers") int workers,
                      @ConfigProperty(name = "flicker.async.backoff-millis") long baseBackoffMillis) {
        this.db = db;
        this.scheduler = scheduler;
        this.invocations = invocations;
        this.workers = workers;
        this.baseBackoffMillis = baseBackoffMillis;
    }

    void onStart(@Observes StartupEvent event) {
        // On the main thread while the platform starts, before the dispatch workers.
        long requeued = await(db.preparedQuery("UPDATE async_invocations SET status = 'Queued', updated_at = now() "
                + "WHERE status = 'Running'").execute()).rowCount();
        if (requeued > 0) LOG.infof("%d event invocations were running when the platform stopped: queued again", requeued);
        dispatch = scheduler.dispatchEvents(this, workers);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (dispatch != null) dispatch.close();
    }

    /** Stores an Event invocation of {@code ref}; when the Uni completes, the invocation is durable. */
    public Uni<Void> enqueue(String requestId, FunctionRef ref, byte[] payload) {
        return db.preparedQuery("INSERT INTO async_invocations (request_id, function_name, qualifier, payload, status, "
                        + "attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'Queued', 0, now(), now(), now())")
                .execute(Tuple.of(requestId, ref.name(), ref.qualifier(), Buffer.buffer(payload))).replaceWithVoid();
    }

    /** Waits for {@code statement} on a dispatch thread (or the main thread at start); never called on an event loop. */
    private static <T> T await(Uni<T> statement) {
        return statement.await().atMost(STATEMENT_WAIT);
    }

    /**
     * A claimed attempt of the row {@code requestId}: the {@code attempts}th, which came due at {@code dueNanos}
     * ({@link System#nanoTime}: at enqueue, or when its backoff ended). Each attempt has its own request id.
     * {@code maxRetries} is the function's {@code MaximumRetryAttempts} when it was claimed (null: the function is gone).
     */
    record Claimed(String requestId, FunctionRef ref, byte[] payload, int attempts, long dueNanos, Integer maxRetries)
            implements EventQueue.Due {
        String function() {
            return ref.name();
        }

        @Override
        public String key() {
            return ref.key();
        }

        @Override
        public Scheduler.Request request() {
            return new Scheduler.Request(attemptId(), payload, ref.arn(), Functions.traceId(), dueNanos);
        }

        String attemptId() {
            return requestId + "-" + attempts;
        }
    }

    @Override
    public Claimed claim() {
        RowSet<Row> rows = await(db.preparedQuery("UPDATE async_invocations SET status = 'Running', "
                + "attempts = attempts + 1, updated_at = now() WHERE request_id = (SELECT request_id FROM async_invocations "
                + "WHERE status = 'Queued' AND next_attempt_at <= now() ORDER BY next_attempt_at "
                + "FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING request_id, function_name, qualifier, payload, attempts, "
                + "(EXTRACT(EPOCH FROM clock_timestamp() - next_attempt_at) * 1000)::float8 AS waited_ms, "
                + "(SELECT max_retry_attempts FROM functions WHERE name = async_invocations.function_name) AS max_retries").execute());
        for (Row r : rows) {
            long waitedNanos = (long) (Math.max(0, r.getDouble("waited_ms")) * 1e6);
            return new Claimed(r.getString("request_id"), new FunctionRef(r.getString("function_name"), r.getString("qualifier")),
                    r.getBuffer("payload").getBytes(), r.getInteger("attempts"), System.nanoTime() - waitedNanos,
                    r.getInteger("max_retries"));
        }
        return null;
    }

    /**
     * Records an attempt that ran. Whatever fails on the way, the row does not stay {@code Running}: when the outcome
     * cannot be recorded, the row is queued again (at least once: an attempt whose success could not be recorded runs
     * again).
     */
    @Override
    public void ran(Claimed c, Invoked inv) {
        recordSafely(c, () -> {
            invocations.record(c.attemptId(), c.ref(), inv);
            if (inv.succeeded()) {
                await(db.preparedQuery("UPDATE async_invocations SET status = 'Succeeded', updated_at = now() "
                        + "WHERE request_id = $1").execute(Tuple.of(c.requestId())));
                return;
            }
            failed(c, GuestText.errorType(inv.errorType()), new String(inv.response(), StandardCharsets.UTF_8));
        });
    }

    /** Records an attempt that did not run, or failed in the platform, as {@link #ran} does. */
    @Override
    public void refused(Claimed c, RuntimeException why) {
        recordSafely(c, () -> {
            RuntimeException refusal = lambdaError(c, why);
            if (refusal instanceof Scheduler.Stopping
                    || refusal instanceof LambdaError e && (e.status() == 409 || e.status() == 429)) {
                // Not ready yet, throttled, or the platform stops: the function did not run, so the attempt does not count.
                String type = refusal instanceof LambdaError e ? e.type() : "ServiceException";
                await(db.preparedQuery("UPDATE async_invocations SET status = 'Queued', attempts = attempts - 1, "
                                + "last_error = $2, updated_at = now(), next_attempt_at = now() + ($3 || ' milliseconds')::interval "
                                + "WHERE request_id = $1")
                        .execute(Tuple.of(c.requestId(), lastError(type, refusal.getMessage()), Long.toString(baseBackoffMillis))));
            } else if (refusal instanceof LambdaError e && e.status() == 404) {
                deadLetter(c, e.type(), e.getMessage()); // the function is gone: retrying cannot help
            } else if (refusal instanceof LambdaError e) {
                failed(c, e.type(), e.getMessage());
            } else {
                // A fault of the platform, not of the function: retried like a function error, never left Running.
                LOG.warnf(refusal, "event invocation %s failed in the platform", c.requestId());
                failed(c, "ServiceException", String.valueOf(refusal.getMessage()));
            }
        });
    }

    /** Lambda's error for {@code why} ({@link Functions#refusal}), or {@code why} itself when it is a fault or the platform stops. */
    private RuntimeException lambdaError(Claimed c, RuntimeException why) {
        if (why instanceof Scheduler.Stopping) return why;
        if (!(why instanceof Scheduler.NotReady || why instanceof Scheduler.HostCannotRun)) return Functions.refusal(c.ref(), why, null, null);
        // The version's state as stored: none when it is gone (a 404).
        RowSet<Row> rows = await(db.preparedQuery("SELECT state, state_reason FROM functions WHERE name = $1 AND $2 = '$LATEST' "
                + "UNION ALL SELECT state, state_reason FROM function_versions WHERE qualified_name = $3")
                .execute(Tuple.of(c.ref().name(), c.ref().qualifier(), c.ref().key())));
        for (Row r : rows) return Functions.refusal(c.ref(), why, FunctionState.valueOf(r.getString(0)), r.getString(1));
        return Functions.refusal(c.ref(), why, null, null);
    }

    private void recordSafely(Claimed c, Runnable record) {
        try {
            record.run();
        } catch (RuntimeException | Error e) {
            LOG.errorf(e, "event invocation %s: the outcome of attempt %d could not be recorded; queued again", c.requestId(), c.attempts());
            requeueAfterFault(c);
            if (e instanceof Error error) throw error;
        }
    }

    /** A failed attempt: queued again after its backoff, or a dead letter once its retries are spent. */
    private void failed(Claimed c, String errorType, String error) {
        if (c.maxRetries() == null || c.attempts() > c.maxRetries()) { // retries spent, or the function is gone
            deadLetter(c, errorType, error);
        } else {
            String lastError = lastError(errorType, error);
            await(db.preparedQuery("UPDATE async_invocations SET status = 'Queued', last_error = $2, updated_at = now(), "
                            + "next_attempt_at = now() + ($3 || ' milliseconds')::interval WHERE request_id = $1")
                    .execute(Tuple.of(c.requestId(), lastError, Long.toString(backoffMillis(c)))));
        }
    }

    private long backoffMillis(Claimed c) {
        return baseBackoffMillis << Math.min(Math.max(c.attempts() - 1, 0), 10);
    }

    /** The row's {@code last_error}: the error type and the start of the error, safe for a TEXT column. */
    private static String lastError(String errorType, String error) {
        return GuestText.text(errorType + ": " + error, MAX_LAST_ERROR_CHARS);
    }

    /** The fallback when an outcome could not be recorded: back to Queued with a fixed message. */
    private void requeueAfterFault(Claimed c) {
        try {
            await(db.preparedQuery("UPDATE async_invocations SET status = 'Queued', updated_at = now(), last_error = "
                            + "'ServiceException: the outcome of an attempt could not be recorded', "
                            + "next_attempt_at = now() + ($2 || ' milliseconds')::interval WHERE request_id = $1 AND status = 'Running'")
                    .execute(Tuple.of(c.requestId(), Long.toString(backoffMillis(c)))));
        } catch (RuntimeException e) {
            LOG.errorf(e, "event invocation %s stays Running until the platform's next start, which queues it again", c.requestId());
        }
    }

    private void deadLetter(Claimed c, String errorType, String error) {
        String type = GuestText.errorType(errorType), text = GuestText.text(error, MAX_DEAD_LETTER_ERROR_CHARS);
        await(db.withTransaction(tx -> tx.preparedQuery("INSERT INTO dead_letters (request_id, function_name, payload, "
                        + "attempts, error_type, error, created_at) VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT DO NOTHING")
                .execute(Tuple.tuple(List.of(c.requestId(), c.function(), Buffer.buffer(c.payload()), c.attempts(), type, text)))
                .chain(() -> tx.preparedQuery("UPDATE async_invocations SET status = 'DeadLettered', last_error = $2, "
                        + "updated_at = now() WHERE request_id = $1").execute(Tuple.of(c.requestId(), lastError(type, text))))));
    }

    /** The state of one Event invocation and its attempts, for the admin API and tests. */
    public record Status(String requestId, String function, String status, int attempts, String lastError) {}

    /** The row's status; null when there is none. */
    public Uni<Status> status(String requestId) {
        return db.preparedQuery("SELECT request_id, function_name, status, attempts, last_error "
                + "FROM async_invocations WHERE request_id = $1").execute(Tuple.of(requestId)).map(rows -> {
                    for (Row r : rows) return new Status(r.getString(0), r.getString(1), r.getString(2), r.getInteger(3), r.getString(4));
                    return null;
                });
    }

    /** Dead letters, newest first. */
    public record DeadLetter(String requestId, String function, int attempts, String errorType, String error,
                             OffsetDateTime createdAt) {}

    public Uni<List<DeadLetter>> deadLetters(String function, int limit) {
        return db.preparedQuery("SELECT request_id, function_name, attempts, error_type, error, created_at "
                + "FROM dead_letters WHERE ($1::text IS NULL OR function_name = $1) ORDER BY created_at DESC LIMIT $2")
                .execute(Tuple.of(function, limit)).map(rows -> {
                    List<DeadLetter> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new DeadLetter(r.getString(0), r.getString(1), r.getInteger(2), r.getString(3), r.getString(4),
                                r.getOffsetDateTime(5).withOffsetSameInstant(ZoneOffset.UTC)));
                    }
                    return out;
                });
    }

    /** Event invocations by status and the dead letters kept, for the operator overview. */
    public record Counts(long queued, long running, long succeeded, long deadLettered, long deadLetters) {}

    /** One query; counting every row, so its cost grows with the rows kept (Retention bounds the succeeded ones). */
    public Uni<Counts> counts() {
        return db.preparedQuery("SELECT status, count(*) FROM async_invocations GROUP BY status "
                + "UNION ALL SELECT 'dead_letters', count(*) FROM dead_letters").execute().map(rows -> {
                    java.util.Map<String, Long> byStatus = new java.util.HashMap<>();
                    for (Row r : rows) byStatus.put(r.getString(0), r.getLong(1));
                    return new Counts(byStatus.getOrDefault("Queued", 0L), byStatus.getOrDefault("Running", 0L),
                            byStatus.getOrDefault("Succeeded", 0L), byStatus.getOrDefault("DeadLettered", 0L),
                            byStatus.getOrDefault("dead_letters", 0L));
                });
    }
}
