package dev.flicker.kvm;

import dev.flicker.kvm.sys.Fd;
import dev.flicker.kvm.sys.KvmApi;
import dev.flicker.kvm.sys.Libc;
import dev.flicker.kvm.sys.SysException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The system handle, {@code /dev/kvm}: checks the API version once and answers system ioctls.
 * One per process is enough; it is safe to share between threads. See the KVM API, section 4 ("API description").
 */
public final class Kvm implements AutoCloseable {
    public static final Path DEVICE = Path.of("/dev/kvm");

    private final Fd fd;
    private final int vcpuMmapSize;
    private final byte[] supportedCpuid;

    private Kvm(Fd fd) {
        this.fd = fd;
        int version = Libc.ioctl(fd.get(), KvmApi.KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
        if (version != KvmApi.KVM_API_VERSION) {
            throw new KvmException("/dev/kvm speaks API version " + version + ", Flicker needs " + KvmApi.KVM_API_VERSION);
        }
        this.vcpuMmapSize = Libc.ioctl(fd.get(), KvmApi.KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
        this.supportedCpuid = readSupportedCpuid(fd.get());
    }

    /**
     * Opens {@code /dev/kvm}. When it is missing or not accessible the message says how to get it, since
     * every VM Flicker runs needs it.
     */
    public static Kvm open() {
        return open(DEVICE);
    }

    /** Opens {@code device}, a KVM system device ({@code /dev/kvm} but in tests); fails as {@link #open()} does. */
    public static Kvm open(Path device) {
        if (!Files.exists(device)) {
            throw new KvmException(device + " does not exist: Flicker needs KVM. Load the module for this CPU "
                    + "(modprobe kvm_intel, kvm_amd or kvm_pvm) or run on a host or VM with nested virtualisation.");
        }
        try {
            return new Kvm(new Fd(Libc.open(device.toString(), Libc.O_RDWR | Libc.O_CLOEXEC), "kvm"));
        } catch (SysException e) {
            throw new KvmException("cannot open " + device + " (" + e.getMessage() + "): run as root or add this user "
                    + "to the 'kvm' group", e);
        }
    }

    private static byte[] readSupportedCpuid(int kvmFd) {
        try (Arena arena = Arena.ofConfined()) {
            long size = KvmApi.CPUID_HEADER + KvmApi.CPUID_MAX_ENTRIES * KvmApi.CPUID_ENTRY_SIZE;
            MemorySegment buf = arena.allocate(size);
            buf.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, KvmApi.CPUID_MAX_ENTRIES);
            Libc.ioctl(kvmFd, KvmApi.KVM_GET_SUPPORTED_CPUID, buf, "KVM_GET_SUPPORTED_CPUID");
            int entries = buf.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            return buf.asSlice(0, KvmApi.CPUID_HEADER + entries * KvmApi.CPUID_ENTRY_SIZE).toArray(
                    java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    /** {@code KVM_CREATE_VM}. */
    public Vm createVm() {
        int vmFd = Libc.ioctl(fd.get(), KvmApi.KVM_CREATE_VM, 0, "KVM_CREATE_VM");
        return new Vm(this, new Fd(vmFd, "vm"));
    }

    int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** The host's {@code KVM_GET_SUPPORTED_CPUID} answer as a {@code struct kvm_cpuid2}, for a guest kind to edit. */
    public Cpuid supportedCpuid() {
        return Cpuid.parse(supportedCpuid);
    }

    /** {@code KVM_CHECK_EXTENSION(KVM_CAP_READONLY_MEM)}: whether {@link Vm#addReadOnlyMemory} works here. */
    public boolean supportsReadOnlyMemory() {
        return Libc.ioctl(fd.get(), KvmApi.KVM_CHECK_EXTENSION, KvmApi.KVM_CAP_READONLY_MEM, "KVM_CHECK_EXTENSION") > 0;
    }

    /** True when this KVM is the software PVM hypervisor, where guest ring-0 code is emulated. */
    public static boolean isPvm() {
        return Files.isDirectory(Path.of("/sys/module/kvm_pvm"));
    }

    @Override
    public void close() {
        fd.close();
    }
}
