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

    /**
     * Threads that bring vCPUs up, kept between VMs: starting a platform thread costs more here than
     * configuring a vCPU, so a fresh thread per vCPU would make parallel bring-up slower than sequential.
     */
    private static final ExecutorService BRINGUP_THREADS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "vcpu-bringup");
        t.setDaemon(true);
        return t;
    });

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
