package dev.flicker.guest;

import dev.flicker.guest.elf.ElfException;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.Layer;
import dev.flicker.guest.fs.SharedFiles;
import dev.flicker.guest.fs.TmpFs;
import dev.flicker.guest.kernel.Clocks;
import dev.flicker.guest.kernel.KernelState;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.PhysicalPages;
import dev.flicker.guest.memory.SharedMemory;
import dev.flicker.guest.net.Loopback;
import dev.flicker.guest.net.LoopbackEndpoint;
import dev.flicker.guest.syscall.HostKernel;
import dev.flicker.guest.syscall.SyscallTable;
import dev.flicker.kvm.Cpuid;
import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.Vcpu;
import dev.flicker.kvm.VcpuExit;
import dev.flicker.kvm.VcpuState;
import dev.flicker.kvm.Vm;
import dev.flicker.kvm.sys.KvmApi;
import dev.flicker.kvm.x86.DescriptorTable;
import dev.flicker.kvm.x86.Descriptors;
import dev.flicker.kvm.x86.PageTables;
import dev.flicker.kvm.x86.Regs;
import dev.flicker.kvm.x86.Segment;
import dev.flicker.kvm.x86.Sregs;
import dev.flicker.kvm.x86.X86;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static dev.flicker.guest.HostCallAbi.*;
import static dev.flicker.guest.abi.Signals.SIGBUS;
import static dev.flicker.guest.abi.Signals.SIGFPE;
import static dev.flicker.guest.abi.Signals.SIGILL;
import static dev.flicker.guest.abi.Signals.SIGKILL;
import static dev.flicker.guest.abi.Signals.SIGSEGV;
import static dev.flicker.guest.abi.Signals.SIGTRAP;
import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * One micro VM: a KVM VM with one vCPU, its guest memory, page tables and address space, and the host half
 * of its kernel. Made by {@link MicroVmRunner#boot} (a fresh start) or {@link MicroVmRunner#restore} (from a
 * snapshot's parts); {@link #run} runs the program until it exits, crashes, times out or asks for its event;
 * {@link #capture} takes what a snapshot needs at that point. Used by one thread at a time.
 */
public final class MicroVm implements AutoCloseable {
    /**
     * The layout of the guest state {@link #capture} writes, from its parts' own versions: the address space, /tmp,
     * the loopback network, the kernel state, and each loopback endpoint's own state. Each part is saved beside the
     * class that owns it, which bumps its version when it changes what it writes; the string is part of
     * {@link MicroVmRunner#snapshotKind}, so snapshots of an old layout are taken again, never restored.
     */
    public static String stateVersions(List<LoopbackEndpoint.Spec> endpoints) {
        StringBuilder b = new StringBuilder().append("mm=").append(AddressSpace.STATE_VERSION)
                .append(" tmp=").append(TmpFs.STATE_VERSION)
                .append(" loopback=").append(Loopback.STATE_VERSION)
                .append(" kernel=").append(KernelState.STATE_VERSION);
        for (LoopbackEndpoint.Spec e : endpoints) {
            b.append(' ').append(e.name()).append('@').append(e.port()).append('=').append(e.stateVersion());
        }
        return b.toString();
    }
    /** MSRs that make up the micro guest's vCPU state besides registers. */
    static final int[] SAVED_MSRS = {X86.MSR_STAR, X86.MSR_LSTAR, X86.MSR_SFMASK, X86.MSR_FS_BASE, X86.MSR_GS_BASE,
            X86.MSR_KERNEL_GS_BASE};
    private static final long KERNEL_WINDOW = KERNEL_WINDOW_BYTES;
    private static final RunResult.Timings NO_SETUP = new RunResult.Timings(0, 0, 0, 0, 0);

    private final MicroVmRunner runner;
    private Vm vm;
    private final GuestMemory memory;
    private final Vcpu vcpu;
    /** Kicks {@link #vcpu} out of {@code KVM_RUN}: what the run loop hands its {@link CpuLease}, made once. */
    private final Runnable kick;
    private final PhysicalPages frames;
    private final AddressSpace space;
    private final TmpFs tmp;
    private final Loopback loopback;
    private final List<LoopbackEndpoint.Spec> endpoints;
    private final HostKernel kernel;
    private final Limits limits;
    /** The scale of this VM's TSC for its vDSO clock page. */
    private final Vdso.Scale clock;
    private final OutputCapture stdout, stderr;
    /** How long making this VM took, phase by phase, reported by its first run ({@code runNanos} and {@code teardownNanos} 0). */
    private RunResult.Timings setup;

    /** Parts of a paused micro VM that a snapshot stores. */
    public record Captured(GuestMemory memory, long usedBytes, VcpuState vcpu, byte[] guestState) {}

    private MicroVm(MicroVmRunner runner, Vm vm, GuestMemory memory, Vcpu vcpu, PhysicalPages frames, AddressSpace space,
                    TmpFs tmp, Loopback loopback, List<LoopbackEndpoint.Spec> endpoints, HostKernel kernel, Limits limits,
                    Vdso.Scale clock, OutputCapture stdout, OutputCapture stderr, RunResult.Timings setup) {
        this.runner = runner;
        this.vm = vm;
        this.memory = memory;
        this.vcpu = vcpu;
        this.kick = vcpu::kick;
        this.frames = frames;
        this.space = space;
        this.tmp = tmp;
        this.loopback = loopback;
        this.endpoints = endpoints;
        this.kernel = kernel;
        this.limits = limits;
        this.clock = clock;
        this.stdout = stdout;
        this.stderr = stderr;
        this.setup = setup;
    }

    static long physicalBytes(Limits limits) {
        long memLimit = (long) limits.memoryMib() << 20;
        // Page tables for a fully mapped limit take 1/512 of it; reserve more for sparse mappings.
        return KERNEL_WINDOW + memLimit + memLimit / 256 + (4L << 20);
    }

    /**
     * A fresh start: guest image, program (with its interpreter, for a dynamic one) and stack loaded, vCPU at the
     * entry. Throws ElfException.
     */
    static MicroVm boot(MicroVmRunner runner, RunRequest request, byte[] stdinOrNull) {
        long t0 = System.nanoTime();
        Limits limits = request.limits();
        long physBytes = physicalBytes(limits);
        Vm vm = runner.kvm().createVm();
        try {
            GuestMemory memory = GuestMemory.anonymous(GuestAddress.of(0), physBytes);
            vm.addMemory(memory);
            long created = System.nanoTime();
            PhysicalPages frames = new PhysicalPages(memory, KERNEL_WINDOW, physBytes);
            PageTables tables = AddressSpace.pageTables(memory, frames, frames.allocate());
            runner.image().loadInto(memory);
            buildKernelWindow(runner.image(), memory, tables);
            SharedFiles shared = runner.sharedFiles(request.layer());
            if (shared != null) vm.addReadOnlyMemory(SharedMemory.GPA, shared.segment());
            AddressSpace space = new AddressSpace(memory, tables, frames, (long) limits.memoryMib() << 20, shared);
            HostMemoryBudget budget = new HostMemoryBudget(limits.hostBudgetBytes());
            TmpFs tmp = new TmpFs(limits.tmpBytes(), budget);
            FileTree tree = new FileTree(request.bundle(), request.layer(), tmp, runner.random());
            // A program named relative to the bundle must lie in it: "../x" does not reach the layer.
            if (!request.program().startsWith("/") && request.bundle().file(request.program()) == null) {
                throw new ElfException("program '" + request.program() + "' is not in the bundle");
            }
            String execPath = request.executablePath();
            List<String> argv = new ArrayList<>();
            argv.add(execPath);
            argv.addAll(request.args());
            List<String> envp = new ArrayList<>();
            request.env().forEach((k, v) -> envp.add(k + "=" + v));
            byte[] random16 = new byte[16];
            runner.random().nextBytes(random16);
            ProgramLoader.Loaded loaded = ProgramLoader.exec(space, tree, execPath, argv, envp, random16,
                    limits.stackBytes(), runner.hwcap(), runner.vdso());
            long programLoaded = System.nanoTime();
            Vcpu vcpu = vm.createVcpu(0);
            configureVcpu(runner.image(), runner.cpuid(), vcpu, tables.root(), loaded);
            OutputCapture out = new OutputCapture(limits.outputCapBytes()), err = new OutputCapture(limits.outputCapBytes());
            Loopback loopback = new Loopback(budget, request.endpoints());
            HostKernel kernel = new HostKernel(space, tree, loopback, stdinOrNull, out, err,
                    value -> vcpu.setMsr(X86.MSR_FS_BASE, value), runner.random(), execPath);
            kernel.setBrk(loaded.brkStart());
            kernel.setStackLimit(limits.stackBytes());
            Vdso.Scale clock = runner.clockScale(vcpu);
            writeClock(clock, vcpu, space, false);
            long ready = System.nanoTime();
            return new MicroVm(runner, vm, memory, vcpu, frames, space, tmp, loopback, request.endpoints(), kernel, limits, clock,
                    out, err, new RunResult.Timings(created - t0, programLoaded - created, ready - programLoaded, 0, 0));
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /**
     * A VM from a snapshot's parts: {@code memory} (mapped privately from the snapshot's memory file), the
     * vCPU state and the guest state, with the loopback {@code endpoints} it was taken with. The program resumes
     * inside its pending request for the event.
     */
    static MicroVm restore(MicroVmRunner runner, GuestMemory memory, VcpuState state, byte[] guestState,
                           dev.flicker.guest.fs.Bundle bundle, Layer layer, Limits limits,
                           List<LoopbackEndpoint.Spec> endpoints) throws IOException {
        long t0 = System.nanoTime();
        if (memory.sizeBytes() != physicalBytes(limits)) {
            memory.close();
            throw new IOException("snapshot memory is " + memory.sizeBytes() + " bytes, these limits need "
                    + physicalBytes(limits) + ": restore with the limits the snapshot was taken with");
        }
        Vm vm = runner.kvm().createVm();
        try {
            vm.addMemory(memory);
            long created = System.nanoTime();
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(guestState));
            // The kind names every part's version: a snapshot of another layout stops here, before any part is read.
            String kind = in.readUTF();
            String expected = runner.snapshotKind(endpoints);
            if (!kind.equals(expected)) {
                throw new IOException("snapshot of another guest (" + kind + "), this one is " + expected + ": take a new snapshot");
            }
            // The parts, in the order capture wrote them, each checking its own header and version.
            PhysicalPages frames = new PhysicalPages(memory, KERNEL_WINDOW, memory.sizeBytes());
            SharedFiles shared = runner.sharedFiles(layer);
            if (shared != null) vm.addReadOnlyMemory(SharedMemory.GPA, shared.segment());
            AddressSpace space = AddressSpace.load(in, memory, frames, (long) limits.memoryMib() << 20, shared);
            if (state.sregs().cr3() != space.pageTableRoot()) throw new IOException("vCPU CR3 does not match the page-table root");
            HostMemoryBudget budget = new HostMemoryBudget(limits.hostBudgetBytes());
            TmpFs tmp = new TmpFs(limits.tmpBytes(), budget);
            tmp.load(in);
            Loopback loopback = new Loopback(budget, endpoints);
            loopback.load(in);
            long partsLoaded = System.nanoTime();
            Vcpu vcpu = vm.createVcpu(0);
            vcpu.setCpuid(runner.cpuid());
            state.restore(vcpu);
            OutputCapture out = new OutputCapture(limits.outputCapBytes()), err = new OutputCapture(limits.outputCapBytes());
            HostKernel kernel = new HostKernel(space, new FileTree(bundle, layer, tmp, runner.random()), loopback, null, out, err,
                    value -> vcpu.setMsr(X86.MSR_FS_BASE, value), runner.random(), null);
            long kernelLoading = System.nanoTime();
            kernel.load(in);
            if (in.available() != 0) throw new IOException("trailing bytes in the guest state");
            long kernelLoaded = System.nanoTime();
            kernel.setStackLimit(limits.stackBytes());
            // No clone may see the snapshot's time: its clock page names the snapshot's TSC and clocks, and under
            // VMX/SVM a new vCPU's TSC has a new offset besides. Rewritten before the clone first runs.
            Vdso.Scale clock = runner.clockScale(vcpu);
            writeClock(clock, vcpu, space, false);
            long ready = System.nanoTime();
            // The kernel's state is read after the vCPU is made (its FS_BASE setter needs it): it counts as loading.
            long loadNanos = (partsLoaded - created) + (kernelLoaded - kernelLoading);
            long vcpuSetupNanos = (kernelLoading - partsLoaded) + (ready - kernelLoaded);
            return new MicroVm(runner, vm, memory, vcpu, frames, space, tmp, loopback, endpoints, kernel, limits, clock, out,
                    err, new RunResult.Timings(created - t0, loadNanos, vcpuSetupNanos, 0, 0));
        } catch (IOException | RuntimeException e) {
            vm.close();
            throw e instanceof IOException io ? io : new IOException("snapshot does not restore: " + e.getMessage(), e);
        }
    }

    /** True when the program stopped in its request for the event (the snapshot point). */
    public boolean waitingForEvent() {
        return kernel.waitingForEvent();
    }

    /**
     * Answers the program's pending request for its event: the stopped call is handled again, now with
     * {@code stdinEvent} on stdin, and with whatever the caller gave the endpoint the program waits on (the Runtime
     * API's event, for one) before this call. A host-half failure while answering ends the program as it does in the
     * run loop: the next run ends {@code CRASHED} with it.
     */
    public void deliver(byte[] stdinEvent) {
        if (!kernel.waitingForEvent()) throw new IllegalStateException("the program is not waiting for an event");
        kernel.eventDelivered(stdinEvent);
        MemorySegment hc = memory.slice(HOSTCALL_PAGE_GPA, PAGE_SIZE);
        try {
            hc.set(ValueLayout.JAVA_LONG, HC_RET, handlePending(hc));
        } catch (RuntimeException | Error e) {
            hostKernelError = hostKernelError(hc, e);
        }
    }

    /** Set when {@link #deliver} failed in the host half: the program must not run on with an unanswered call. */
    private String hostKernelError;

    /** A host-half bug must end this program, never the host: reported with the call it happened in. */
    private static String hostKernelError(MemorySegment hc, Throwable e) {
        long nr = hc.get(ValueLayout.JAVA_LONG, HC_NR);
        return "host kernel error in " + SyscallTable.X86_64.name((int) Math.min(Math.max(nr, 0), SyscallTable.SLOTS - 1))
                + ": " + e;
    }

    /** The host half of this VM's kernel, for tests in this package. */
    HostKernel kernel() {
        return kernel;
    }

    private long handlePending(MemorySegment hc) {
        return kernel.handle(hc.get(ValueLayout.JAVA_LONG, HC_NR), hc.get(ValueLayout.JAVA_LONG, HC_ARG0),
                hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 8), hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 16),
                hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 24), hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 32),
                hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 40));
    }

    /** What a snapshot needs, taken while the program waits for its event. */
    public Captured capture() {
        if (!kernel.waitingForEvent()) throw new IllegalStateException("snapshots are taken while the program waits for its event");
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeUTF(runner.snapshotKind(endpoints));
            // Each part beside the class that owns it, with its own version (StatePart).
            space.save(out);
            tmp.save(out);
            loopback.save(out);
            kernel.save(out);
            out.flush();
            return new Captured(memory, frames.nextFree(), VcpuState.save(vcpu, SAVED_MSRS), bytes.toByteArray());
        } catch (IOException e) {
            throw new IllegalStateException("cannot capture this VM: " + e.getMessage(), e);
        }
    }

    /** Runs until the program exits, crashes, reaches its deadline (from now) or asks for its event. */
    public RunResult run() {
        return run(null, null, CpuLease.DEDICATED);
    }

    /**
     * Runs like {@link #run()} on a CPU lent by {@code cpu}, held when this is called: the run gives it back and waits
     * for it again whenever {@code cpu} asks, and while the program blocks in the host. The deadline stays the run's
     * own, counted from now on the wall clock, time without the CPU included. When the run ends, {@code cpu} is held
     * again, unless the deadline passed (or the owner stopped lending) while the run waited for it.
     */
    public RunResult run(CpuLease cpu) {
        return run(null, null, cpu);
    }

    /**
     * Runs like {@link #run()}, but stops ({@code ANSWERED}) as soon as {@code answered} holds, which is asked after
     * each host call: for Lambda, once the runtime posted its response or error. For a VM that will not be reused,
     * what a program does after answering (reading the 202, asking for its next event) only delays the answer.
     */
    public RunResult runUntil(BooleanSupplier answered) {
        return run(null, answered, CpuLease.DEDICATED);
    }

    /** {@link #runUntil(BooleanSupplier)} on a CPU lent by {@code cpu}, as {@link #run(CpuLease)}. */
    public RunResult runUntil(BooleanSupplier answered, CpuLease cpu) {
        return run(null, answered, cpu);
    }

    public RunResult run(long[] hostCallTimes) {
        return run(hostCallTimes, null, CpuLease.DEDICATED);
    }

    private RunResult run(long[] hostCallTimes, BooleanSupplier answered, CpuLease cpu) {
        clockWrittenNanos = writeClock(clock, vcpu, space, true);
        long start = System.nanoTime();
        long deadline = start + TimeUnit.MILLISECONDS.toNanos(limits.timeoutMillis());
        kernel.setDeadline(deadline);
        kernel.setCpuLease(cpu);
        kernel.runStarted();
        Ending ending;
        try {
            ending = runLoop(deadline, hostCallTimes, answered, cpu);
        } catch (RuntimeException | Error e) {
            // Whatever failed in the host (a KVM call, an OutOfMemoryError), it ends this program, not the host.
            ending = new Ending(RunResult.Outcome.CRASHED, -1, SIGSEGV, "host error: " + e, 0, 0, 0);
        } finally {
            kernel.runEnded();
        }
        long end = System.nanoTime();
        Map<String, Long> byName = new LinkedHashMap<>();
        long[] counts = kernel.counts();
        for (int nr = 0; nr < counts.length; nr++) if (counts[nr] > 0) byName.put(SyscallTable.X86_64.name(nr), counts[nr]);
        RunResult.ExitCounts exits = new RunResult.ExitCounts(ending.hostCalls, ending.exceptions, ending.otherExits,
                kernel.unknownCalls(), byName);
        RunResult.Timings timings = new RunResult.Timings(setup.createVmNanos(), setup.loadNanos(), setup.vcpuSetupNanos(),
                end - start, 0);
        setup = NO_SETUP; // a later run (after deliver) has no set-up time of its own
        return new RunResult(ending.outcome, ending.status, ending.signal, ending.detail, stdout.bytes(),
                stderr.bytes(), stdout.droppedBytes(), stderr.droppedBytes(), timings, exits);
    }

    /** The guest pages (by guest-physical page number) written since this VM was made: a clone's copies of its snapshot's pages. */
    public BitSet writtenPages() {
        return memory.privatePages();
    }

    /** Copies {@code pages} (guest-physical page numbers) now, ahead of the guest's first write to them. */
    public void prefaultWritable(BitSet pages) {
        memory.prefaultWritable(pages);
    }

    /** Where this VM's guest memory is mapped in this process, to find it in {@code /proc/self/smaps}. */
    public long guestMemoryHostAddress() {
        return memory.hostAddress();
    }

    /**
     * The program's committed memory: every page it can reach that counts against its limit (not the shared pages of
     * its runtime layer's files).
     */
    public long committedBytes() {
        return space.committedBytes();
    }

    /** What this VM makes the host hold besides its guest memory (/tmp, loopback connections), and its limit. */
    public HostMemoryBudget hostMemory() {
        return kernel.hostMemory();
    }

    /** This VM's loopback endpoint at {@code 127.0.0.1:port}, given when it was made, or null. */
    public LoopbackEndpoint endpoint(int port) {
        return kernel.endpoint(port);
    }

    @Override
    public void close() {
        Vm v = vm;
        vm = null;
        if (v != null) v.close();
    }

    /**
     * How often, at most, the vDSO's clock page is rewritten while the program runs: the TSC's scale is fixed between
     * two rewrites, while the host's clocks are slewed by NTP (at most 500 ppm), so the two drift apart by at most
     * half a millisecond per second.
     */
    private static final long CLOCK_REWRITE_NANOS = TimeUnit.SECONDS.toNanos(1);
    private long clockWrittenNanos;

    /**
     * Fills the vDSO's clock page (docs/micro-guest-abi.md, "How the host fills it"): the guest's TSC read between two
     * readings of the host's clocks, which are taken as of the middle. With {@code keepMonotonic}, a monotonic clock
     * the page already runs is never set back. Returns when it was written ({@link System#nanoTime()}).
     */
    private static long writeClock(Vdso.Scale scale, Vcpu vcpu, AddressSpace space, boolean keepMonotonic) {
        long mono0 = System.nanoTime(), wall0 = Clocks.realtimeNanos();
        long tsc = vcpu.guestTsc();
        long mono1 = System.nanoTime(), wall1 = Clocks.realtimeNanos();
        Vdso.writeParameters(space, scale, tsc, wall0 + (wall1 - wall0) / 2, mono0 + (mono1 - mono0) / 2, keepMonotonic);
        return mono1;
    }

    /** How the run loop ended. */
    private record Ending(RunResult.Outcome outcome, int status, int signal, String detail, long hostCalls,
                          long exceptions, long otherExits) {}

    private static void buildKernelWindow(GuestImage image, GuestMemory memory, PageTables tables) {
        long kernelRw = X86.PTE_WRITABLE | X86.PTE_NO_EXECUTE;
        tables.map(kernelVa(GDT_GPA), GDT_GPA, kernelRw);
        tables.map(kernelVa(IDT_GPA), IDT_GPA, kernelRw);
        tables.map(kernelVa(TSS_GPA), TSS_GPA, kernelRw);
        for (long p = RING0_STACK_BOTTOM_GPA; p < RING0_STACK_TOP_GPA; p += PAGE_SIZE) tables.map(kernelVa(p), p, kernelRw);
        tables.map(kernelVa(HOSTCALL_PAGE_GPA), HOSTCALL_PAGE_GPA, X86.PTE_WRITABLE | X86.PTE_USER | X86.PTE_NO_EXECUTE);
        for (long i = 0; i < image.textPages(); i++) {
            long p = IMAGE_TEXT_PHYS + i * PAGE_SIZE;
            tables.map(kernelVa(p), p, X86.PTE_USER);
        }
        tables.map(DOORBELL_VA, DOORBELL_GPA, X86.PTE_WRITABLE | X86.PTE_USER | X86.PTE_NO_EXECUTE);

        MemorySegment gdt = memory.slice(GDT_GPA, PAGE_SIZE);
        gdt.setAtIndex(ValueLayout.JAVA_LONG, 1, Descriptors.code64(0));   // 0x08 kernel code
        gdt.setAtIndex(ValueLayout.JAVA_LONG, 2, Descriptors.data(0));     // 0x10 kernel data
        gdt.setAtIndex(ValueLayout.JAVA_LONG, 3, Descriptors.data(3));     // 0x18 user data
        gdt.setAtIndex(ValueLayout.JAVA_LONG, 4, Descriptors.code64(3));   // 0x20 user code
        long[] tss = Descriptors.tss64(kernelVa(TSS_GPA), 103);
        gdt.setAtIndex(ValueLayout.JAVA_LONG, 5, tss[0]);                  // 0x28 TSS
        gdt.setAtIndex(ValueLayout.JAVA_LONG, 6, tss[1]);

        MemorySegment idt = memory.slice(IDT_GPA, PAGE_SIZE);
        long vectors = image.header().exceptionVectors();
        for (int v = 0; v < 32; v++) {
            // int3 and into are the only vectors a program may raise itself (DPL 3), as on Linux.
            long[] gate = Descriptors.interruptGate(vectors + 16L * v, KERNEL_CS, v == 3 || v == 4 ? 3 : 0, 0);
            idt.setAtIndex(ValueLayout.JAVA_LONG, 2L * v, gate[0]);
            idt.setAtIndex(ValueLayout.JAVA_LONG, 2L * v + 1, gate[1]);
        }
        MemorySegment t = memory.slice(TSS_GPA, 104);
        t.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, kernelVa(RING0_STACK_TOP_GPA)); // RSP0
        t.set(ValueLayout.JAVA_SHORT_UNALIGNED, 102, (short) 104);               // no I/O bitmap
    }

    /** Long mode straight from KVM_SET_SREGS, in ring 3 at the program's entry: no guest setup code runs. */
    private static void configureVcpu(GuestImage image, Cpuid cpuid, Vcpu vcpu, long cr3, ProgramLoader.Loaded loaded) {
        vcpu.setCpuid(cpuid);
        Sregs s = vcpu.getSregs()
                .withSegments(Segment.code64(USER_CS, 3), Segment.data(USER_DS, 3), Segment.tss(TSS_SELECTOR, kernelVa(TSS_GPA), 103))
                .withTables(new DescriptorTable(kernelVa(GDT_GPA), 7 * 8 - 1), new DescriptorTable(kernelVa(IDT_GPA), 32 * 16 - 1))
                .withLongMode(cr3,
                        X86.CR0_PE | X86.CR0_MP | X86.CR0_ET | X86.CR0_NE | X86.CR0_WP | X86.CR0_AM | X86.CR0_PG,
                        X86.CR4_PAE | X86.CR4_OSFXSR | X86.CR4_OSXMMEXCPT,
                        X86.EFER_SCE | X86.EFER_LME | X86.EFER_LMA | X86.EFER_NXE);
        vcpu.setSregs(s);
        vcpu.setMsrs(new int[] {X86.MSR_STAR, X86.MSR_LSTAR, X86.MSR_SFMASK, X86.MSR_FS_BASE, X86.MSR_GS_BASE},
                new long[] {((long) STAR_USER_BASE << 48) | ((long) KERNEL_CS << 32), image.header().syscallEntry(),
                        X86.RFLAGS_TF | X86.RFLAGS_IF | X86.RFLAGS_DF | X86.RFLAGS_IOPL | X86.RFLAGS_NT | X86.RFLAGS_AC,
                        0, 0});
        Regs regs = new Regs();
        regs.set(KvmApi.REG_RIP, loaded.entry()).set(KvmApi.REG_RSP, loaded.stackPointer())
                .set(KvmApi.REG_RFLAGS, X86.RFLAGS_RESERVED);
        vcpu.setRegs(regs);
    }

    private Ending runLoop(long deadline, long[] hostCallTimes, BooleanSupplier answered, CpuLease cpu) {
        MemorySegment hc = memory.slice(HOSTCALL_PAGE_GPA, PAGE_SIZE);
        if (hostKernelError != null) return new Ending(RunResult.Outcome.CRASHED, -1, SIGSEGV, hostKernelError, 0, 0, 0);
        long hostCalls = 0, otherExits = 0;
        vcpu.bindToCurrentThread();
        ScheduledFuture<?> deadlineKick = runner.watch(vcpu, deadline);
        cpu.running(kick);
        try {
            while (true) {
                if (System.nanoTime() - deadline >= 0) {
                    return new Ending(RunResult.Outcome.TIMED_OUT, -1, SIGKILL, "killed at its deadline", hostCalls, 0, otherExits);
                }
                if (deadlineKick == null || runner.closing()) {
                    return new Ending(RunResult.Outcome.STOPPED, -1, SIGKILL, "stopped: the runner is closing", hostCalls, 0, otherExits);
                }
                if (cpu.preempted()) {
                    // Its owner took the CPU back or wants it (another VM waits and this one's time slice is over): it
                    // goes to the next, and this VM waits for it again, then goes on where it stopped. The deadline does
                    // not move.
                    cpu.release();
                    if (!cpu.acquire(deadline) && System.nanoTime() - deadline < 0) {
                        return new Ending(RunResult.Outcome.STOPPED, -1, SIGKILL, "stopped: its CPU was not lent again",
                                hostCalls, 0, otherExits);
                    }
                    continue; // the deadline and the runner's state again, after the wait
                }
                if (space.takeTlbFlushRequest()) vm.forgetReadOnlyTranslations(); // a cached translation points elsewhere now
                VcpuExit exit = vcpu.run();
                switch (exit) {
                    case VcpuExit.Mmio m when m.physicalAddress() == DOORBELL_GPA && m.isWrite() -> {
                        if (hostCallTimes != null && hostCalls < hostCallTimes.length) {
                            hostCallTimes[(int) hostCalls] = System.nanoTime();
                        }
                        hostCalls++;
                        long result;
                        try {
                            result = kernel.handle(hc.get(ValueLayout.JAVA_LONG, HC_NR),
                                hc.get(ValueLayout.JAVA_LONG, HC_ARG0), hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 8),
                                hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 16), hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 24),
                                hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 32), hc.get(ValueLayout.JAVA_LONG, HC_ARG0 + 40));
                        } catch (RuntimeException | Error e) {
                            // A host-half bug, or the host's heap running out (an OutOfMemoryError), must end
                            // this program, never the host: report it with the call.
                            return new Ending(RunResult.Outcome.CRASHED, -1, SIGSEGV, hostKernelError(hc, e), hostCalls, 0,
                                    otherExits);
                        }
                        if (kernel.waitingForEvent()) {
                            return new Ending(RunResult.Outcome.WAITING_FOR_EVENT, -1, 0, "asked for its event",
                                    hostCalls, 0, otherExits);
                        }
                        if (answered != null && answered.getAsBoolean()) {
                            return new Ending(RunResult.Outcome.ANSWERED, -1, 0, "posted its answer", hostCalls, 0, otherExits);
                        }
                        if (kernel.exited()) {
                            return new Ending(RunResult.Outcome.EXITED, kernel.exitStatus(), 0, "exited", hostCalls, 0, otherExits);
                        }
                        hc.set(ValueLayout.JAVA_LONG, HC_RET, result);
                        if (System.nanoTime() - clockWrittenNanos > CLOCK_REWRITE_NANOS) {
                            clockWrittenNanos = writeClock(clock, vcpu, space, true);
                        }
                    }
                    case VcpuExit.Mmio m -> {
                        // A store or load to guest-physical memory nothing backs, other than the doorbell.
                        return crash(SIGBUS, "SIGBUS: access to unbacked guest-physical address 0x"
                                + Long.toHexString(m.physicalAddress()), hostCalls, otherExits);
                    }
                    case VcpuExit.Io io when io.port() >= EXCEPTION_PORT_BASE && io.port() < EXCEPTION_PORT_BASE + 32 -> {
                        return exception(io.port() - EXCEPTION_PORT_BASE, hostCalls, otherExits);
                    }
                    case VcpuExit.Interrupted i -> {
                        // A kick: the deadline, the runner's close or the CPU's owner, each recorded before it kicked
                        // and checked at the top of the loop. Take the kick back, or every later entry would end at once.
                        vcpu.clearKick();
                        otherExits++;
                    }
                    case VcpuExit.Io io -> {
                        return crash(SIGSEGV, "SIGSEGV: port I/O to 0x" + Integer.toHexString(io.port()), hostCalls, otherExits);
                    }
                    case VcpuExit.Hlt h -> {
                        return crash(SIGSEGV, "SIGSEGV: the guest halted", hostCalls, otherExits);
                    }
                    case VcpuExit.Shutdown s -> {
                        return crash(SIGSEGV, "SIGSEGV: triple fault (the guest's exception handling failed)", hostCalls, otherExits);
                    }
                    case VcpuExit.InternalError e -> {
                        return crash(SIGILL, "SIGILL: KVM could not emulate an instruction (internal error "
                                + e.suberror() + ")", hostCalls, otherExits);
                    }
                    case VcpuExit.FailEntry f -> {
                        return crash(SIGSEGV, "vCPU entry failed (hardware reason 0x" + Long.toHexString(f.hardwareReason())
                                + ")", hostCalls, otherExits);
                    }
                    case VcpuExit.Other o -> {
                        return crash(SIGSEGV, "unexpected KVM exit " + o.reason(), hostCalls, otherExits);
                    }
                }
            }
        } finally {
            cpu.running(null);
            if (deadlineKick != null) runner.unwatch(vcpu, deadlineKick);
            vcpu.unbindFromCurrentThread();
        }
    }

    private Ending crash(int signal, String what, long hostCalls, long otherExits) {
        long rip = vcpu.getRegs().get(KvmApi.REG_RIP);
        return new Ending(RunResult.Outcome.CRASHED, -1, signal, what + " (rip 0x" + Long.toHexString(rip) + ")",
                hostCalls, 0, otherExits);
    }

    /** Reads the exception frame from the ring-0 stack and turns the vector into Linux's signal. */
    private Ending exception(int vector, long hostCalls, long otherExits) {
        long rsp = vcpu.getRegs().get(KvmApi.REG_RSP);
        long frameGpa = rsp - KERNEL_WINDOW_VA;
        long errorCode = 0, rip = 0;
        long frameBytes = X86.pushesErrorCode(vector) ? 48 : 40;
        if (frameGpa >= RING0_STACK_BOTTOM_GPA && frameGpa <= RING0_STACK_TOP_GPA - frameBytes) { // no sum to wrap
            MemorySegment frame = memory.slice(frameGpa, frameBytes);
            int at = 0;
            if (X86.pushesErrorCode(vector)) errorCode = frame.get(ValueLayout.JAVA_LONG_UNALIGNED, at++ * 8L);
            rip = frame.get(ValueLayout.JAVA_LONG_UNALIGNED, at * 8L);
        }
        String detail = switch (vector) {
            case 0 -> "SIGFPE: divide error";
            case 3 -> "SIGTRAP: breakpoint";
            case 6 -> "SIGILL: invalid opcode";
            case 13 -> "SIGSEGV: general protection fault (error code 0x" + Long.toHexString(errorCode) + ")";
            case 14 -> "SIGSEGV: page fault at address 0x" + Long.toHexString(vcpu.getSregs().cr2())
                    + ((errorCode & 2) != 0 ? " (write)" : (errorCode & 16) != 0 ? " (instruction fetch)" : " (read)");
            case 16, 19 -> "SIGFPE: floating-point exception";
            case 17 -> "SIGBUS: alignment check";
            default -> "SIGSEGV: exception " + vector;
        };
        int signal = switch (vector) {
            case 0, 16, 19 -> SIGFPE;
            case 3 -> SIGTRAP;
            case 6 -> SIGILL;
            case 17 -> SIGBUS;
            default -> SIGSEGV;
        };
        return new Ending(RunResult.Outcome.CRASHED, -1, signal, detail + " at rip 0x" + Long.toHexString(rip),
                hostCalls, 1, otherExits);
    }

}
