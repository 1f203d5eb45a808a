package dev.flicker.scheduler;

import dev.flicker.guest.Limits;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.Layer;
import dev.flicker.lambda.runtime.RuntimeApi;
import dev.flicker.lambda.runtime.RuntimeLayers;
import dev.flicker.pool.FunctionVersion;
import dev.flicker.pool.Invocation;
import dev.flicker.pool.MemoryStats;
import dev.flicker.pool.VmPool;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Where and when functions run: the one facade the platform's API talks to for everything that runs a VM.
 *
 * <ul>
 *   <li><b>What runs</b>: function versions deployed under keys ({@link #deploy}, {@link #remove}). Deploying prepares
 *       the version's snapshot in the background, on the preparer threads, the tasks of one key in order; the caller
 *       hears how it ended ({@link Settled}) and {@link Deployment#activate activates} it.</li>
 *   <li><b>Admission</b>: a global concurrency limit and reserved concurrency per function ({@link Admission}); past
 *       them an invocation is refused at once ({@link Admission.TooManyRequests}).</li>
 *   <li><b>The run slots</b>: one VM runs per core ({@link RunSlots}), shared fairly between functions and in time
 *       slices; a function's initialisation takes a slot like its invocations.</li>
 *   <li><b>The start path</b>: a VM restored ahead of demand, or one restored now, is the pool's to give
 *       ({@link VmPool#lease}), since which it is depends only on what the pool holds (docs/vm-pool.md).</li>
 *   <li><b>Event invocations</b>: workers take them from the platform's durable queue as they come due
 *       ({@link #dispatchEvents}) and run them as {@link #invoke} does.</li>
 * </ul>
 *
 * <p>On a host where KVM cannot be opened the scheduler still starts: {@link #cannotRunFunctions} says why, versions are
 * never prepared ({@link Prepared.CannotRunHere}) and invocations are refused ({@link HostCannotRun}).
 */
public final class Scheduler implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Scheduler.class.getName());

    /**
     * The scheduler's knobs: where KVM is, where snapshots are kept, where the host's runtime layers are
     * ({@link RuntimeLayers}), the global concurrency limit, the run slots (one per core) and their time slice, the
     * preparer threads, and the bound on a function's initialisation (Lambda's Init phase).
     */
    public record Settings(Path kvmDevice, Path snapshotDirectory, Path runtimesDirectory, int maxConcurrency, int runSlots,
                           long sliceMillis, int prepareThreads, long initTimeoutMillis) {
        public Settings {
            if (runSlots < 1) throw new IllegalArgumentException("run slots must be at least 1, was " + runSlots);
            if (sliceMillis < 1) throw new IllegalArgumentException("the time slice must be at least 1 ms, was " + sliceMillis);
            if (prepareThreads < 1) throw new IllegalArgumentException("prepare threads must be at least 1, was " + prepareThreads);
            if (initTimeoutMillis < 1) throw new IllegalArgumentException("the init timeout must be positive, was " + initTimeoutMillis);
        }

        /** One run slot per core of this host. */
        public static int cores() {
            return Runtime.getRuntime().availableProcessors();
        }
    }

    /**
     * One invocation to run: its request id, its event, the function's ARN and trace id for the Runtime API's headers,
     * and when the request was accepted ({@link System#nanoTime}), from which its queued phase is counted.
     */
    public record Request(String requestId, byte[] payload, String functionArn, String traceId, long acceptedNanos) {}

    /** How preparing a deployment ended. */
    public sealed interface Prepared {
        /** The snapshot is taken (or was found on disk): the deployment can be activated. */
        record Ready() implements Prepared {}

        /** The version cannot run: its code could not be opened, or its runtime did not initialise; {@code reason} says how. */
        record Failed(String reason) implements Prepared {}

        /** Nothing is wrong with the version: this host cannot run functions ({@code reason} is KVM's message). */
        record CannotRunHere(String reason) implements Prepared {}
    }

    /** Hears how preparing a deployment ended, on a preparer thread, before that key's next task. */
    @FunctionalInterface
    public interface Settled {
        void settled(Deployment deployment, Prepared outcome);
    }

    /** Refused: nothing active runs under the key (never deployed, removed, or not prepared yet). */
    public static final class NotReady extends RuntimeException {
        NotReady(String key) {
            super("no active version runs under " + key);
        }
    }

    /** Refused: this host cannot run functions; the message is KVM's (what is missing, how to get it). */
    public static final class HostCannotRun extends RuntimeException {
        HostCannotRun(String reason) {
            super(reason);
        }
    }

    /** Refused: the scheduler is closing, and runs nothing more. */
    public static final class Stopping extends RuntimeException {
        Stopping() {
            super("the platform is stopping");
        }
    }

    /**
     * One version deployed under a key: its code, its runtime layer, its pool version (keyed by the spec's key and the
     * layer's id), and whether invocations may run it.
     */
    public final class Deployment {
        private final String key;
        private final FunctionSpec spec;
        /** Null when the version could not be set up ({@link #setupFailure} says why). */
        private final Bundle bundle;
        private final FunctionVersion version;
        private final String setupFailure;
        private volatile boolean active;

        private Deployment(String key, FunctionSpec spec) {
            this.key = key;
            this.spec = spec;
            Bundle opened = null;
            Layer layer = null;
            String failure = null;
            try {
                if (!Files.isDirectory(spec.codeDirectory())) throw new IllegalStateException("its code is gone from the platform's code store");
                opened = Bundle.open(spec.codeDirectory());
                layer = spec.layer() == null ? null : runtimeLayers.layer(spec.layer()); // says how to build it when missing
            } catch (RuntimeException e) {
                failure = e.getMessage();
                if (opened != null) opened.close();
                opened = null;
            }
            this.bundle = opened;
            this.setupFailure = failure;
            this.version = opened == null ? null : new FunctionVersion(spec.versionKey() + (layer == null ? "" : "-" + layer.id()),
                    opened, spec.program(), spec.args(), spec.environment(),
                    Limits.DEFAULT.withMemoryMib(spec.memoryMib()).withTimeoutMillis(spec.timeoutMillis()), layer);
        }

        public String key() {
            return key;
        }

        /** True while this is what runs under its key: no later {@link #deploy} or {@link #remove} of the key came. */
        public boolean current() {
            return deployments.get(key) == this;
        }

        /** Invocations may run it from now (once the caller recorded it as ready). */
        public void activate() {
            active = true;
        }
    }

    private final Admission admission;
    private final RunSlots slots;
    /** The host's runtime layers, each opened once and shared by every version on it. */
    private final RuntimeLayers runtimeLayers;
    /** Null when this host cannot run functions. */
    private final VmPool pool;
    private final String cannotRunFunctions;
    private final long initTimeoutMillis;
    /** By key, what runs there. */
    private final Map<String, Deployment> deployments = new ConcurrentHashMap<>();
    /** Threads that prepare snapshots (each runs a function's initialisation on a run slot, bounded by the init timeout). */
    private final ExecutorService preparers;
    /** The last task given for each key: the tasks of one key run in order, one at a time. */
    private final Map<String, CompletableFuture<Void>> preparing = new ConcurrentHashMap<>();
    private final List<Dispatch> dispatches = new ArrayList<>();

    /** A scheduler on this host's KVM; on a host without, one that says why ({@link #cannotRunFunctions}). */
    public Scheduler(Settings settings) {
        VmPool opened = null;
        String why = null;
        try {
            opened = VmPool.open(settings.kvmDevice(), settings.snapshotDirectory(), VmPool.Policy.DEFAULT);
        } catch (VmPool.KvmUnavailable e) {
            why = e.getMessage();
        }
        this.pool = opened;
        this.cannotRunFunctions = why;
        this.runtimeLayers = new RuntimeLayers(settings.runtimesDirectory());
        this.admission = new Admission(settings.maxConcurrency());
        this.slots = new RunSlots(settings.runSlots(), TimeUnit.MILLISECONDS.toNanos(settings.sliceMillis()), System::nanoTime)
                .startSlicer();
        this.initTimeoutMillis = settings.initTimeoutMillis();
        this.preparers = Executors.newFixedThreadPool(settings.prepareThreads(),
                Thread.ofPlatform().name("function-prepare-", 0).daemon().factory());
    }

    /** Null when this host runs functions; otherwise why it cannot (KVM's message: what is missing and how to get it). */
    public String cannotRunFunctions() {
        return cannotRunFunctions;
    }

    // ---- what runs ----

    /**
     * Runs {@code spec} under {@code key} from now on. What ran there before is replaced at once (invocations get
     * {@link NotReady} until this one is activated) and dropped on the preparer (its VMs and snapshot, unless this
     * version is the same); then this version's snapshot is prepared and {@code settled} hears how that ended.
     */
    public Deployment deploy(String key, FunctionSpec spec, Settled settled) {
        Deployment next = new Deployment(key, spec);
        Deployment old = deployments.put(key, next);
        onPreparer(key, () -> {
            if (old != null) retire(old, next);
            prepare(next, settled);
        });
        return next;
    }

    /** Nothing runs under {@code key} any more; its VMs and snapshot are dropped on the preparer, after its earlier tasks. */
    public void remove(String key) {
        Deployment d = deployments.remove(key);
        if (d != null) onPreparer(key, () -> retire(d, null));
    }

    /** {@link #remove}s every key {@code function}'s versions run under. */
    public void removeFunction(String function) {
        for (Deployment d : List.copyOf(deployments.values())) {
            if (d.spec.function().equals(function)) remove(d.key);
        }
    }

    /** True when something was deployed under {@code key} and not removed since (active or not). */
    public boolean isDeployed(String key) {
        return deployments.containsKey(key);
    }

    /** Drops {@code old}'s VMs and snapshot and closes its code, unless {@code next} runs the same version. */
    private void retire(Deployment old, Deployment next) {
        if (old.version == null) return;
        if (next != null && next.version != null && next.version.key().equals(old.version.key())) return;
        if (pool != null) pool.remove(old.version);
        old.bundle.close();
    }

    /** Takes {@code d}'s snapshot, its initialisation on a run slot and bounded by the init timeout, and says how it ended. */
    private void prepare(Deployment d, Settled settled) {
        if (!d.current()) return; // replaced or removed meanwhile: its successor settles the state
        if (d.setupFailure != null) {
            settled.settled(d, new Prepared.Failed("The function cannot be set up: " + d.setupFailure));
            return;
        }
        if (cannotRunFunctions != null) {
            settled.settled(d, new Prepared.CannotRunHere(cannotRunFunctions));
            return;
        }
        String failure = "The platform stopped while it prepared the function.";
        try (RunSlots.Ticket cpu = slots.ticket(d.spec.function())) {
            if (cpu.acquire()) {
                pool.prepare(d.version, initTimeoutMillis, cpu);
                failure = null;
            }
        } catch (RuntimeException e) {
            failure = "The function did not initialise (in at most " + initTimeoutMillis / 1000 + " s): " + e.getMessage();
        } finally {
            settled.settled(d, failure == null ? new Prepared.Ready() : new Prepared.Failed(failure)); // even after an Error
        }
    }

    /** Runs {@code task} on a preparer thread after every task given before for {@code key}; other keys go in parallel. */
    private void onPreparer(String key, Runnable task) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        CompletableFuture<Void> before = preparing.put(key, done);
        Runnable run = () -> {
            try {
                task.run();
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, "preparing " + key + " failed", t);
            } finally {
                preparing.remove(key, done);
                done.complete(null);
            }
        };
        if (before == null) preparers.execute(run);
        else before.whenComplete((v, e) -> preparers.execute(run));
    }

    // ---- admission ----

    /**
     * Sets (or with {@code null} removes) {@code function}'s reserved concurrency; throws IllegalArgumentException when
     * that would leave the platform no unreserved slot.
     */
    public void reserve(String function, Integer slots) {
        admission.reserve(function, slots);
    }

    public int concurrencyLimit() {
        return admission.globalLimit();
    }

    /** Invocations of {@code function} admitted and not finished (waiting for a run slot or running). */
    public int inFlight(String function) {
        return admission.inFlight(function);
    }

    public int inFlightTotal() {
        return admission.inFlightTotal();
    }

    // ---- running ----

    /**
     * Runs one invocation of what runs under {@code key} in a VM of its own: admits it (or throws
     * {@link Admission.TooManyRequests}), waits for a run slot in its function's turn, leases a VM (a ready one, or one
     * restored now), delivers the event and runs the handler until it answers or its timeout, sharing the slot in time
     * slices. Throws {@link NotReady} when nothing active runs under {@code key}, {@link HostCannotRun} on a host
     * without KVM, and {@link Stopping} when the scheduler closes while the invocation waits.
     */
    public Invoked invoke(String key, Request request) {
        if (cannotRunFunctions != null) throw new HostCannotRun(cannotRunFunctions);
        Deployment d = deployments.get(key);
        if (d == null || !d.active) throw new NotReady(key);
        String function = d.spec.function();
        try (Admission.Permit permit = admission.admit(function); RunSlots.Ticket cpu = slots.ticket(function)) {
            if (!cpu.acquire()) throw new Stopping();
            long queuedNanos = System.nanoTime() - request.acceptedNanos();
            // The timeout runs from here, as on Lambda: the wait for a first slot is the platform's, not the function's.
            RuntimeApi.Event event = new RuntimeApi.Event(request.payload(), request.requestId(),
                    System.currentTimeMillis() + d.spec.timeoutMillis(), request.functionArn(), request.traceId());
            return invoked(pool.lease(d.version).invoke(event, cpu), queuedNanos, d.spec);
        }
    }

    private static Invoked invoked(Invocation inv, long queuedNanos, FunctionSpec spec) {
        StartPath path = switch (inv.startPath()) {
            case POOL_HIT -> StartPath.POOL_HIT;
            case RESTORE_ON_DEMAND -> StartPath.RESTORE_ON_DEMAND;
            case FRESH_START -> StartPath.FRESH_START;
        };
        RunResult r = inv.result();
        return new Invoked(inv.response(), inv.errorType(), path, queuedNanos, inv.vmReadyNanos(), inv.initNanos(),
                inv.deliverNanos(), inv.handlerNanos(), inv.responseNanos(), r.stdout(), r.stderr(),
                r.stdoutDroppedBytes() + r.stderrDroppedBytes(), spec.memoryMib(), spec.timeoutMillis());
    }

    /** Workers that run Event invocations from a queue; closing stops them (an attempt that runs ends first). */
    public final class Dispatch implements AutoCloseable {
        private final List<Thread> workers = new ArrayList<>();
        private volatile boolean running = true;

        @Override
        public void close() {
            running = false;
            workers.forEach(Thread::interrupt);
        }
    }

    /**
     * Starts {@code workers} threads that run Event invocations as they come due in {@code queue}: each claims one, runs
     * it as {@link #invoke} does (admission, a run slot in its function's turn), and tells the queue how it went. With
     * nothing due, a worker looks again 50 ms later.
     */
    public <E extends EventQueue.Due> Dispatch dispatchEvents(EventQueue<E> queue, int workers) {
        Dispatch dispatch = new Dispatch();
        for (int i = 0; i < workers; i++) {
            dispatch.workers.add(Thread.ofPlatform().daemon().name("event-dispatch-" + i).start(() -> dispatch(queue, dispatch)));
        }
        synchronized (dispatches) {
            dispatches.add(dispatch);
        }
        return dispatch;
    }

    private <E extends EventQueue.Due> void dispatch(EventQueue<E> queue, Dispatch dispatch) {
        while (dispatch.running) {
            try {
                E due = queue.claim();
                if (due == null) {
                    Thread.sleep(50);
                    continue;
                }
                Invoked outcome;
                try {
                    outcome = invoke(due.key(), due.request());
                } catch (RuntimeException e) {
                    queue.refused(due, e);
                    continue;
                }
                queue.ran(due, outcome);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                if (!dispatch.running) return;
                LOG.log(System.Logger.Level.WARNING, "event dispatch: " + e.getMessage());
                try {
                    Thread.sleep(500);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    // ---- figures ----

    /** The VM pool's counts and memory; null on a host that cannot run functions. */
    public Figures.Pool poolFigures() {
        if (pool == null) return null;
        VmPool.Counts c = pool.counts();
        MemoryStats m = pool.memory();
        List<Figures.Vm> vms = pool.vmMemory().stream()
                .map(v -> new Figures.Vm(v.state(), v.rssKib(), v.pssKib(), v.privateDirtyKib())).toList();
        return new Figures.Pool(c.ready(), c.restoring(), c.leased(), c.destroying(), c.nativeHeapTrims(),
                new Figures.Memory(m.rssKib(), m.pssKib(), m.sharedCleanKib(), m.privateDirtyKib(), m.hostAvailableKib()), vms);
    }

    public Figures.RunSlots runSlotFigures() {
        RunSlots.Figures f = slots.figures();
        return new Figures.RunSlots(f.slots(), f.running(), f.waiting(), f.preemptions(), slots.sliceNanos() / 1e6);
    }

    /**
     * Stops Event dispatch, stops lending run slots (waiting invocations end with {@link Stopping}), then closes the
     * pool, which stops the VMs still running and closes KVM, and last the runtime layers.
     */
    @Override
    public void close() {
        synchronized (dispatches) {
            dispatches.forEach(Dispatch::close);
        }
        slots.close();
        preparers.shutdownNow();
        if (pool != null) pool.close();
        runtimeLayers.close(); // after the pool: its VMs map the layers' files
    }
}
