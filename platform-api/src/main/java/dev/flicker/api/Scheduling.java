package dev.flicker.api;

import dev.flicker.scheduler.Scheduler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.nio.file.Path;

/**
 * The scheduler this platform runs every function through, made once from the configuration and closed when the
 * application stops. On a host where KVM cannot be opened the platform still starts (the API, the database and the
 * dashboard work) and says why it cannot run functions: at start-up, on {@code /admin/overview}, in each function's
 * {@code StateReason} (it stays {@code Pending}) and in the error of each invocation.
 */
@ApplicationScoped
public class Scheduling {
    private static final Logger LOG = Logger.getLogger(Scheduling.class);

    @Produces
    @Singleton
    Scheduler scheduler(@ConfigProperty(name = "flicker.data-dir") Path dataDir,
                        @ConfigProperty(name = "flicker.kvm-device", defaultValue = "/dev/kvm") Path kvmDevice,
                        @ConfigProperty(name = "flicker.runtimes-dir") Path runtimesDir,
                        @ConfigProperty(name = "flicker.max-concurrency") int maxConcurrency,
                        @ConfigProperty(name = "flicker.scheduler.slice-millis") long sliceMillis,
                        @ConfigProperty(name = "flicker.function.prepare-threads") int prepareThreads,
                        @ConfigProperty(name = "flicker.function.init-timeout-seconds") int initTimeoutSeconds) {
        if (initTimeoutSeconds < 1) throw new IllegalArgumentException("flicker.function.init-timeout-seconds must be at least 1");
        Scheduler scheduler = new Scheduler(new Scheduler.Settings(kvmDevice, dataDir.resolve("snapshots"), runtimesDir,
                maxConcurrency, Scheduler.Settings.cores(), sliceMillis, prepareThreads, initTimeoutSeconds * 1000L));
        if (scheduler.cannotRunFunctions() != null) {
            LOG.warnf("this host cannot run functions: %s The API, the database and the dashboard work; functions "
                    + "stay Pending until the platform starts on a host with KVM.", scheduler.cannotRunFunctions());
        }
        return scheduler;
    }

    void close(@Disposes Scheduler scheduler) {
        scheduler.close();
    }

    /** The error an invocation gets on a host that cannot run functions: Lambda's shape, never a 500. */
    static LambdaError cannotRunError(String reason) {
        return new LambdaError(502, "ResourceNotReadyException", "This Flicker host cannot run functions: " + reason);
    }
}
