package dev.flicker.api;

import dev.flicker.lambda.runtime.LambdaRuntime;
import dev.flicker.lambda.runtime.RuntimeApi;
import dev.flicker.scheduler.FunctionSpec;
import dev.flicker.scheduler.Scheduler;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.vertx.VertxContextSupport;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

/**
 * Prepares each version's snapshot on the {@link Scheduler}: deploys the version under its {@link FunctionRef#key()}
 * (its runtime initialises in a fresh VM until it asks for its first event, where the snapshot is taken) and records
 * in the {@link FunctionRegistry} how that ended. Whatever goes wrong on the way, the version ends Active or Failed:
 * never Pending for good, which would refuse every later update with a 409.
 */
@ApplicationScoped
public class Preparation {
    private static final Logger LOG = Logger.getLogger(Preparation.class);
    /** How often a state that could not be recorded (a database fault) is tried, a second more apart each time. */
    private static final int SETTLE_ATTEMPTS = 5;

    private final Scheduler scheduler;
    private final CodeStore codeStore;
    private final FunctionRegistry registry;
    private final Vertx vertx;

    public Preparation(Scheduler scheduler, CodeStore codeStore, FunctionRegistry registry, Vertx vertx) {
        this.scheduler = scheduler;
        this.codeStore = codeStore;
        this.registry = registry;
        this.vertx = vertx;
    }

    /** After a restart, every stored function and version gets its runtime back; snapshots are read from disk, not taken again. */
    void onStart(@Observes StartupEvent event) {
        // Awaited on the main thread while the platform starts (never on an event loop): until the snapshots are
        // loaded again, each version must say Pending, not the Active it was, as invocations get a 409 meanwhile.
        FunctionRegistry.Stored stored;
        try {
            stored = VertxContextSupport.subscribeAndAwait(registry::markAllRestoring);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot read the stored functions: " + t.getMessage(), t);
        }
        for (FunctionRecord f : stored.functions()) {
            if (f.reservedConcurrency != null) scheduler.reserve(f.name, f.reservedConcurrency);
            prepare(FunctionRef.latest(f.name), f);
        }
        for (FunctionVersionRecord v : stored.versions()) prepare(versionRef(v), v);
        if (!stored.functions().isEmpty()) {
            LOG.infof("restored %d functions and %d published versions", stored.functions().size(), stored.versions().size());
        }
    }

    static FunctionRef versionRef(FunctionVersionRecord v) {
        return new FunctionRef(v.functionName, Integer.toString(v.version));
    }

    /**
     * Deploys {@code ref} from its stored configuration {@code c} (which says Pending), replacing what ran before; the
     * scheduler prepares its snapshot, and its state is recorded when that ends. Opens the version's code: a blocking
     * call, made off the event loop.
     */
    void prepare(FunctionRef ref, FunctionConfig c) {
        String lastModified = c.lastModified;
        FunctionSpec spec;
        try {
            spec = spec(ref, c);
        } catch (RuntimeException e) {
            LOG.warnf(e, "function %s cannot be set up", ref.key());
            scheduler.remove(ref.key()); // what ran before no longer matches the stored configuration
            settle(ref, lastModified, null, new Scheduler.Prepared.Failed("The function cannot be set up: " + e.getMessage()));
            return;
        }
        scheduler.deploy(ref.key(), spec, (deployment, outcome) -> settle(ref, lastModified, deployment, outcome));
    }

    /**
     * Records how preparing {@code ref} ended: Active, or Failed with the reason (made one safe line: a guest's stderr in
     * it may hold NUL, which PostgreSQL refuses), or still Pending on a host that cannot run functions. A database fault
     * is retried for a while. {@code deployment} is what was prepared (null when nothing could be set up): when it was
     * replaced meanwhile, its successor settles the state instead. It runs only once Active is recorded. Called on a
     * preparer thread; the database work runs on a Vert.x context of its own, and the thread does not wait for it.
     */
    private void settle(FunctionRef ref, String lastModified, Scheduler.Deployment deployment, Scheduler.Prepared outcome) {
        FunctionState next;
        String reason, reasonCode;
        switch (outcome) {
            case Scheduler.Prepared.Ready ready -> {
                next = FunctionState.Active;
                reason = null;
                reasonCode = null;
            }
            case Scheduler.Prepared.Failed failed -> {
                next = FunctionState.Failed;
                reason = GuestText.line(failed.reason());
                reasonCode = "InvalidRuntime";
            }
            case Scheduler.Prepared.CannotRunHere cannot -> {
                // Nothing is wrong with the function: this host cannot run any. It stays Pending, saying why, and is
                // prepared when the platform starts on a host with KVM.
                next = FunctionState.Pending;
                reason = GuestText.line("This host cannot run functions: " + cannot.reason());
                reasonCode = "Creating";
            }
        }
        Contexts.run(vertx, () -> Uni.createFrom().deferred(() -> deployment != null && !deployment.current()
                                ? Uni.createFrom().item(false)
                                : registry.settle(ref, lastModified, next, reason, reasonCode))
                        .onFailure().retry().withBackOff(Duration.ofSeconds(1)).atMost(SETTLE_ATTEMPTS - 1),
                recorded -> {
                    if (!recorded) return;
                    switch (next) {
                        case Active -> {
                            if (deployment.current()) deployment.activate();
                            LOG.infof("function %s is Active", ref.key());
                        }
                        case Failed -> LOG.warnf("function %s failed: %s", ref.key(), reason);
                        case Pending -> { }
                    }
                }, e -> LOG.errorf(e, "cannot record the state of %s; the platform tries again at its next start", ref.key()));
    }

    /** The environment Lambda gives a runtime, the limits, and a version key that changes with anything that runs. */
    private FunctionSpec spec(FunctionRef ref, FunctionConfig c) {
        Map<String, String> env = new TreeMap<>(registry.environment(c));
        env.put("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:" + RuntimeApi.PORT);
        env.put("_HANDLER", c.handler);
        env.put("LAMBDA_TASK_ROOT", "/var/task");
        env.put("AWS_LAMBDA_FUNCTION_NAME", ref.name());
        env.put("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", Integer.toString(c.memoryMb));
        env.put("AWS_LAMBDA_FUNCTION_VERSION", ref.qualifier());
        env.put("AWS_REGION", FunctionRegistry.REGION);
        env.put("AWS_DEFAULT_REGION", FunctionRegistry.REGION);
        env.put("PATH", "/var/task:/usr/bin:/bin");
        env.put("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + ref.name());
        env.put("AWS_LAMBDA_LOG_STREAM_NAME", "flicker/[" + ref.qualifier() + "]" + ref.name());
        env.put("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
        // What the runtime starts (the zip's bootstrap, or python3.11 from its layer) and what it adds to Lambda's.
        LambdaRuntime launch = LambdaRuntime.of(c.runtime).orElseThrow(() -> new IllegalStateException("unknown runtime " + c.runtime));
        env.putAll(launch.env());
        // The layer's own id (which changes with its content) is added to the key by the scheduler, which opens it.
        String runs = c.codeSha256 + "|" + launch.name();
        String key = ref.name() + "-" + versionHash(runs, c.memoryMb, c.timeoutSeconds, env);
        return new FunctionSpec(ref.name(), key, codeStore.directory(c.codeDir), launch.program(), launch.args(), launch.layer(),
                env, c.memoryMb, c.timeoutSeconds * 1000L);
    }

    private static String versionHash(String codeSha, int memory, int timeout, Map<String, String> env) {
        return Sha256.hex(Sha256.of(codeSha + "|" + memory + "|" + timeout + "|" + env)).substring(0, 16);
    }
}
