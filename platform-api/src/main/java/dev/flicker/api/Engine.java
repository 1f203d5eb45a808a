package dev.flicker.api;

import dev.flicker.guest.MicroVmRunner;
import dev.flicker.kvm.Kvm;
import dev.flicker.kvm.KvmException;
import dev.flicker.lambda.runtime.RuntimeLayers;
import dev.flicker.pool.VmPool;
import dev.flicker.snapshots.SnapshotStore;
import io.quarkus.runtime.Shutdown;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.nio.file.Path;

/**
 * The VMM behind the API: KVM, the micro VM runner and the pool, opened once when the application starts. On a host
 * where KVM cannot be opened the platform still starts (the API, the database and the dashboard work), and says
 * why it cannot run functions: at start-up, on {@code /admin/overview}, in each function's {@code StateReason}
 * (it stays {@code Pending}) and in the error of each invocation.
 */
@ApplicationScoped
public class Engine {
    private static final Logger LOG = Logger.getLogger(Engine.class);

    private final Kvm kvm;
    private final MicroVmRunner runner;
    private final VmPool pool;
    private final String cannotRunFunctions;
    private final Path dataDir;
    private final RuntimeLayers runtimeLayers;

    public Engine(@ConfigProperty(name = "flicker.data-dir") Path dataDir,
                  @ConfigProperty(name = "flicker.kvm-device", defaultValue = "/dev/kvm") Path kvmDevice,
                  @ConfigProperty(name = "flicker.runtimes-dir") Path runtimesDir) {
        this.dataDir = dataDir;
        this.runtimeLayers = new RuntimeLayers(runtimesDir);
        Kvm opened = null;
        String why = null;
        try {
            opened = Kvm.open(kvmDevice);
        } catch (KvmException e) {
            why = e.getMessage();
            LOG.warnf("this host cannot run functions: %s The API, the database and the dashboard work; functions "
                    + "stay Pending until the platform starts on a host with KVM.", why);
        }
        this.kvm = opened;
        this.cannotRunFunctions = why;
        this.runner = kvm == null ? null : new MicroVmRunner(kvm, true);
        this.pool = kvm == null ? null : new VmPool(runner, new SnapshotStore(dataDir.resolve("snapshots")), VmPool.Policy.DEFAULT);
    }

    /** Null when this host runs functions; otherwise why it cannot (KVM's message: what is missing and how to get it). */
    public String cannotRunFunctions() {
        return cannotRunFunctions;
    }

    /** The pool; null on a host that cannot run functions ({@link #cannotRunFunctions}). */
    public VmPool pool() {
        return pool;
    }

    /** The error an invocation gets on a host that cannot run functions: Lambda's shape, never a 500. */
    LambdaError cannotRunError() {
        return new LambdaError(502, "ResourceNotReadyException", "This Flicker host cannot run functions: " + cannotRunFunctions);
    }

    public Path dataDir() {
        return dataDir;
    }

    /** The runtime layers of this host (the python3.11 one, built by runtimes/python3.11/build.sh). */
    public RuntimeLayers runtimeLayers() {
        return runtimeLayers;
    }

    @Shutdown
    void close() {
        if (pool != null) pool.close();
        if (runner != null) runner.close();
        if (kvm != null) kvm.close();
        runtimeLayers.close();
    }
}
