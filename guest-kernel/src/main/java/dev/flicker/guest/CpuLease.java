package dev.flicker.guest;

/**
 * The host CPU a VM runs on, as its owner lends it (the platform's run slots: one VM per core). The VM holds it when
 * {@link MicroVm#run(CpuLease)} begins. The run loop asks {@link #preempted()} before every entry into the guest;
 * when the owner takes the CPU back (a time slice ended while another VM waits), it sets that and calls the kick the
 * run loop gave it ({@link #running}), which makes the vCPU leave {@code KVM_RUN} as soon as its thread runs. The
 * owner need not wait for that: a kicked vCPU runs no more guest code. The run loop then gives the CPU back
 * ({@link #release()}, nothing when it was taken already) and waits for it again ({@link #acquire}); the program goes
 * on where it stopped. A program that blocks in the host (a sleep, a write that waits for room) gives the CPU back
 * while it waits.
 *
 * <p>The guest kernel knows nothing of functions or of how the owner shares its CPUs: this is the whole contract.
 * {@link #preempted()} is called at every exit, so it must be a plain read that allocates nothing.
 */
public interface CpuLease {
    /** A CPU of the VM's own, never asked back: runs outside a scheduler (tools, tests, benchmarks). */
    CpuLease DEDICATED = new CpuLease() {
        @Override
        public void running(Runnable kick) {
        }

        @Override
        public boolean preempted() {
            return false;
        }

        @Override
        public void release() {
        }

        @Override
        public boolean acquire(long deadlineNanos) {
            return true;
        }
    };

    /**
     * The run loop's vCPU is in the guest from now on and leaves {@code KVM_RUN} when {@code kick} runs (from any
     * thread); null when the run loop stops. A kick that comes when no run loop is there does nothing.
     */
    void running(Runnable kick);

    /**
     * True when the run loop must not enter the guest again before it gave the CPU back and got it again: the owner
     * took it back or wants it back, or it is not held (a wait for it in the host ended without it).
     */
    boolean preempted();

    /** Gives the CPU back (to the next VM that waits for one); nothing when it is not held. */
    void release();

    /**
     * Waits for the CPU again, until {@code deadlineNanos} ({@link System#nanoTime()}): true once it is held, false when
     * the deadline came first or the owner stopped lending (the run then ends without it).
     */
    boolean acquire(long deadlineNanos);
}
