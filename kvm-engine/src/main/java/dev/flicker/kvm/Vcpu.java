package dev.flicker.kvm;

import dev.flicker.kvm.sys.Fd;
import dev.flicker.kvm.sys.KvmApi;
import dev.flicker.kvm.sys.Libc;
import dev.flicker.kvm.sys.Mapping;
import dev.flicker.kvm.x86.DescriptorTable;
import dev.flicker.kvm.x86.Regs;
import dev.flicker.kvm.x86.Segment;
import dev.flicker.kvm.x86.Sregs;
import dev.flicker.kvm.x86.X86;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One vCPU: its fd, its {@code kvm_run} page (mapped once), and one method per vCPU ioctl. {@link #run()}
 * allocates nothing. A vCPU is run by one thread at a time; {@link #kick()} may be called from any thread
 * to make a running {@code KVM_RUN} return ({@link VcpuExit.Interrupted}).
 */
public final class Vcpu implements AutoCloseable {
    private static final int KICK_SIGNAL = Libc.SIGUSR1;

    private final int id;
    private final Fd fd;
    private final Mapping runMapping;
    private final MemorySegment run;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment errnoCapture = Libc.newErrnoCapture(arena);
    private final MemorySegment regsBuffer = arena.allocate(KvmApi.REGS_SIZE, 8);
    private final MemorySegment sregsBuffer = arena.allocate(KvmApi.SREGS_SIZE, 8);
    private final MemorySegment msrBuffer = arena.allocate(KvmApi.MSRS_HEADER + 64 * KvmApi.MSR_ENTRY_SIZE, 8);
    /** {@link #clearKick()}'s arguments to {@code sigtimedwait}, made once. */
    private final MemorySegment kickSignalSet = Libc.newSigset(arena, KICK_SIGNAL);
    private final MemorySegment zeroTimespec = arena.allocate(16, 8);
    private final AtomicBoolean closed = new AtomicBoolean();

    private final VcpuExit.Mmio mmio;
    private final VcpuExit.Io io;
    private final VcpuExit.Hlt hlt = new VcpuExit.Hlt();
    private final VcpuExit.Shutdown shutdown = new VcpuExit.Shutdown();
    private final VcpuExit.Interrupted interrupted = new VcpuExit.Interrupted();
    private final VcpuExit.InternalError internalError;
    private final VcpuExit.FailEntry failEntry;
    private final VcpuExit.Other other;

    /** The pthread currently inside {@link #run()} for this vCPU, or 0; guarded by {@code this}. */
    private long runnerThread;

    Vcpu(int id, Fd fd, int mmapSize) {
        this.id = id;
        this.fd = fd;
        try {
            this.runMapping = Mapping.sharedFile(fd.get(), mmapSize);
        } catch (RuntimeException e) {
            fd.close();
            throw new KvmException("cannot map kvm_run of vCPU " + id, e);
        }
        this.run = runMapping.segment();
        this.mmio = new VcpuExit.Mmio(run);
        this.io = new VcpuExit.Io(run);
        this.internalError = new VcpuExit.InternalError(run);
        this.failEntry = new VcpuExit.FailEntry(run);
        this.other = new VcpuExit.Other(run);
    }

    public int id() {
        return id;
    }

    /**
     * Binds this vCPU to the calling thread so that {@link #kick()} can reach it: the kick signal is blocked
     * in the thread and unblocked only inside {@code KVM_RUN} ({@code KVM_SET_SIGNAL_MASK}), so a kick can
     * never be lost and never runs a handler in the JVM.
     */
    public void bindToCurrentThread() {
        Libc.pthreadSigmask(Libc.SIG_BLOCK, KICK_SIGNAL);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mask = a.allocate(4 + 8);
            mask.set(ValueLayout.JAVA_INT, 0, 8); // an empty kernel sigset: nothing blocked while in the guest
            mask.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, 0L);
            Libc.ioctl(fd.get(), KvmApi.KVM_SET_SIGNAL_MASK, mask, "KVM_SET_SIGNAL_MASK");
        }
        synchronized (this) {
            runnerThread = Libc.pthreadSelf();
        }
    }

    /** Undoes {@link #bindToCurrentThread()}, and takes back a kick that arrived too late to matter. */
    public void unbindFromCurrentThread() {
        synchronized (this) {
            runnerThread = 0;
        }
        Libc.takePendingSignal(KICK_SIGNAL);
        run.set(ValueLayout.JAVA_BYTE, KvmApi.RUN_IMMEDIATE_EXIT, (byte) 0);
    }

    /** Makes the current or next {@code KVM_RUN} return {@link VcpuExit.Interrupted}; callable from any thread. */
    public void kick() {
        synchronized (this) {
            if (closed.get()) return;
            run.set(ValueLayout.JAVA_BYTE, KvmApi.RUN_IMMEDIATE_EXIT, (byte) 1);
            if (runnerThread != 0) Libc.pthreadKill(runnerThread, KICK_SIGNAL);
        }
    }

    /**
     * Takes back a kick that made {@link #run()} return {@link VcpuExit.Interrupted}, so that the next {@code KVM_RUN}
     * enters the guest again: clears {@code immediate_exit} and takes the kick signal if it is still pending (it
     * stays pending after {@code KVM_RUN} returns, blocked, and would end the next one at once). Called by the
     * thread bound to this vCPU; allocates nothing. A kick that lands between the two steps may be taken too, so
     * whoever kicks must first record why (a deadline, a preemption) where the run loop looks after this call.
     */
    public void clearKick() {
        run.set(ValueLayout.JAVA_BYTE, KvmApi.RUN_IMMEDIATE_EXIT, (byte) 0);
        Libc.takePendingSignal(kickSignalSet, zeroTimespec, KICK_SIGNAL);
    }

    /** {@code KVM_RUN}: enters the guest until the next exit. */
    public VcpuExit run() {
        int rc = Libc.ioctlRaw(fd.get(), KvmApi.KVM_RUN, errnoCapture);
        if (rc < 0) {
            if (rc == -Libc.EINTR || rc == -Libc.EAGAIN) return interrupted;
            throw new KvmException("KVM_RUN on vCPU " + id + " failed: " + Libc.strerror(-rc) + " (errno " + -rc + ")");
        }
        return switch (run.get(ValueLayout.JAVA_INT, KvmApi.RUN_EXIT_REASON)) {
            case KvmApi.KVM_EXIT_MMIO -> mmio;
            case KvmApi.KVM_EXIT_IO -> io;
            case KvmApi.KVM_EXIT_HLT -> hlt;
            case KvmApi.KVM_EXIT_SHUTDOWN -> shutdown;
            case KvmApi.KVM_EXIT_INTR -> interrupted;
            case KvmApi.KVM_EXIT_INTERNAL_ERROR -> internalError;
            case KvmApi.KVM_EXIT_FAIL_ENTRY -> failEntry;
            default -> other;
        };
    }

    /** {@code KVM_GET_REGS} into {@code out}. */
    public Regs getRegs(Regs out) {
        Libc.ioctl(fd.get(), KvmApi.KVM_GET_REGS, regsBuffer, "KVM_GET_REGS");
        for (int i = 0; i < Regs.COUNT; i++) out.set(i, regsBuffer.getAtIndex(ValueLayout.JAVA_LONG, i));
        return out;
    }

    public Regs getRegs() {
        return getRegs(new Regs());
    }

    /** {@code KVM_SET_REGS}. */
    public void setRegs(Regs regs) {
        for (int i = 0; i < Regs.COUNT; i++) regsBuffer.setAtIndex(ValueLayout.JAVA_LONG, i, regs.get(i));
        Libc.ioctl(fd.get(), KvmApi.KVM_SET_REGS, regsBuffer, "KVM_SET_REGS");
    }

    /** {@code KVM_GET_SREGS}. */
    public Sregs getSregs() {
        Libc.ioctl(fd.get(), KvmApi.KVM_GET_SREGS, sregsBuffer, "KVM_GET_SREGS");
        MemorySegment b = sregsBuffer;
        return new Sregs(segment(b, 0), segment(b, 1), segment(b, 2), segment(b, 3), segment(b, 4), segment(b, 5),
                segment(b, 6), segment(b, 7), dtable(b, KvmApi.SREGS_GDT), dtable(b, KvmApi.SREGS_IDT),
                b.get(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR0), b.get(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR2),
                b.get(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR3), b.get(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR4),
                b.get(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR8), b.get(ValueLayout.JAVA_LONG, KvmApi.SREGS_EFER),
                b.get(ValueLayout.JAVA_LONG, KvmApi.SREGS_APIC_BASE));
    }

    /** {@code KVM_SET_SREGS}; no interrupt is left pending. */
    public void setSregs(Sregs s) {
        MemorySegment b = sregsBuffer;
        b.fill((byte) 0);
        for (int i = 0; i < 8; i++) putSegment(b, i, s.segment(i));
        putDtable(b, KvmApi.SREGS_GDT, s.gdt());
        putDtable(b, KvmApi.SREGS_IDT, s.idt());
        b.set(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR0, s.cr0());
        b.set(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR2, s.cr2());
        b.set(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR3, s.cr3());
        b.set(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR4, s.cr4());
        b.set(ValueLayout.JAVA_LONG, KvmApi.SREGS_CR8, s.cr8());
        b.set(ValueLayout.JAVA_LONG, KvmApi.SREGS_EFER, s.efer());
        b.set(ValueLayout.JAVA_LONG, KvmApi.SREGS_APIC_BASE, s.apicBase());
        Libc.ioctl(fd.get(), KvmApi.KVM_SET_SREGS, b, "KVM_SET_SREGS");
    }

    /** {@code KVM_SET_MSRS} with (index, value) pairs; fails unless every MSR was accepted. */
    public void setMsrs(int[] indices, long[] values) {
        if (indices.length != values.length || indices.length > 64) throw new IllegalArgumentException("msrs");
        msrBuffer.set(ValueLayout.JAVA_INT, 0, indices.length);
        msrBuffer.set(ValueLayout.JAVA_INT, 4, 0);
        for (int i = 0; i < indices.length; i++) {
            long o = KvmApi.MSRS_HEADER + i * KvmApi.MSR_ENTRY_SIZE;
            msrBuffer.set(ValueLayout.JAVA_INT, o, indices[i]);
            msrBuffer.set(ValueLayout.JAVA_INT, o + 4, 0);
            msrBuffer.set(ValueLayout.JAVA_LONG, o + 8, values[i]);
        }
        int set = Libc.ioctl(fd.get(), KvmApi.KVM_SET_MSRS, msrBuffer, "KVM_SET_MSRS");
        if (set != indices.length) {
            throw new KvmException("KVM_SET_MSRS on vCPU " + id + " rejected MSR 0x" + Integer.toHexString(indices[set]));
        }
    }

    /** Sets one MSR; the run loop uses it for {@code FS_BASE}, which a guest changes at most a few times. */
    public void setMsr(int index, long value) {
        msrBuffer.set(ValueLayout.JAVA_INT, 0, 1);
        msrBuffer.set(ValueLayout.JAVA_INT, 4, 0);
        msrBuffer.set(ValueLayout.JAVA_INT, KvmApi.MSRS_HEADER, index);
        msrBuffer.set(ValueLayout.JAVA_INT, KvmApi.MSRS_HEADER + 4, 0);
        msrBuffer.set(ValueLayout.JAVA_LONG, KvmApi.MSRS_HEADER + 8, value);
        if (Libc.ioctl(fd.get(), KvmApi.KVM_SET_MSRS, msrBuffer, "KVM_SET_MSRS") != 1) {
            throw new KvmException("KVM_SET_MSRS on vCPU " + id + " rejected MSR 0x" + Integer.toHexString(index));
        }
    }

    /** {@code KVM_GET_MSRS} for the given indices. */
    public long[] getMsrs(int[] indices) {
        if (indices.length > 64) throw new IllegalArgumentException("msrs");
        msrBuffer.set(ValueLayout.JAVA_INT, 0, indices.length);
        for (int i = 0; i < indices.length; i++) {
            long o = KvmApi.MSRS_HEADER + i * KvmApi.MSR_ENTRY_SIZE;
            msrBuffer.set(ValueLayout.JAVA_INT, o, indices[i]);
            msrBuffer.set(ValueLayout.JAVA_LONG, o + 8, 0);
        }
        int got = Libc.ioctl(fd.get(), KvmApi.KVM_GET_MSRS, msrBuffer, "KVM_GET_MSRS");
        if (got != indices.length) {
            throw new KvmException("KVM_GET_MSRS on vCPU " + id + " could not read MSR 0x" + Integer.toHexString(indices[got]));
        }
        long[] values = new long[indices.length];
        for (int i = 0; i < indices.length; i++) {
            values[i] = msrBuffer.get(ValueLayout.JAVA_LONG, KvmApi.MSRS_HEADER + i * KvmApi.MSR_ENTRY_SIZE + 8);
        }
        return values;
    }

    /**
     * {@code KVM_GET_TSC_KHZ}: the frequency of the TSC this vCPU's guest reads, in kHz (api.rst 4.56), or 0 when KVM
     * does not know it.
     */
    public long tscKhz() {
        return Libc.ioctl(fd.get(), KvmApi.KVM_GET_TSC_KHZ, 0L, "KVM_GET_TSC_KHZ");
    }

    /** The TSC the guest reads now ({@code KVM_GET_MSRS} of {@code IA32_TSC}, MSR 0x10), scaled and offset as the guest sees it. */
    public long guestTsc() {
        return getMsrs(TSC_MSR)[0];
    }

    private static final int[] TSC_MSR = {X86.MSR_IA32_TSC};

    /** {@code KVM_SET_CPUID2}. */
    public void setCpuid(Cpuid cpuid) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(cpuid.encodedSize(), 8);
            cpuid.encode(b);
            Libc.ioctl(fd.get(), KvmApi.KVM_SET_CPUID2, b, "KVM_SET_CPUID2");
        }
    }

    /** {@code KVM_GET_FPU} as raw bytes ({@code struct kvm_fpu}), for state comparison and snapshots. */
    public byte[] getFpu() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(KvmApi.FPU_SIZE, 8);
            Libc.ioctl(fd.get(), KvmApi.KVM_GET_FPU, b, "KVM_GET_FPU");
            return b.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** {@code KVM_SET_FPU} from raw {@code struct kvm_fpu} bytes. */
    public void setFpu(byte[] fpu) {
        if (fpu.length != KvmApi.FPU_SIZE) throw new IllegalArgumentException("kvm_fpu is " + KvmApi.FPU_SIZE + " bytes");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(KvmApi.FPU_SIZE, 8);
            b.copyFrom(MemorySegment.ofArray(fpu));
            Libc.ioctl(fd.get(), KvmApi.KVM_SET_FPU, b, "KVM_SET_FPU");
        }
    }

    private static Segment segment(MemorySegment b, int index) {
        long o = index * KvmApi.SEGMENT_SIZE;
        return new Segment(b.get(ValueLayout.JAVA_LONG, o), b.get(ValueLayout.JAVA_INT, o + 8),
                Short.toUnsignedInt(b.get(ValueLayout.JAVA_SHORT, o + 12)), b.get(ValueLayout.JAVA_BYTE, o + 14),
                b.get(ValueLayout.JAVA_BYTE, o + 15) != 0, b.get(ValueLayout.JAVA_BYTE, o + 16),
                b.get(ValueLayout.JAVA_BYTE, o + 17) != 0, b.get(ValueLayout.JAVA_BYTE, o + 18) != 0,
                b.get(ValueLayout.JAVA_BYTE, o + 19) != 0, b.get(ValueLayout.JAVA_BYTE, o + 20) != 0,
                b.get(ValueLayout.JAVA_BYTE, o + 21) != 0, b.get(ValueLayout.JAVA_BYTE, o + 22) != 0);
    }

    private static void putSegment(MemorySegment b, int index, Segment s) {
        long o = index * KvmApi.SEGMENT_SIZE;
        b.set(ValueLayout.JAVA_LONG, o, s.base());
        b.set(ValueLayout.JAVA_INT, o + 8, s.limit());
        b.set(ValueLayout.JAVA_SHORT, o + 12, (short) s.selector());
        b.set(ValueLayout.JAVA_BYTE, o + 14, (byte) s.type());
        b.set(ValueLayout.JAVA_BYTE, o + 15, (byte) (s.present() ? 1 : 0));
        b.set(ValueLayout.JAVA_BYTE, o + 16, (byte) s.dpl());
        b.set(ValueLayout.JAVA_BYTE, o + 17, (byte) (s.db() ? 1 : 0));
        b.set(ValueLayout.JAVA_BYTE, o + 18, (byte) (s.s() ? 1 : 0));
        b.set(ValueLayout.JAVA_BYTE, o + 19, (byte) (s.l() ? 1 : 0));
        b.set(ValueLayout.JAVA_BYTE, o + 20, (byte) (s.g() ? 1 : 0));
        b.set(ValueLayout.JAVA_BYTE, o + 21, (byte) (s.avl() ? 1 : 0));
        b.set(ValueLayout.JAVA_BYTE, o + 22, (byte) (s.unusable() ? 1 : 0));
    }

    private static DescriptorTable dtable(MemorySegment b, long offset) {
        return new DescriptorTable(b.get(ValueLayout.JAVA_LONG, offset),
                Short.toUnsignedInt(b.get(ValueLayout.JAVA_SHORT, offset + 8)));
    }

    private static void putDtable(MemorySegment b, long offset, DescriptorTable t) {
        b.set(ValueLayout.JAVA_LONG, offset, t.base());
        b.set(ValueLayout.JAVA_SHORT, offset + 8, (short) t.limit());
    }

    @Override
    public void close() {
        synchronized (this) {
            if (!closed.compareAndSet(false, true)) return;
        }
        try {
            runMapping.close();
        } finally {
            fd.close();
            arena.close();
        }
    }
}
