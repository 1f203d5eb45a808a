package dev.flicker.pool;

import dev.flicker.guest.CpuLease;
import dev.flicker.guest.MicroVm;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.net.LoopbackEndpoint;
import dev.flicker.kvm.Kvm;
import dev.flicker.kvm.KvmException;
import dev.flicker.kvm.sys.Libc;
import dev.flicker.kvm.sys.SysException;
import dev.flicker.lambda.runtime.RuntimeApi;
import dev.flicker.snapshots.Snapshot;
import dev.flicker.snapshots.SnapshotStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Ready VMs per function version, each a clone of the version's snapshot. Every invocation leases its own VM
 * (restored ahead of demand: a pool hit; or restored while it waits: the cold path) and the VM is destroyed
 * after it, off the caller's path. A VM moves Restoring → Ready → Leased → Destroying and is never reused.
 *
 * <p>Sizing (docs/vm-pool.md): every {@code tickMillis} the target number of ready VMs of a version is
 * {@code ceil(arrival rate × restore time) + VMs leased now}, capped at {@code maxReadyPerVersion}; it is
 * zero when the version has been idle for {@code idleMillis}, or when the host's available memory is below
 * {@code minHostAvailableBytes} (the pool yields). After a burst of teardowns, once quiet for
 * {@code trimAfterQuietMillis}, the pool runs a full GC (so G1 uncommits heap) and trims the native heap.
 *
 * <p>The pool decides how an invocation's VM starts (a ready one, or one restored now), not when it runs: a VM runs
 * on the CPU its caller lends it ({@link CpuLease}), which the scheduler's run slots share between VMs.
 */
public final class VmPool implements AutoCloseable {
    /**
     * The pool's knobs; {@link #DEFAULT} suits a small host. Reclamation (a full GC and a native heap trim)
     * runs after {@code trimAfterTeardowns} teardowns, once no VM was leased for {@code trimAfterQuietMillis}:
     * a full GC stops every invocation in flight, so it must not run between two calls of a steady stream.
     */
    public record Policy(int maxReadyPerVersion, long idleMillis, long minHostAvailableBytes, long tickMillis,
                         int trimAfterTeardowns, long trimAfterQuietMillis, int precopyMaxPages) {
        public static final Policy DEFAULT = new Policy(16, 30_000, 512L << 20, 20, 100, 1_000, 2048);

        /** This policy with pre-copy ({@link VmPool}) of at most {@code pages} pages per restore; 0 turns it off. */
        public Policy withPrecopyMaxPages(int pages) {
            return new Policy(maxReadyPerVersion, idleMillis, minHostAvailableBytes, tickMillis, trimAfterTeardowns,
                    trimAfterQuietMillis, pages);
        }
    }

    /** One VM of the pool, leased to one invocation. */
    public final class Lease {
        private final Versioned version;
        private final MicroVm vm;
        private final StartPath startPath;
        private final long readyNanos;
        private boolean used;

        Lease(Versioned version, MicroVm vm, StartPath startPath, long readyNanos) {
            this.version = version;
            this.vm = vm;
            this.startPath = startPath;
            this.readyNanos = readyNanos;
        }

        public StartPath startPath() {
            return startPath;
        }

        /** The VM itself (its identity tells leases apart). */
        public MicroVm vm() {
            return vm;
        }

        /** Delivers {@code event}, runs the handler until it answers (or ends), then hands the VM to teardown. */
        public Invocation invoke(RuntimeApi.Event event) {
            return invoke(event, CpuLease.DEDICATED);
        }

        /** {@link #invoke(RuntimeApi.Event)} on the CPU {@code cpu} lends, held when this is called (see {@link MicroVm#run(CpuLease)}). */
        public Invocation invoke(RuntimeApi.Event event, CpuLease cpu) {
            if (used) throw new IllegalStateException("a lease serves one invocation");
            used = true;
            try {
                long t0 = System.nanoTime();
                RuntimeApi.deliver(vm, event);
                long t1 = System.nanoTime();
                RunResult r = vm.runUntil(RuntimeApi.of(vm)::answered, cpu); // the VM is destroyed after this invocation
                if (version.precopy == null) version.learnPrecopy(vm);
                return answer(vm, r, startPath, readyNanos, 0, t1 - t0, t1, System.nanoTime());
            } finally {
                release();
            }
        }

        /** Gives the VM back without using it (it is destroyed, never reused). */
        public void release() {
            used = true;
            if (leasedNow.decrementAndGet() >= 0) version.leased.decrementAndGet();
            destroy(vm);
        }
    }

    /** Pool state of one function version. */
    private final class Versioned {
        final FunctionVersion version;
        final Snapshot snapshot;
        final ConcurrentLinkedDeque<MicroVm> ready = new ConcurrentLinkedDeque<>();
        final AtomicInteger restoring = new AtomicInteger(), leased = new AtomicInteger();
        final RateEstimator arrivals = new RateEstimator(2.0);
        volatile double restoreSeconds = 0.002;
        volatile long lastUseNanos = System.nanoTime();
        /** The pages every restore copies ahead (learned from the first invocation); null until learned. */
        volatile BitSet precopy;

        Versioned(FunctionVersion version, Snapshot snapshot) {
            this.version = version;
            this.snapshot = snapshot;
        }

        MicroVm restore() {
            long t0 = System.nanoTime();
            try {
                MicroVm vm = runner.restore(snapshot.mapMemory(), snapshot.vcpus().getFirst(), snapshot.guestState(),
                        version.bundle(), version.layer(), version.limits(), ENDPOINTS);
                BitSet pages = precopy;
                if (pages != null && !pages.isEmpty()) {
                    try {
                        vm.prefaultWritable(pages);
                    } catch (SysException e) {
                        if (e.errno() != Libc.EINVAL) throw e;
                        // MADV_POPULATE_WRITE is Linux 5.14's: on an older host the guest copies its pages as before.
                        precopy = new BitSet();
                        LOG.log(System.Logger.Level.WARNING, "this kernel cannot copy pages ahead (" + e.getMessage()
                                + "): restores of " + version.key() + " copy none");
                    }
                }
                live.put(vm, "Ready");
                restoreSeconds = 0.8 * restoreSeconds + 0.2 * (System.nanoTime() - t0) / 1e9;
                return vm;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot restore " + version.key() + " from " + snapshot.directory(), e);
            }
        }

        /**
         * Learns what to pre-copy from a clone that has just served an invocation: the snapshot's pages it wrote.
         * A write to a page of the snapshot is a copy made at the guest's fault (and under PVM a shadow fault
         * besides); made ahead in one call per run of pages, on the restore-ahead thread, it leaves the invocation.
         * A first invocation that wrote more than the policy's limit teaches nothing: every ready VM would hold it.
         */
        void learnPrecopy(MicroVm served) {
            BitSet written;
            try {
                written = served.writtenPages();
            } catch (UncheckedIOException e) { // no /proc/self/pagemap to read: the invocation stands, nothing is copied ahead
                precopy = new BitSet();
                LOG.log(System.Logger.Level.WARNING, "restores of " + version.key() + " copy no pages ahead: " + e.getMessage());
                return;
            }
            precopy = written.cardinality() <= policy.precopyMaxPages() ? written : new BitSet();
            LOG.log(System.Logger.Level.DEBUG, () -> version.key() + ": its first invocation wrote " + written.cardinality()
                    + " pages of the snapshot, restores copy " + precopy.cardinality() + " ahead");
        }

        int target() {
            long now = System.nanoTime();
            if (now - lastUseNanos > TimeUnit.MILLISECONDS.toNanos(policy.idleMillis())) return 0;
            if (hostUnderPressure) return 0;
            double rate = arrivals.perSecond(now);
            int want = (int) Math.ceil(rate * restoreSeconds) + leased.get();
            return Math.min(policy.maxReadyPerVersion(), want);
        }
    }

    private static final System.Logger LOG = System.getLogger(VmPool.class.getName());
    private static final int CORES = Runtime.getRuntime().availableProcessors();
    /** What every function's VM is given: the Lambda Runtime API on 127.0.0.1:9001, where its runtime asks for events. */
    private static final List<LoopbackEndpoint.Spec> ENDPOINTS = List.of(RuntimeApi.ENDPOINT);
    private final MicroVmRunner runner;
    private final SnapshotStore store;
    private final Policy policy;
    private final Map<String, Versioned> versions = new ConcurrentHashMap<>();
    private final ExecutorService restorer = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("vm-pool-restore").daemon().factory());
    private final ExecutorService reaper = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("vm-pool-teardown").daemon().factory());
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("vm-pool-tick").daemon().factory());
    /** What {@link #open} opened for this pool, closed with it, in this order; empty for a pool given its runner. */
    private List<AutoCloseable> owned = List.of();
    private final AtomicInteger leasedNow = new AtomicInteger(), destroyingNow = new AtomicInteger();
    /** Every VM restored and not yet destroyed, with its state, for per-VM memory figures. */
    private final Map<MicroVm, String> live = new ConcurrentHashMap<>();
    private final AtomicLong teardownsSinceTrim = new AtomicLong(), trims = new AtomicLong();
    private volatile boolean hostUnderPressure;
    private volatile long lastLeaseNanos = System.nanoTime();

    public VmPool(MicroVmRunner runner, SnapshotStore store, Policy policy) {
        this.runner = runner;
        this.store = store;
        this.policy = policy;
        ticker.scheduleWithFixedDelay(this::tick, policy.tickMillis(), policy.tickMillis(), TimeUnit.MILLISECONDS);
    }

    /** This host cannot run VMs: KVM could not be opened. The message says what is missing and how to get it. */
    public static final class KvmUnavailable extends RuntimeException {
        KvmUnavailable(KvmException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /**
     * A pool on this host's KVM ({@code kvmDevice}, {@code /dev/kvm} but in tests), with its snapshots stored in
     * {@code snapshotDirectory}: it opens KVM and a micro VM runner, and closes both when it is closed. Throws
     * {@link KvmUnavailable} when KVM cannot be opened.
     */
    public static VmPool open(Path kvmDevice, Path snapshotDirectory, Policy policy) {
        Kvm kvm;
        try {
            kvm = Kvm.open(kvmDevice);
        } catch (KvmException e) {
            throw new KvmUnavailable(e);
        }
        MicroVmRunner runner = new MicroVmRunner(kvm, true);
        VmPool pool = new VmPool(runner, new SnapshotStore(snapshotDirectory), policy);
        pool.owned = List.of(runner, kvm);
        return pool;
    }

    /**
     * Prepares {@code version}: starts it from scratch, lets it initialise until it asks for its first event,
     * snapshots it there and keeps the snapshot in the store. Fails with the program's result when it ends
     * before asking for an event.
     */
    public Snapshot prepare(FunctionVersion version) {
        return prepare(version, version.limits().timeoutMillis());
    }

    /**
     * Like {@link #prepare(FunctionVersion)}, with the initialisation (from boot to the first read of the event)
     * bounded by {@code initTimeoutMillis} instead of the version's timeout, as Lambda bounds its Init phase.
     */
    public Snapshot prepare(FunctionVersion version, long initTimeoutMillis) {
        return prepare(version, initTimeoutMillis, CpuLease.DEDICATED);
    }

    /**
     * {@link #prepare(FunctionVersion, long)} with the initialisation on the CPU {@code cpu} lends, held when this is
     * called: a function's init shares the host's CPUs like any of its invocations.
     */
    public Snapshot prepare(FunctionVersion version, long initTimeoutMillis, CpuLease cpu) {
        // A snapshot another build wrote (another guest ABI, image or state layout) is not found: it is taken again.
        Snapshot snapshot = store.current(version.key(), runner.snapshotKind(ENDPOINTS))
                .orElseGet(() -> takeSnapshot(version, initTimeoutMillis, cpu));
        Versioned old = versions.put(version.key(), new Versioned(version, snapshot));
        if (old != null) drain(old);
        return snapshot;
    }

    private Snapshot takeSnapshot(FunctionVersion version, long initTimeoutMillis, CpuLease cpu) {
        MicroVm vm = runner.boot(version.request().withEndpoints(ENDPOINTS)
                .withLimits(version.limits().withTimeoutMillis(initTimeoutMillis)));
        try {
            RunResult r = vm.run(cpu);
            byte[] initError = RuntimeApi.of(vm).initError();
            if (r.outcome() != RunResult.Outcome.WAITING_FOR_EVENT && initError != null) {
                // The runtime said why (a Python handler that does not import: Runtime.ImportModuleError).
                String body = new String(initError, 0, Math.min(initError.length, 2048), java.nio.charset.StandardCharsets.UTF_8);
                throw new IllegalStateException("the runtime's init failed with " + RuntimeApi.of(vm).errorType() + ": " + body);
            }
            if (r.outcome() != RunResult.Outcome.WAITING_FOR_EVENT) {
                throw new IllegalStateException("function " + version.key() + " did not reach its snapshot point "
                        + "(its first read of the event): " + r + " stderr: " + r.stderrText());
            }
            MicroVm.Captured c = vm.capture();
            return store.put(version.key(), runner.snapshotKind(ENDPOINTS), c.memory(), c.usedBytes(), java.util.List.of(c.vcpu()),
                    c.guestState());
        } finally {
            vm.close();
        }
    }

    private Versioned versioned(FunctionVersion version) {
        Versioned v = versions.get(version.key());
        if (v == null) throw new IllegalStateException("function version " + version.key() + " is not prepared");
        return v;
    }

    /** A VM for one invocation of {@code version}: a ready one if there is one, otherwise restored now. */
    public Lease lease(FunctionVersion version) {
        long t0 = System.nanoTime();
        Versioned v = versioned(version);
        v.lastUseNanos = t0;
        lastLeaseNanos = t0;
        v.arrivals.record(t0);
        leasedNow.incrementAndGet();
        v.leased.incrementAndGet();
        MicroVm vm = v.ready.pollFirst();
        StartPath path = StartPath.POOL_HIT;
        if (vm == null) {
            path = StartPath.RESTORE_ON_DEMAND;
            try {
                vm = v.restore();
            } catch (RuntimeException e) {
                leasedNow.decrementAndGet();
                v.leased.decrementAndGet();
                throw e;
            }
        }
        live.put(vm, "Leased");
        long readyNanos = System.nanoTime() - t0;
        // Restore ahead now, not at the next tick, while a core is free for it: the next caller then finds a
        // ready VM. With every core running a VM, a restore beside them only slows them (KVM ioctls of one
        // process contend across threads, BENCHMARKS.md), and the tick keeps the pool filled.
        if (leasedNow.get() < CORES) refill(v);
        return new Lease(v, vm, path, readyNanos);
    }

    /** Leases a VM, delivers {@code event}, runs the handler and returns the result; the VM is then destroyed. */
    public Invocation invoke(FunctionVersion version, RuntimeApi.Event event) {
        return lease(version).invoke(event);
    }

    /**
     * The function's answer: what its runtime posted to the Runtime API, or else its stdout and exit. The
     * handler ran from {@code handlerStart} until it answered (or until {@code runEnd}, the VM's stop).
     */
    static Invocation answer(MicroVm vm, RunResult r, StartPath path, long readyNanos, long initNanos, long deliverNanos,
                             long handlerStart, long runEnd) {
        RuntimeApi api = RuntimeApi.of(vm);
        long answeredAt = api.answeredAtNanos() == 0 ? runEnd : Math.clamp(api.answeredAtNanos(), handlerStart, runEnd);
        byte[] response;
        String errorType;
        if (api.response() != null) {
            response = api.response();
            errorType = null;
        } else if (api.error() != null) {
            response = api.error();
            errorType = api.errorType();
        } else if (r.outcome() == RunResult.Outcome.EXITED && r.exitStatus() == 0) {
            response = r.stdout();
            errorType = null;
        } else {
            response = r.stdout();
            errorType = switch (r.outcome()) {
                case TIMED_OUT -> "Sandbox.Timedout";
                case STOPPED -> "Sandbox.Stopped";
                case EXITED, WAITING_FOR_EVENT -> "Runtime.ExitError";
                default -> "Runtime.Crash";
            };
        }
        return new Invocation(r, response, errorType, path, readyNanos, initNanos, deliverNanos, answeredAt - handlerStart,
                runEnd - answeredAt);
    }

    /** The same invocation with no snapshot: the function starts from scratch (for comparison). */
    public Invocation invokeFresh(FunctionVersion version, RuntimeApi.Event event) {
        long t0 = System.nanoTime();
        MicroVm vm = runner.boot(version.request().withEndpoints(ENDPOINTS));
        try {
            long booted = System.nanoTime();
            RunResult init = vm.run();
            long initialised = System.nanoTime();
            if (init.outcome() != RunResult.Outcome.WAITING_FOR_EVENT) {
                return answer(vm, init, StartPath.FRESH_START, booted - t0, initialised - booted, 0, initialised, initialised);
            }
            RuntimeApi.deliver(vm, event);
            long delivered = System.nanoTime();
            RunResult r = vm.runUntil(RuntimeApi.of(vm)::answered);
            return answer(vm, r, StartPath.FRESH_START, booted - t0, initialised - booted, delivered - initialised,
                    delivered, System.nanoTime());
        } finally {
            destroy(vm);
        }
    }

    /** Forgets {@code version}: destroys its ready VMs and deletes its snapshots. */
    public void remove(FunctionVersion version) {
        Versioned v = versions.remove(version.key());
        if (v != null) drain(v);
        store.delete(version.key());
    }

    /** Destroys {@code v}'s ready VMs; {@code v} is no longer in {@link #versions}, so none is added after. */
    private void drain(Versioned v) {
        synchronized (v) {
            MicroVm vm;
            while ((vm = v.ready.pollFirst()) != null) destroy(vm);
        }
    }

    /**
     * Keeps {@code vm}, restored ahead of demand, ready for {@code v}; or destroys it when {@code v} was removed or
     * replaced while it was restored. Under {@code v}'s lock, as {@link #drain}, so that a VM is never added to a
     * version that was already drained: it would be leaked, with its KVM descriptors.
     */
    private void keepReady(Versioned v, MicroVm vm) {
        synchronized (v) {
            if (versions.get(v.version.key()) == v) {
                v.ready.addLast(vm);
                return;
            }
        }
        destroy(vm);
    }

    private void destroy(MicroVm vm) {
        live.remove(vm);
        destroyingNow.incrementAndGet();
        Runnable teardown = () -> {
            try {
                vm.close();
            } finally {
                destroyingNow.decrementAndGet();
                teardownsSinceTrim.incrementAndGet();
            }
        };
        try {
            reaper.execute(teardown);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            teardown.run(); // the pool is closing: a lease that ends now tears down on its own thread
        }
    }

    /**
     * Starts restores until {@code v} has its target of ready and restoring VMs; returns the target. Called on
     * every tick, and on a lease while a core is free: waiting for the next tick left callers that come
     * faster than one per tick (20 ms) to restore on demand, one after the other.
     */
    private int refill(Versioned v) {
        synchronized (v) {
            int target = v.target();
            for (int have = v.ready.size() + v.restoring.get(); have < target; have++) {
                v.restoring.incrementAndGet();
                try {
                    restorer.execute(() -> {
                        try {
                            if (versions.get(v.version.key()) == v) keepReady(v, v.restore());
                        } catch (RuntimeException e) {
                            LOG.log(System.Logger.Level.WARNING, "a restore ahead of demand failed", e);
                        } finally {
                            v.restoring.decrementAndGet();
                        }
                    });
                } catch (java.util.concurrent.RejectedExecutionException closed) {
                    v.restoring.decrementAndGet(); // the pool is closing
                    break;
                }
            }
            return target;
        }
    }

    /** Sizing, yielding and reclamation, every tick. */
    private void tick() {
        try {
            hostUnderPressure = MemoryStats.readHostAvailableKib() * 1024 < policy.minHostAvailableBytes();
            for (Versioned v : versions.values()) {
                int target = refill(v);
                while (v.ready.size() > target) {
                    MicroVm extra = v.ready.pollLast();
                    if (extra == null) break;
                    destroy(extra);
                }
            }
            // After a burst of teardowns, once the pool is quiet (nothing leased or being destroyed, and no lease
            // for a while), collect so that G1 uncommits the heap the burst grew, then give freed native heap back.
            if (destroyingNow.get() == 0 && leasedNow.get() == 0
                    && teardownsSinceTrim.get() >= policy.trimAfterTeardowns()
                    && System.nanoTime() - lastLeaseNanos >= TimeUnit.MILLISECONDS.toNanos(policy.trimAfterQuietMillis())) {
                teardownsSinceTrim.set(0);
                System.gc();
                Libc.mallocTrim(0);
                trims.incrementAndGet();
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "the pool's tick failed", e);
        }
    }

    /** The pages each restore of {@code version} copies ahead: empty until its first invocation has taught them. */
    public BitSet precopyPages(FunctionVersion version) {
        BitSet pages = versioned(version).precopy;
        return pages == null ? new BitSet() : (BitSet) pages.clone();
    }

    /** VMs in each state, for the dashboard and metrics. */
    public record Counts(int ready, int restoring, int leased, int destroying, long nativeHeapTrims) {}

    public Counts counts() {
        int ready = 0, restoring = 0;
        for (Versioned v : versions.values()) {
            ready += v.ready.size();
            restoring += v.restoring.get();
        }
        return new Counts(ready, restoring, leasedNow.get(), destroyingNow.get(), trims.get());
    }

    public int readyCount(FunctionVersion version) {
        Versioned v = versions.get(version.key());
        return v == null ? 0 : v.ready.size();
    }

    public MemoryStats memory() {
        return MemoryStats.read();
    }

    /** Memory of one live VM's guest memory mapping: resident, proportional (shared pages split), private. */
    public record VmMemory(String state, long rssKib, long pssKib, long privateDirtyKib) {}

    /** Per-VM memory of every VM restored and not yet destroyed, read from {@code /proc/self/smaps}. */
    public List<VmMemory> vmMemory() {
        Map<Long, String> states = new java.util.HashMap<>();
        live.forEach((vm, state) -> states.put(vm.guestMemoryHostAddress(), state));
        List<VmMemory> out = new java.util.ArrayList<>();
        MemoryStats.mappings(states.keySet()).forEach((address, m) ->
                out.add(new VmMemory(states.get(address), m.rssKib(), m.pssKib(), m.privateDirtyKib())));
        return out;
    }

    /** Waits until every VM handed to teardown is destroyed. */
    public void awaitTeardown() throws InterruptedException {
        while (destroyingNow.get() > 0) Thread.sleep(5);
    }

    @Override
    public void close() {
        ticker.shutdownNow();
        finish(restorer);
        for (Versioned v : versions.values()) drain(v);
        versions.clear();
        finish(reaper);
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "closing the pool's " + c.getClass().getSimpleName() + " failed", e);
            }
        }
    }

    /**
     * Lets {@code executor} finish what it was given, however long that takes: a pool that returned from close with
     * teardowns still running would leave VMs (and their KVM descriptors) open behind it. A slow finish is reported
     * every 30 s (a burst of VMs on an emulated host takes minutes to tear down).
     */
    private static void finish(ExecutorService executor) {
        executor.shutdown();
        try {
            while (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.INFO, "still finishing the work given before close");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
