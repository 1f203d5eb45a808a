package dev.flicker.guest;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * How a program run ended and what it produced. {@code outcome} says which ending; {@code detail} explains
 * anything but a normal exit in words (the signal, the faulting address, the limit reached).
 */
public record RunResult(Outcome outcome, int exitStatus, int signal, String detail, byte[] stdout, byte[] stderr,
                        long stdoutDroppedBytes, long stderrDroppedBytes, Timings timings, ExitCounts exits) {

    public enum Outcome {
        /** The program called exit or exit_group. */
        EXITED,
        /** The program faulted (bad memory access, invalid instruction, division by zero...). */
        CRASHED,
        /** The program was stopped at its deadline. */
        TIMED_OUT,
        /** The program could not be started (not a static x86-64 executable, too big for its memory...). */
        FAILED_TO_START,
        /** The program asked for its event (read on stdin) before it was given: the snapshot point. */
        WAITING_FOR_EVENT,
        /**
         * The program's runtime posted its response or error to the Runtime API, and the run was asked to stop
         * there ({@code MicroVm.runUntilAnswered}): what the runtime would do after it did not run.
         */
        ANSWERED,
        /** The runner was closed while the program ran (the platform is shutting down). */
        STOPPED
    }

    /**
     * Wall-clock time of each phase of a run, in nanoseconds. The first three are how the VM was made, and only the
     * first run of a VM reports them (a run after {@code MicroVm.deliver} reports 0); they mean, for a fresh start
     * ({@code MicroVmRunner.run} or {@code boot}) and for a restore ({@code MicroVmRunner.restore}):
     * <ul>
     * <li>{@code createVmNanos}: the KVM VM created and its guest memory registered; for a fresh start that memory
     *     is new anonymous memory, for a restore the snapshot's, which the caller mapped before (not counted). A run
     *     that could not start ({@code FAILED_TO_START}) reports all its time here.
     * <li>{@code loadNanos}: a fresh start writes the guest image, its kernel window and page tables, builds the file
     *     tree and {@code /tmp}, and loads the program (its interpreter too) and its stack; a restore reads the guest
     *     state of the snapshot instead: the address space, {@code /tmp}, the loopback network and the kernel's state.
     * <li>{@code vcpuSetupNanos}: the vCPU created and set up, with the host half of the kernel made and the vDSO's
     *     clock page written; a fresh start sets its CPUID, registers, descriptors and MSRs for the program's entry, a
     *     restore its CPUID and the registers and MSRs the snapshot saved.
     * <li>{@code runNanos}: the program ran, from its (re)start to the end of the run.
     * <li>{@code teardownNanos}: the VM destroyed, by {@code MicroVmRunner.run} on the caller's thread; 0 when the
     *     runner destroys VMs in the background, and from {@code MicroVm.run}, which leaves the VM to its owner.
     * </ul>
     */
    public record Timings(long createVmNanos, long loadNanos, long vcpuSetupNanos, long runNanos, long teardownNanos) {
        public long totalNanos() {
            return createVmNanos + loadNanos + vcpuSetupNanos + runNanos + teardownNanos;
        }
    }

    /** How often the guest left to the host, by kind, and the system calls it made by name. */
    public record ExitCounts(long hostCalls, long exceptions, long otherExits, long unknownSyscalls,
                             Map<String, Long> syscalls) {}

    public String stdoutText() {
        return new String(stdout, StandardCharsets.UTF_8);
    }

    public String stderrText() {
        return new String(stderr, StandardCharsets.UTF_8);
    }

    public boolean exitedWith(int status) {
        return outcome == Outcome.EXITED && exitStatus == status;
    }

    @Override
    public String toString() {
        return "RunResult[" + outcome + " status=" + exitStatus + " signal=" + signal + " detail=" + detail
                + " stdout=" + stdout.length + "B stderr=" + stderr.length + "B]";
    }
}
