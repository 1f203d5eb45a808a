package dev.flicker.guest;

import dev.flicker.guest.elf.ElfException;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.Layer;
import dev.flicker.guest.fs.SharedFiles;
import dev.flicker.guest.net.LoopbackEndpoint;
import dev.flicker.kvm.Cpuid;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.Kvm;
import dev.flicker.kvm.Vcpu;
import dev.flicker.kvm.VcpuState;

import java.io.IOException;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Makes and runs micro VMs: {@link #run} runs a static Linux program in a fresh VM and frees everything;
 * {@link #boot} and {@link #restore} hand out a {@link MicroVm} for callers that snapshot and restore
 * (the pool). Holds what all VMs share: KVM, the guest image, the CPUID table, the deadline timer.
 * Thread-safe: each VM is run on the caller's thread.
 */
public final class MicroVmRunner implements AutoCloseable {
    private final Kvm kvm;
    private final GuestImage image;
    private final Vdso vdso = Vdso.builtIn();
    /** Whether KVM has read-only memory slots, which shared file mappings need; without them files are copied. */
    private final boolean readOnlyMemory;
    private volatile boolean shareFiles = true;
    /** Whether the vDSO computes the clocks (an invariant TSC); without it every clock read is a host call. */
    private volatile boolean vdsoClocks = INVARIANT_TSC;
    private final Cpuid cpuid;
    private final long hwcap;
    private final SecureRandom random = new SecureRandom();
    private final ScheduledThreadPoolExecutor deadlines = newDeadlineTimer();
    /** Where VMs are destroyed: on the caller's thread (null), or on a background thread, off the critical path. */
    private final ExecutorService reaper;
    /** vCPUs inside a run loop now ({@link #watch}), so that {@link #close} can stop them instead of waiting for their deadlines. */
    private final java.util.Set<Vcpu> running = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean closing;

    public MicroVmRunner(Kvm kvm) {
        this(kvm, false);
    }

    /**
     * With {@code releaseInBackground}, {@link #run} returns as soon as the program has ended and the VM is
     * destroyed on a background thread (the platform's case: the caller has its result sooner); its
     * {@code teardownNanos} is then 0. Without it, {@code run} returns after everything is released.
     */
    public MicroVmRunner(Kvm kvm, boolean releaseInBackground) {
        this.kvm = kvm;
        this.reaper = releaseInBackground
                ? Executors.newSingleThreadExecutor(Thread.ofPlatform().name("micro-vm-reaper").daemon().factory()) : null;
        this.image = GuestImage.builtIn();
        this.readOnlyMemory = kvm.supportsReadOnlyMemory();
        this.cpuid = microGuestCpuid(kvm.supportedCpuid());
        Cpuid.Entry leaf1 = cpuid.find(1, 0);
        this.hwcap = leaf1 == null ? 0 : Integer.toUnsignedLong(leaf1.edx());
    }

    private static ScheduledThreadPoolExecutor newDeadlineTimer() {
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1,
                Thread.ofPlatform().name("micro-vm-deadlines").daemon().factory());
        // A run that ends before its deadline cancels its kick; drop it at once, or it would keep the
        // vCPU (and its native memory) reachable until the deadline passes.
        timer.setRemoveOnCancelPolicy(true);
        return timer;
    }

    /**
     * The host's CPUID less what the micro guest does not set up: XSAVE (CR4.OSXSAVE stays clear, so
     * AVX state is not enabled and libc takes its SSE paths) and the x2APIC (there is none).
     */
    static Cpuid microGuestCpuid(Cpuid supported) {
        Cpuid.Entry leaf1 = supported.find(1, 0);
        if (leaf1 == null) return supported;
        int ecx = leaf1.ecx() & ~(1 << 26) & ~(1 << 27) & ~(1 << 28) & ~(1 << 21); // XSAVE, OSXSAVE, AVX, x2APIC
        return supported.replace(leaf1.withEcx(ecx));
    }

    Kvm kvm() {
        return kvm;
    }

    GuestImage image() {
        return image;
    }

    Cpuid cpuid() {
        return cpuid;
    }

    long hwcap() {
        return hwcap;
    }

    SecureRandom random() {
        return random;
    }

    /**
     * What a snapshot of this runner's VMs with these loopback {@code endpoints} depends on, recorded in each snapshot
     * as its guest kind: the layout of each part of the guest state and of each endpoint's
     * ({@link MicroVm#stateVersions}), the host-call ABI ({@link HostCallAbi#VERSION}) and the guest image
     * ({@code guest.elf}'s SHA-256). A snapshot of another kind is never restored: the store drops it and a new one
     * is taken (docs/snapshots.md).
     */
    public String snapshotKind(List<LoopbackEndpoint.Spec> endpoints) {
        return snapshotKind(MicroVm.stateVersions(endpoints), HostCallAbi.VERSION, image.sha256() + " vdso=" + vdso.sha256());
    }

    /** The vDSO every program gets. */
    Vdso vdso() {
        return vdso;
    }

    /**
     * True when the VMs of this runner read their clocks in the vDSO (the default on a host with an invariant TSC);
     * false when every clock read is a host call, as before the vDSO (the benchmark's comparison).
     */
    public boolean vdsoClocks() {
        return vdsoClocks;
    }

    /**
     * The range of {@code layer}'s files that a VM maps as a read-only memory slot, or null when its read-only file
     * mappings are copies: no layer, KVM without read-only slots, or sharing turned off ({@link #setShareFiles}).
     */
    SharedFiles sharedFiles(Layer layer) {
        return layer == null || !readOnlyMemory || !shareFiles ? null : layer.shared();
    }

    /**
     * Whether read-only mappings of a runtime layer's files are shared between VMs (the default, where KVM has
     * read-only memory slots) or copied into each VM, for the VMs booted from now on (the benchmark compares the
     * two). A snapshot of a VM that shared restores only on a runner that shares.
     */
    public void setShareFiles(boolean on) {
        shareFiles = on;
    }

    /** True when this runner's VMs share the read-only mappings of their layer's files. */
    public boolean sharesFiles() {
        return readOnlyMemory && shareFiles;
    }

    /** The scale of {@code vcpu}'s TSC for the vDSO, or the system-call mode when the vDSO may not count time. */
    Vdso.Scale clockScale(Vcpu vcpu) {
        return vdsoClocks ? Vdso.Scale.of(vcpu.tscKhz(), true) : Vdso.Scale.of(0, false);
    }

    /** Sets {@link #vdsoClocks()} for the VMs booted or restored from now on; true needs an invariant TSC. */
    public void setVdsoClocks(boolean on) {
        vdsoClocks = on && INVARIANT_TSC;
    }

    /**
     * The host's TSC runs at a constant rate and through sleep states ({@code constant_tsc} and {@code nonstop_tsc} in
     * /proc/cpuinfo, Linux's names for CPUID 0x80000007 EDX bit 8): only then may the vDSO count time with it.
     */
    static final boolean INVARIANT_TSC = invariantTsc();

    private static boolean invariantTsc() {
        try (java.util.stream.Stream<String> lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/cpuinfo"))) {
            String flags = lines.filter(l -> l.startsWith("flags")).findFirst().orElse("");
            List<String> names = List.of(flags.substring(flags.indexOf(':') + 1).trim().split("\\s+"));
            return names.contains("constant_tsc") && names.contains("nonstop_tsc");
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The kind a runner with these versions and this guest image records (for tests of other kinds). */
    public static String snapshotKind(String stateVersions, int abiVersion, String imageSha256) {
        return "micro " + stateVersions + " abi=" + abiVersion + " image=" + imageSha256;
    }

    /**
     * Watches a vCPU about to run until {@code deadlineNanos}: its kick is scheduled for the deadline, and
     * {@link #close} kicks it at once. Returns null when the runner is closing: the vCPU must not run.
     */
    ScheduledFuture<?> watch(Vcpu vcpu, long deadlineNanos) {
        running.add(vcpu); // before the check: a close that comes after it finds this vCPU and kicks it
        try {
            if (!closing) return deadlines.schedule(vcpu::kick, Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException closedMeanwhile) {
            // the timer was shut down between the check and the schedule
        }
        running.remove(vcpu);
        return null;
    }

    /** Ends {@link #watch}: the deadline kick is cancelled. */
    void unwatch(Vcpu vcpu, ScheduledFuture<?> kick) {
        kick.cancel(false);
        running.remove(vcpu);
    }

    /** True once {@link #close} began: a run loop stops at its next exit. */
    boolean closing() {
        return closing;
    }

    public RunResult run(RunRequest request) {
        return run(request, null);
    }

    /**
     * Runs {@code request} in a fresh VM; when {@code hostCallTimes} is given, the {@link System#nanoTime()}
     * of each of the first host calls is written into it (for the host-call benchmark; the run loop stays
     * allocation-free).
     */
    public RunResult run(RunRequest request, long[] hostCallTimes) {
        long t0 = System.nanoTime();
        MicroVm vm;
        try {
            vm = MicroVm.boot(this, request, request.stdin());
        } catch (ElfException e) {
            return failedToStart(e.getMessage(), System.nanoTime() - t0);
        }
        long booted = System.nanoTime();
        RunResult r;
        try {
            r = vm.run(hostCallTimes);
        } catch (RuntimeException e) {
            release(vm);
            throw e;
        }
        long ran = System.nanoTime();
        release(vm);
        long released = System.nanoTime();
        RunResult.Timings made = r.timings();
        RunResult.Timings t = new RunResult.Timings(made.createVmNanos(), made.loadNanos(), made.vcpuSetupNanos(), ran - booted,
                reaper == null ? released - ran : 0);
        return new RunResult(r.outcome(), r.exitStatus(), r.signal(), r.detail(), r.stdout(), r.stderr(),
                r.stdoutDroppedBytes(), r.stderrDroppedBytes(), t, r.exits());
    }

    /**
     * A fresh VM for {@code request} whose stdin has no event yet: its first read on stdin stops the run
     * ({@link RunResult.Outcome#WAITING_FOR_EVENT}), which is where a snapshot is taken.
     */
    public MicroVm boot(RunRequest request) {
        return MicroVm.boot(this, request, null);
    }

    /**
     * A VM restored from a snapshot's parts, with the loopback {@code endpoints} it was taken with; it waits for
     * {@link MicroVm#deliver}.
     */
    public MicroVm restore(GuestMemory memory, VcpuState vcpu, byte[] guestState, Bundle bundle, Limits limits,
                           List<LoopbackEndpoint.Spec> endpoints) throws IOException {
        return restore(memory, vcpu, guestState, bundle, null, limits, endpoints);
    }

    /**
     * A VM restored from a snapshot's parts that ran on {@code layer} (null: none), with the loopback {@code endpoints}
     * it was taken with; it waits for {@link MicroVm#deliver}.
     */
    public MicroVm restore(GuestMemory memory, VcpuState vcpu, byte[] guestState, Bundle bundle, Layer layer, Limits limits,
                           List<LoopbackEndpoint.Spec> endpoints) throws IOException {
        return MicroVm.restore(this, memory, vcpu, guestState, bundle, layer, limits, endpoints);
    }

    /** Destroys {@code vm}, now or in the background (see the constructor). */
    public void release(MicroVm vm) {
        if (reaper == null) {
            vm.close();
        } else {
            reaper.execute(vm::close);
        }
    }

    static RunResult failedToStart(String why, long tookNanos) {
        return new RunResult(RunResult.Outcome.FAILED_TO_START, -1, 0, why, new byte[0], new byte[0], 0, 0,
                new RunResult.Timings(tookNanos, 0, 0, 0, 0), new RunResult.ExitCounts(0, 0, 0, 0, Map.of()));
    }

    /**
     * Stops every program still running (their runs end {@code STOPPED}), then the deadline timer and the
     * reaper. Without the kick, a program that loops would hold its thread until its deadline, up to 15 min.
     */
    @Override
    public void close() {
        closing = true;
        running.forEach(Vcpu::kick);
        deadlines.shutdownNow();
        if (reaper != null) {
            reaper.shutdown();
            try {
                reaper.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
