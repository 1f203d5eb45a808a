package dev.flicker.api;

import dev.flicker.guest.MicroVmRunner;
import dev.flicker.kvm.Kvm;
import dev.flicker.pool.VmPool;
import dev.flicker.snapshots.SnapshotStore;
import io.quarkus.runtime.Shutdown;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.nio.file.Path;

/** The VMM behind the API: KVM, the micro VM runner and the pool, opened once when the application starts. */
@ApplicationScoped
public class Engine {
    private final Kvm kvm;
    private final MicroVmRunner runner;
    private final VmPool pool;
    private final Path dataDir;

    public Engine(@ConfigProperty(name = "flicker.data-dir") Path dataDir) {
        this.dataDir = dataDir;
        this.kvm = Kvm.open();
        this.runner = new MicroVmRunner(kvm, true);
        this.pool = new VmPool(runner, new SnapshotStore(dataDir.resolve("snapshots")), VmPool.Policy.DEFAULT);
    }

    public VmPool pool() {
        return pool;
    }

    public Path dataDir() {
        return dataDir;
    }

    @Shutdown
    void close() {
        pool.close();
        runner.close();
        kvm.close();
    }
}
