package dev.flicker.scheduler;

import java.util.List;

/** What the scheduler reports about the host's VMs and run slots, for the operator's overview and metrics. */
public final class Figures {
    private Figures() {}

    /**
     * The VM pool: VMs per state ({@code docs/vm-pool.md}), native heap trims since start, this process's memory and
     * the guest memory mapping of each live VM.
     */
    public record Pool(int ready, int restoring, int leased, int destroying, long nativeHeapTrims, Memory processMemory,
                       List<Vm> vms) {}

    /** This process's memory as the kernel counts it, in KiB, and what the host has left. */
    public record Memory(long rssKib, long pssKib, long sharedCleanKib, long privateDirtyKib, long hostAvailableKib) {}

    /** One live VM's guest memory: its pool state, resident, proportional (shared pages split) and private KiB. */
    public record Vm(String state, long rssKib, long pssKib, long privateDirtyKib) {}

    /** The run slots: how many, held now, waited for now, preemptions since start, and the time slice. */
    public record RunSlots(int slots, int running, int waiting, long preemptions, double sliceMillis) {}
}
