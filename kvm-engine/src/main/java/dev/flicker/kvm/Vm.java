package dev.flicker.kvm;

import dev.flicker.kvm.sys.Fd;
import dev.flicker.kvm.sys.KvmApi;
import dev.flicker.kvm.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;

/**
 * A virtual machine ({@code KVM_CREATE_VM}): owns its fd, its memory regions and its vCPUs, and closes them
 * all once. Knows nothing about what runs inside.
 */
public final class Vm implements AutoCloseable {
    private final Kvm kvm;
    private final Fd fd;
    private final List<GuestMemory> memory = Collections.synchronizedList(new ArrayList<>());
    private final List<Vcpu> vcpus = Collections.synchronizedList(new ArrayList<>());
    private int nextSlot;
    private int readOnlySlot = -1;
    private long readOnlyGpa;
    private MemorySegment readOnlyHost;

    /**
     * Threads that bring vCPUs up, kept between VMs: starting a platform thread costs more here than
     * configuring a vCPU, so a fresh thread per vCPU would make parallel bring-up slower than sequential.
     */
    private static final ExecutorService BRINGUP_THREADS = Executors.newCachedThreadPool(
            Thread.ofPlatform().name("vcpu-bringup-", 0).daemon().factory());

    Vm(Kvm kvm, Fd fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    /**
     * {@code KVM_SET_USER_MEMORY_REGION}: makes {@code region} guest-physical memory in the next free slot.
     * The VM takes ownership and unmaps it when closed.
     */
    public synchronized void addMemory(GuestMemory region) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = arena.allocate(KvmApi.MEMORY_REGION_SIZE);
            r.set(ValueLayout.JAVA_INT, 0, nextSlot);
            r.set(ValueLayout.JAVA_INT, 4, 0); // flags
            r.set(ValueLayout.JAVA_LONG, 8, region.base().value());
            r.set(ValueLayout.JAVA_LONG, 16, region.sizeBytes());
            r.set(ValueLayout.JAVA_LONG, 24, region.hostAddress());
            Libc.ioctl(fd.get(), KvmApi.KVM_SET_USER_MEMORY_REGION, r, "KVM_SET_USER_MEMORY_REGION");
        } catch (RuntimeException e) {
            region.close();
            throw new KvmException("cannot add " + region.sizeBytes() + " bytes of guest memory at " + region.base(), e);
        }
        nextSlot++;
        memory.add(region);
    }

    /**
     * {@code KVM_SET_USER_MEMORY_REGION} with {@code KVM_MEM_READONLY}: {@code host} (page-aligned, owned by the
     * caller, which must keep it mapped while this VM lives) becomes read-only guest-physical memory at {@code gpa}
     * in the next free slot; a guest write there is an MMIO exit. Many VMs may share one such region: the host pages
     * behind it are the same for all of them. One per VM. Needs {@link Kvm#supportsReadOnlyMemory}.
     */
    public synchronized void addReadOnlyMemory(long gpa, MemorySegment host) {
        if (readOnlySlot >= 0) throw new IllegalStateException("this VM has its read-only memory already");
        setReadOnlyRegion(nextSlot, gpa, host, host.byteSize());
        readOnlySlot = nextSlot++;
        readOnlyGpa = gpa;
        readOnlyHost = host;
    }

    /**
     * Makes every vCPU forget the translations it cached into the read-only memory ({@link #addReadOnlyMemory}): the
     * slot is deleted and added again, and deleting a slot makes KVM drop every shadow or EPT entry into it and flush
     * the guests' TLBs. For a host that changed a page-table entry that pointed into it behind the guest's back: the
     * guest has no code that could flush its TLB, and under shadow paging (PVM) KVM would go on using its shadow entry
     * for the old page even after a CR3 load. The vCPUs must be outside {@code KVM_RUN}. Costs two memory-slot
     * updates: call it rarely.
     */
    public synchronized void forgetReadOnlyTranslations() {
        if (readOnlySlot < 0) return;
        setReadOnlyRegion(readOnlySlot, readOnlyGpa, readOnlyHost, 0);
        setReadOnlyRegion(readOnlySlot, readOnlyGpa, readOnlyHost, readOnlyHost.byteSize());
    }

    private void setReadOnlyRegion(int slot, long gpa, MemorySegment host, long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = arena.allocate(KvmApi.MEMORY_REGION_SIZE);
            r.set(ValueLayout.JAVA_INT, 0, slot);
            r.set(ValueLayout.JAVA_INT, 4, KvmApi.KVM_MEM_READONLY);
            r.set(ValueLayout.JAVA_LONG, 8, gpa);
            r.set(ValueLayout.JAVA_LONG, 16, bytes);
            r.set(ValueLayout.JAVA_LONG, 24, host.address());
            Libc.ioctl(fd.get(), KvmApi.KVM_SET_USER_MEMORY_REGION, r, "KVM_SET_USER_MEMORY_REGION");
        } catch (RuntimeException e) {
            throw new KvmException("cannot set " + bytes + " bytes of read-only guest memory at 0x" + Long.toHexString(gpa), e);
        }
    }

    /** {@code KVM_CREATE_VCPU}: a vCPU with its {@code kvm_run} mapped once. */
    public Vcpu createVcpu(int id) {
        int vcpuFd = Libc.ioctl(fd.get(), KvmApi.KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU");
        Vcpu vcpu = new Vcpu(id, new Fd(vcpuFd, "vcpu" + id), kvm.vcpuMmapSize());
        vcpus.add(vcpu);
        return vcpu;
    }

    /**
     * Creates {@code count} vCPUs and runs {@code configure} on each. In parallel, each vCPU is created and
     * configured on its own thread and this returns when all are ready; sequentially, one after another on the
     * calling thread. Both produce the same vCPU state (tested).
     */
    public List<Vcpu> createVcpus(int count, Consumer<Vcpu> configure, boolean parallel) {
        if (!parallel) {
            List<Vcpu> list = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                Vcpu v = createVcpu(i);
                configure.accept(v);
                list.add(v);
            }
            return list;
        }
        AtomicReferenceArray<Vcpu> created = new AtomicReferenceArray<>(count);
        AtomicReferenceArray<Throwable> failures = new AtomicReferenceArray<>(count);
        CountDownLatch ready = new CountDownLatch(count);
        for (int i = 0; i < count; i++) {
            int id = i;
            BRINGUP_THREADS.execute(() -> {
                try {
                    Vcpu v = createVcpu(id);
                    configure.accept(v);
                    created.set(id, v);
                } catch (Throwable t) {
                    failures.set(id, t);
                } finally {
                    ready.countDown();
                }
            });
        }
        try {
            ready.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KvmException("interrupted while bringing up vCPUs");
        }
        List<Vcpu> list = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            if (failures.get(i) != null) throw new KvmException("vCPU " + i + " failed to come up", failures.get(i));
            list.add(created.get(i));
        }
        return list;
    }

    /** Closes the vCPUs, the VM fd, then unmaps guest memory (the kernel drops its references with the VM). */
    @Override
    public void close() {
        RuntimeException first = null;
        synchronized (vcpus) {
            for (Vcpu v : vcpus) {
                try {
                    v.close();
                } catch (RuntimeException e) {
                    if (first == null) first = e;
                }
            }
        }
        try {
            fd.close();
        } catch (RuntimeException e) {
            if (first == null) first = e;
        }
        synchronized (memory) {
            for (GuestMemory m : memory) {
                try {
                    m.close();
                } catch (RuntimeException e) {
                    if (first == null) first = e;
                }
            }
        }
        if (first != null) throw first;
    }
}
