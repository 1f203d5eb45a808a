package dev.flicker.api;

import dev.flicker.scheduler.Figures;
import dev.flicker.scheduler.Scheduler;
import dev.flicker.scheduler.StartPath;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.panache.common.Sort;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The operator's view of the platform now ({@code GET /admin/overview}, drawn by the dashboard): functions with
 * their admission and recent invocations, the VM pool and its memory, the Event queue, the newest records.
 * Four SQL queries whatever the number of functions; everything else is read from memory.
 */
@ApplicationScoped
public class Overview {
    /** Recent invocation figures cover this window, counted back from the database's clock. */
    static final int WINDOW_SECONDS = 300;
    static final int RECENT_RECORDS = 20;

    /**
     * Invocations in the window, per function and (the row where GROUPING is 1) for all functions together,
     * with one count per start path. The start paths come from the enum, so a new one is counted without an
     * edit here; they are constants, not input.
     */
    private static final String WINDOW_SQL = "SELECT function_name, GROUPING(function_name) AS all_functions, count(*), "
            + "count(*) FILTER (WHERE status = 'Error'), "
            + "percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms), "
            + "percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms)"
            + Arrays.stream(StartPath.values()).map(p -> ", count(*) FILTER (WHERE start_path = '" + p.name() + "')")
                    .collect(Collectors.joining())
            + " FROM invocations WHERE created_at > now() - make_interval(secs => $1) "
            + "GROUP BY GROUPING SETS ((function_name), ())";

    private final Pool db;
    private final Scheduler scheduler;
    private final Invocations invocations;
    private final AsyncQueue asyncQueue;

    public Overview(Pool db, Scheduler scheduler, Invocations invocations, AsyncQueue asyncQueue) {
        this.db = db;
        this.scheduler = scheduler;
        this.invocations = invocations;
        this.asyncQueue = asyncQueue;
    }

    /** What {@code GET /admin/overview} returns. */
    public record Snapshot(OffsetDateTime generatedAt, Host host, int windowSeconds, Concurrency concurrency,
                           Figures.RunSlots runSlots, List<Function> functions, Window allFunctions, PoolView pool, Jvm jvm,
                           AsyncQueue.Counts async, List<Recent> recent) {}

    /** The platform JVM's heap now: what VMs cost the host in Java objects (their budgets) shows here. */
    public record Jvm(long heapUsedKib, long heapCommittedKib, long heapMaxKib) {
        static Jvm now() {
            java.lang.management.MemoryUsage heap = java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
            return new Jvm(heap.getUsed() / 1024, heap.getCommitted() / 1024, heap.getMax() / 1024);
        }
    }

    /** Whether this host runs functions, and if not why (KVM's message): the pool is then null. */
    public record Host(boolean canRunFunctions, String cannotRunFunctionsBecause) {}

    /** Admission across the platform: its limit and what holds a slot now. */
    public record Concurrency(int limit, int inFlight) {}

    /** One stored function: its configuration and state, invocations in flight now, and its window. */
    public record Function(String name, FunctionState state, String stateReason, int memoryMb, int timeoutSeconds,
                           Integer reservedConcurrency, int inFlight, Window window) {}

    /**
     * Invocations finished in the window: how many, how many were function errors, the median and 99th
     * percentile of their total duration (null with none), and how many took each start path.
     */
    public record Window(long invocations, long errors, Double p50Ms, Double p99Ms, Map<String, Long> startPaths) {
        static Window empty() {
            Map<String, Long> none = new LinkedHashMap<>();
            for (StartPath p : StartPath.values()) none.put(p.name(), 0L);
            return new Window(0, 0, null, null, none);
        }
    }

    /** The VM pool: VMs per state, this process's memory, and the guest memory of the live VMs. */
    public record PoolView(int ready, int restoring, int leased, int destroying, long nativeHeapTrims,
                           Figures.Memory processMemory, VmMemory vmMemory) {
        static PoolView of(Figures.Pool p) {
            return p == null ? null : new PoolView(p.ready(), p.restoring(), p.leased(), p.destroying(), p.nativeHeapTrims(),
                    p.processMemory(), VmMemory.of(p.vms()));
        }
    }

    /** Guest memory mappings of the live VMs; PSS splits pages shared between clones among them. */
    public record VmMemory(int count, long totalRssKib, long totalPssKib, long medianPssKib, long totalPrivateDirtyKib) {
        static VmMemory of(List<Figures.Vm> vms) {
            long[] pss = vms.stream().mapToLong(Figures.Vm::pssKib).sorted().toArray();
            int n = pss.length;
            long median = n == 0 ? 0 : n % 2 == 1 ? pss[n / 2] : (pss[n / 2 - 1] + pss[n / 2]) / 2;
            return new VmMemory(n, vms.stream().mapToLong(Figures.Vm::rssKib).sum(), Arrays.stream(pss).sum(), median,
                    vms.stream().mapToLong(Figures.Vm::privateDirtyKib).sum());
        }
    }

    /** One invocation record without its logs (those are on {@code /admin/invocations}); phases as in docs/api.md. */
    public record Recent(String requestId, String function, String version, String status, String errorType, String startPath,
                         int billedMemoryMb, double queuedMs, double vmReadyMs, double initMs, double deliverMs, double handlerMs,
                         double responseMs, double durationMs, OffsetDateTime createdAt) {
        static Recent of(InvocationRecord r) {
            return new Recent(r.requestId, r.functionName, r.version, r.status, r.errorType, r.startPath, r.billedMemoryMb,
                    r.queuedMs, r.vmReadyMs, r.initMs, r.deliverMs, r.handlerMs, r.responseMs, r.durationMs,
                    r.createdAt == null ? null : r.createdAt.withOffsetSameInstant(ZoneOffset.UTC));
        }
    }

    public Uni<Snapshot> read() {
        Map<String, Window> windows = new HashMap<>();
        return Panache.withSession(() -> FunctionRecord.<FunctionRecord>listAll(Sort.by("name"))).chain(stored -> windowPerFunction(windows)
                .chain(all -> invocations.find(null, null, RECENT_RECORDS, 0)
                        // The pool's figures read /proc (smaps whole): on a worker thread, not the event loop.
                        .chain(recent -> asyncQueue.counts().chain(counts -> Functions.blocking(() -> {
                            List<Function> rows = new ArrayList<>(stored.size());
                            for (FunctionRecord f : stored) {
                                rows.add(new Function(f.name, f.state, f.stateReason, f.memoryMb, f.timeoutSeconds,
                                        f.reservedConcurrency, scheduler.inFlight(f.name), windows.getOrDefault(f.name, Window.empty())));
                            }
                            return new Snapshot(OffsetDateTime.now(ZoneOffset.UTC),
                                    new Host(scheduler.cannotRunFunctions() == null, scheduler.cannotRunFunctions()), WINDOW_SECONDS,
                                    new Concurrency(scheduler.concurrencyLimit(), scheduler.inFlightTotal()), scheduler.runSlotFigures(),
                                    rows, all, PoolView.of(scheduler.poolFigures()), Jvm.now(), counts,
                                    recent.stream().map(Recent::of).toList());
                        })))));
    }

    /** Fills {@code perFunction} with each function's window and returns the window of all functions together. */
    private Uni<Window> windowPerFunction(Map<String, Window> perFunction) {
        return db.preparedQuery(WINDOW_SQL).execute(Tuple.of((double) WINDOW_SECONDS)).map(rows -> windows(rows, perFunction));
    }

    private static Window windows(RowSet<Row> rows, Map<String, Window> perFunction) {
        Window all = Window.empty();
        for (Row r : rows) {
            Map<String, Long> startPaths = new LinkedHashMap<>();
            StartPath[] paths = StartPath.values();
            for (int i = 0; i < paths.length; i++) startPaths.put(paths[i].name(), r.getLong(6 + i));
            Window w = new Window(r.getLong(2), r.getLong(3), r.getDouble(4), r.getDouble(5), startPaths);
            if (r.getInteger(1) == 1) all = w;
            else perFunction.put(r.getString(0), w);
        }
        return all;
    }
}
