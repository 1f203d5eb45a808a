package dev.flicker.api;

import dev.flicker.scheduler.Invoked;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Invocation records: one row per invocation with its outcome, version, start path, phase timings and the last 4 KB
 * of its output (truncation marked). Written off the invoke path, in batches, one batch at a time: a Vert.x timer
 * takes what is pending and writes it through Hibernate Reactive, then looks again.
 */
@ApplicationScoped
public class Invocations {
    private static final Logger LOG = Logger.getLogger(Invocations.class);
    static final int LOG_BYTES = 4096;
    static final int BATCH_ROWS = 500;
    /** How long the writer waits before it looks again when nothing was pending. */
    private static final long IDLE_MILLIS = 50;
    private final BlockingQueue<InvocationRecord> pending = new ArrayBlockingQueue<>(100_000);
    private final Vertx vertx;
    /** True from when a batch is taken until it is written (or dropped). */
    private volatile boolean writing;
    private volatile boolean stopped;

    public Invocations(Vertx vertx) {
        this.vertx = vertx;
    }

    void onStart(@Observes StartupEvent event) {
        writeSoon(IDLE_MILLIS);
    }

    void onStop(@Observes ShutdownEvent event) {
        stopped = true;
    }

    /**
     * The invocation's log as Lambda writes it: {@code START}, the function's stdout then stderr, {@code END} and
     * {@code REPORT} with its duration (from the event handed over to the answer), billed duration and memory size.
     * (Lambda's {@code Max Memory Used} is not measured here and left out.)
     */
    static byte[] logs(String requestId, String version, Invoked inv) {
        double durationMs = (inv.deliverNanos() + inv.handlerNanos()) / 1e6;
        byte[] start = ("START RequestId: " + requestId + " Version: " + version + "\n").getBytes(StandardCharsets.UTF_8);
        byte[] end = String.format(java.util.Locale.ROOT, "END RequestId: %s%nREPORT RequestId: %s\tDuration: %.2f ms\t"
                + "Billed Duration: %d ms\tMemory Size: %d MB\t%n", requestId, requestId, durationMs,
                (long) Math.ceil(durationMs), inv.memoryMib()).getBytes(StandardCharsets.UTF_8);
        byte[] out = inv.stdout(), err = inv.stderr();
        byte[] all = new byte[start.length + out.length + err.length + end.length];
        System.arraycopy(start, 0, all, 0, start.length);
        System.arraycopy(out, 0, all, start.length, out.length);
        System.arraycopy(err, 0, all, start.length + out.length, err.length);
        System.arraycopy(end, 0, all, start.length + out.length + err.length, end.length);
        return all;
    }

    /** Records one finished invocation of {@code ref} (asynchronously). */
    public void record(String requestId, FunctionRef ref, Invoked inv) {
        InvocationRecord r = new InvocationRecord();
        r.requestId = requestId;
        r.functionName = ref.name();
        r.version = ref.qualifier();
        r.status = inv.errorType() == null ? "Success" : "Error";
        r.errorType = GuestText.errorType(inv.errorType()); // the function chose it; the column is VARCHAR(128)
        r.startPath = inv.startPath().name();
        r.billedMemoryMb = inv.memoryMib();
        r.queuedMs = inv.queuedNanos() / 1e6;
        r.vmReadyMs = inv.vmReadyNanos() / 1e6;
        r.initMs = inv.initNanos() / 1e6;
        r.deliverMs = inv.deliverNanos() / 1e6;
        r.handlerMs = inv.handlerNanos() / 1e6;
        r.responseMs = inv.responseNanos() / 1e6;
        r.durationMs = inv.totalNanos() / 1e6;
        byte[] all = logs(requestId, ref.qualifier(), inv);
        boolean truncated = all.length > LOG_BYTES || inv.droppedOutputBytes() > 0;
        r.logs = new String(all, Math.max(0, all.length - LOG_BYTES), Math.min(all.length, LOG_BYTES), StandardCharsets.UTF_8)
                .replace('\0', '?');
        r.logsTruncated = truncated;
        r.createdAt = OffsetDateTime.now(ZoneOffset.UTC);
        if (!pending.offer(r)) LOG.warnf("invocation record %s dropped: the writer is behind", requestId);
    }

    private void writeSoon(long delayMillis) {
        if (!stopped) vertx.setTimer(delayMillis, id -> writePending());
    }

    /** Writes what is pending, up to a batch, on a Vert.x context of its own; then looks again. */
    private void writePending() {
        List<InvocationRecord> batch = new ArrayList<>();
        writing = true;
        pending.drainTo(batch, BATCH_ROWS);
        if (batch.isEmpty()) {
            writing = false;
            writeSoon(IDLE_MILLIS);
            return;
        }
        Contexts.run(vertx, () -> write(batch), written -> {
            writing = false;
            writeSoon(pending.isEmpty() ? IDLE_MILLIS : 1);
        }, e -> {
            LOG.error("cannot write invocation records", e);
            writing = false;
            writeSoon(IDLE_MILLIS);
        });
    }

    /**
     * Writes {@code batch} in one transaction. When that fails, each record is written alone, so that one bad
     * record costs only itself, not the other records of its batch (which may be other functions'); its item is how
     * many were written. On a Vert.x context.
     */
    Uni<Integer> write(List<InvocationRecord> batch) {
        return Panache.withTransaction(() -> InvocationRecord.persist(batch)).replaceWith(batch.size())
                .onFailure().recoverWithUni(batchFailed -> Multi.createFrom().iterable(batch)
                        .onItem().transformToUniAndConcatenate(r -> Panache.withTransaction(() -> InvocationRecord.persist(r))
                                .replaceWith(1)
                                .onFailure().recoverWithItem(e -> {
                                    LOG.warnf("invocation record %s of %s dropped: %s", r.requestId, r.functionName, e.getMessage());
                                    return 0;
                                }))
                        .collect().with(Collectors.summingInt(Integer::intValue)));
    }

    /** Waits until every record handed over so far is written (for tests). */
    public void flush() throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((!pending.isEmpty() || writing) && System.nanoTime() < until) Thread.sleep(10);
    }

    /** A page of records, newest first, optionally of one function and one status. */
    public Uni<List<InvocationRecord>> find(String function, String status, int limit, int offset) {
        StringBuilder q = new StringBuilder("1 = 1");
        List<Object> params = new java.util.ArrayList<>();
        if (function != null) {
            params.add(function);
            q.append(" and functionName = ?").append(params.size());
        }
        if (status != null) {
            params.add(status);
            q.append(" and status = ?").append(params.size());
        }
        q.append(" order by createdAt desc");
        return Panache.withSession(() -> InvocationRecord.<InvocationRecord>find(q.toString(), params.toArray())
                .range(offset, offset + limit - 1).list());
    }
}
