package dev.flicker.guest;

import dev.flicker.guest.elf.ElfException;
import dev.flicker.guest.elf.ElfFile;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.Node;
import dev.flicker.guest.fs.TmpFs;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.PhysicalPages;
import dev.flicker.guest.syscall.HostKernel;
import dev.flicker.guest.syscall.Sys;
import dev.flicker.kvm.Cpuid;
import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.Kvm;
import dev.flicker.kvm.Vcpu;
import dev.flicker.kvm.VcpuExit;
import dev.flicker.kvm.Vm;
import dev.flicker.kvm.sys.KvmApi;
import dev.flicker.kvm.x86.DescriptorTable;
import dev.flicker.kvm.x86.Descriptors;
import dev.flicker.kvm.x86.PageTables;
import dev.flicker.kvm.x86.Regs;
import dev.flicker.kvm.x86.Segment;
import dev.flicker.kvm.x86.Sregs;
import dev.flicker.kvm.x86.X86;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import static dev.flicker.guest.HostCallAbi.*;
import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * Runs a static Linux program in a fresh micro VM: create the VM, load the guest image and the program,
 * set up one vCPU in long mode at the program's entry in ring 3, and serve its system calls until it exits,
 * crashes or reaches its deadline; then free everything. Thread-safe: each call runs on the caller's thread.
 */
public final class MicroVmRunner implements AutoCloseable {
    /** Guest-physical memory beyond the program's limit: the kernel window plus room for page tables. */
    private static final long KERNEL_WINDOW = KERNEL_WINDOW_BYTES;

    private final Kvm kvm;
    private final GuestImage image;
    private final Cpuid cpuid;
    private final long hwcap;
    private final SecureRandom random = new SecureRandom();
    private final ScheduledExecutorService deadlines = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "micro-vm-deadlines");
        t.setDaemon(true);
        return t;
    });

    /** Where VMs are destroyed: on the caller's thread (null), or on a background thread, off the critical path. */
    private final ExecutorService reaper;

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
        this.reaper = releaseInBackground ? Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "micro-vm-reaper");
            t.setDaemon(true);
            return t;
        }) : null;
        this.image = GuestImage.builtIn();
        this.cpuid = microGuestCpuid(kvm.supportedCpuid());
        Cpuid.Entry leaf1 = cpuid.find(1, 0);
        this.hwcap = leaf1 == null ? 0 : Integer.toUnsignedLong(leaf1.edx());
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

    public RunResult run(RunRequest request) {
        return run(request, null);
    }

    /**
     * Runs {@code request}; when {@code hostCallTimes} is given, the {@link System#nanoTime()} of each of
     * the first host calls is written into it (for the host-call benchmark; the run loop stays allocation-free).
     */
    public RunResult run(RunRequest request, long[] hostCallTimes) {
        Limits limits = request.limits();
        long t0 = System.nanoTime();
        long deadline = t0 + TimeUnit.MILLISECONDS.toNanos(limits.timeoutMillis());
        long memLimit = (long) limits.memoryMib() << 20;
        // Page tables for a fully mapped limit take 1/512 of it; reserve more for sparse mappings.
        long physBytes = KERNEL_WINDOW + memLimit + memLimit / 256 + (4L << 20);
        OutputCapture stdout = new OutputCapture(limits.outputCapBytes());
        OutputCapture stderr = new OutputCapture(limits.outputCapBytes());
        long tCreate, tLoad, tSetup, tRun;
        Vm vm = kvm.createVm();
        try {
            GuestMemory memory = GuestMemory.anonymous(GuestAddress.of(0), physBytes);
            vm.addMemory(memory);
            tCreate = System.nanoTime();

            PhysicalPages frames = new PhysicalPages(memory, KERNEL_WINDOW, physBytes);
            PageTables tables = new PageTables(memory, frames.allocate(), () -> {
                long f = frames.allocate();
                if (f < 0) throw new IllegalStateException("page-table space exhausted");
                return f;
            });
            image.loadInto(memory);
            buildKernelWindow(memory, tables);
            AddressSpace space = new AddressSpace(memory, tables, frames, memLimit);

            Node.BundleFile program = request.bundle().file(request.program());
            if (program == null) {
                return failed("program '" + request.program() + "' is not in the bundle", stdout, stderr, t0);
            }
            String execPath = FileTree.TASK_ROOT + "/" + request.program();
            List<String> argv = new ArrayList<>();
            argv.add(execPath);
            argv.addAll(request.args());
            List<String> envp = new ArrayList<>();
            request.env().forEach((k, v) -> envp.add(k + "=" + v));
            byte[] random16 = new byte[16];
            random.nextBytes(random16);
            ProgramLoader.Loaded loaded;
            try {
                loaded = ProgramLoader.load(space, ElfFile.parse(program.contents()), execPath, argv, envp, random16,
                        limits.stackBytes(), hwcap);
            } catch (ElfException e) {
                return failed(e.getMessage(), stdout, stderr, t0);
            }
            tLoad = System.nanoTime();

            Vcpu vcpu = vm.createVcpu(0);
            configureVcpu(vcpu, tables.root(), loaded);
            tSetup = System.nanoTime();

            HostKernel kernel = new HostKernel(space, new FileTree(request.bundle(), new TmpFs(limits.tmpBytes())),
                    request.stdin(), stdout, stderr, value -> vcpu.setMsr(X86.MSR_FS_BASE, value), random, deadline,
                    execPath);
            kernel.setBrk(loaded.brkStart());
            Ending ending = runLoop(vcpu, memory, kernel, deadline, hostCallTimes);
            tRun = System.nanoTime();
            Map<String, Long> byName = new LinkedHashMap<>();
            long[] counts = kernel.counts();
            for (int nr = 0; nr < counts.length; nr++) if (counts[nr] > 0) byName.put(Sys.name(nr), counts[nr]);
            RunResult.ExitCounts exits = new RunResult.ExitCounts(ending.hostCalls, ending.exceptions, ending.otherExits,
                    kernel.unknownCalls(), byName);
            release(vm);
            vm = null;
            long tEnd = System.nanoTime();
            RunResult.Timings timings = new RunResult.Timings(tCreate - t0, tLoad - tCreate, tSetup - tLoad, tRun - tSetup, tEnd - tRun);
            return new RunResult(ending.outcome, ending.status, ending.signal, ending.detail, stdout.bytes(),
                    stderr.bytes(), stdout.droppedBytes(), stderr.droppedBytes(), timings, exits);
        } finally {
            if (vm != null) release(vm);
        }
    }

    private void release(Vm vm) {
        if (reaper == null) {
            vm.close();
        } else {
            reaper.execute(vm::close);
        }
    }

    private RunResult failed(String why, OutputCapture stdout, OutputCapture stderr, long t0) {
        long took = System.nanoTime() - t0;
        return new RunResult(RunResult.Outcome.FAILED_TO_START, -1, 0, why, stdout.bytes(), stderr.bytes(), 0, 0,
                new RunResult.Timings(took, 0, 0, 0, 0), new RunResult.ExitCounts(0, 0, 0, 0, Map.of()));
    }

    /**
     * The kernel window: GDT, IDT, TSS and ring-0 stack (supervisor only), the host-call page and the image
     * text (reachable from ring 3, since under PVM the syscall entry runs there), and the doorbell page,
     * mapped to guest-physical memory that nothing backs.
     */
    private void buildKernelWindow(GuestMemory memory, PageTables tables) {
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
    private void configureVcpu(Vcpu vcpu, long cr3, ProgramLoader.Loaded loaded) {
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

    /** How the run loop ended. */
    private record Ending(RunResult.Outcome outcome, int status, int signal, String detail, long hostCalls,
                          long exceptions, long otherExits) {}

    private Ending runLoop(Vcpu vcpu, GuestMemory memory, HostKernel kernel, long deadline, long[] hostCallTimes) {
        MemorySegment hc = memory.slice(HOSTCALL_PAGE_GPA, PAGE_SIZE);
        long hostCalls = 0, otherExits = 0;
        vcpu.bindToCurrentThread();
        ScheduledFuture<?> kick = deadlines.schedule(vcpu::kick, Math.max(0, deadline - System.nanoTime()),
                TimeUnit.NANOSECONDS);
        try {
            while (true) {
                if (System.nanoTime() - deadline >= 0) {
                    return new Ending(RunResult.Outcome.TIMED_OUT, -1, 9, "killed at its deadline", hostCalls, 0, otherExits);
                }
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
                        } catch (RuntimeException e) {
                            // A host-half bug must end this program, never the host: report it with the call.
                            return new Ending(RunResult.Outcome.CRASHED, -1, 11, "host kernel error in "
                                    + Sys.name((int) Math.min(Math.max(hc.get(ValueLayout.JAVA_LONG, HC_NR), 0), 511))
                                    + ": " + e, hostCalls, 0, otherExits);
                        }
                        if (kernel.exited()) {
                            return new Ending(RunResult.Outcome.EXITED, kernel.exitStatus(), 0, "exited", hostCalls, 0, otherExits);
                        }
                        hc.set(ValueLayout.JAVA_LONG, HC_RET, result);
                    }
                    case VcpuExit.Mmio m -> {
                        // A store or load to guest-physical memory nothing backs, other than the doorbell.
                        return crash(vcpu, 7, "SIGBUS: access to unbacked guest-physical address 0x"
                                + Long.toHexString(m.physicalAddress()), hostCalls, otherExits);
                    }
                    case VcpuExit.Io io when io.port() >= EXCEPTION_PORT_BASE && io.port() < EXCEPTION_PORT_BASE + 32 -> {
                        return exception(vcpu, memory, io.port() - EXCEPTION_PORT_BASE, hostCalls, otherExits);
                    }
                    case VcpuExit.Interrupted i -> otherExits++;
                    case VcpuExit.Io io -> {
                        return crash(vcpu, 11, "SIGSEGV: port I/O to 0x" + Integer.toHexString(io.port()), hostCalls, otherExits);
                    }
                    case VcpuExit.Hlt h -> {
                        return crash(vcpu, 11, "SIGSEGV: the guest halted", hostCalls, otherExits);
                    }
                    case VcpuExit.Shutdown s -> {
                        return crash(vcpu, 11, "SIGSEGV: triple fault (the guest's exception handling failed)", hostCalls, otherExits);
                    }
                    case VcpuExit.InternalError e -> {
                        return crash(vcpu, 4, "SIGILL: KVM could not emulate an instruction (internal error "
                                + e.suberror() + ")", hostCalls, otherExits);
                    }
                    case VcpuExit.FailEntry f -> {
                        return crash(vcpu, 11, "vCPU entry failed (hardware reason 0x" + Long.toHexString(f.hardwareReason())
                                + ")", hostCalls, otherExits);
                    }
                    case VcpuExit.Other o -> {
                        return crash(vcpu, 11, "unexpected KVM exit " + o.reason(), hostCalls, otherExits);
                    }
                }
            }
        } finally {
            kick.cancel(false);
            vcpu.unbindFromCurrentThread();
        }
    }

    private Ending crash(Vcpu vcpu, int signal, String what, long hostCalls, long otherExits) {
        long rip = vcpu.getRegs().get(KvmApi.REG_RIP);
        return new Ending(RunResult.Outcome.CRASHED, -1, signal, what + " (rip 0x" + Long.toHexString(rip) + ")",
                hostCalls, 0, otherExits);
    }

    /** Reads the exception frame from the ring-0 stack and turns the vector into Linux's signal. */
    private Ending exception(Vcpu vcpu, GuestMemory memory, int vector, long hostCalls, long otherExits) {
        long rsp = vcpu.getRegs().get(KvmApi.REG_RSP);
        long frameGpa = rsp - KERNEL_WINDOW_VA;
        long errorCode = 0, rip = 0;
        long frameBytes = X86.pushesErrorCode(vector) ? 48 : 40;
        if (frameGpa >= RING0_STACK_BOTTOM_GPA && frameGpa + frameBytes <= RING0_STACK_TOP_GPA) {
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
            case 0, 16, 19 -> 8;
            case 3 -> 5;
            case 6 -> 4;
            case 17 -> 7;
            default -> 11;
        };
        return new Ending(RunResult.Outcome.CRASHED, -1, signal, detail + " at rip 0x" + Long.toHexString(rip),
                hostCalls, 1, otherExits);
    }

    @Override
    public void close() {
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
