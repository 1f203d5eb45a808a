package dev.flicker.guest.kernel;

import java.lang.management.ManagementFactory;
import java.time.Instant;

import static dev.flicker.guest.abi.Time.*;

/**
 * The clocks the program reads, always the host's at the moment of the call, so that a VM restored from a snapshot
 * is never in the past; and the CPU time of this VM's runs.
 */
public final class Clocks {
    /** For sysinfo's uptime: this kernel's start (a boot or a restore), not the host's. */
    private final long startedNanos = System.nanoTime();
    /**
     * CPU time of this VM's runs: the host thread's CPU clock counted only while it runs this VM. The thread also runs
     * other VMs (a pooled request thread), and they must neither show in this VM's clock nor be measurable from it.
     */
    private long cpuNanosOfEndedRuns, runCpuStartNanos = -1;

    public static long realtimeNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * NANOS_PER_SECOND + now.getNano();
    }

    /** {@code clock}'s time now in nanoseconds, or -1 for a clock the micro guest does not have. */
    public long nanos(long clock) {
        return switch ((int) clock) {
            case CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_REALTIME_ALARM, CLOCK_TAI -> realtimeNanos();
            case CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM ->
                    System.nanoTime();
            case CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID -> cpuNanos();
            default -> -1;
        };
    }

    public long uptimeSeconds() {
        return (System.nanoTime() - startedNanos) / NANOS_PER_SECOND;
    }

    private static long threadCpuNanos() {
        return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    private long cpuNanos() {
        return cpuNanosOfEndedRuns + (runCpuStartNanos < 0 ? 0 : threadCpuNanos() - runCpuStartNanos);
    }

    /** The run loop calls this when it starts running this VM on the current thread ... */
    public void runStarted() {
        runCpuStartNanos = threadCpuNanos();
    }

    /** ... and this when it stops. */
    public void runEnded() {
        if (runCpuStartNanos >= 0) cpuNanosOfEndedRuns += threadCpuNanos() - runCpuStartNanos;
        runCpuStartNanos = -1;
    }
}
