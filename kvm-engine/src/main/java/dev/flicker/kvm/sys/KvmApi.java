package dev.flicker.kvm.sys;

/**
 * Every KVM ioctl number, exit reason and struct offset Flicker uses, in one table
 * (Linux {@code include/uapi/linux/kvm.h}, x86-64). Numbers were checked against the C headers with
 * {@code _IO/_IOR/_IOW/_IOWR(KVMIO = 0xAE, nr, size)}.
 */
public final class KvmApi {
    private KvmApi() {}

    public static final int KVM_API_VERSION = 12;

    // system ioctls (on /dev/kvm)
    public static final long KVM_GET_API_VERSION = 0xAE00L;
    public static final long KVM_CREATE_VM = 0xAE01L;
    public static final long KVM_CHECK_EXTENSION = 0xAE03L;
    public static final long KVM_GET_VCPU_MMAP_SIZE = 0xAE04L;
    public static final long KVM_GET_SUPPORTED_CPUID = 0xC008AE05L;

    // VM ioctls
    public static final long KVM_CREATE_VCPU = 0xAE41L;
    public static final long KVM_SET_USER_MEMORY_REGION = 0x4020AE46L;
    public static final long KVM_SET_TSS_ADDR = 0xAE47L;

    // vCPU ioctls
    public static final long KVM_RUN = 0xAE80L;
    public static final long KVM_GET_REGS = 0x8090AE81L;
    public static final long KVM_SET_REGS = 0x4090AE82L;
    public static final long KVM_GET_SREGS = 0x8138AE83L;
    public static final long KVM_SET_SREGS = 0x4138AE84L;
    public static final long KVM_GET_MSRS = 0xC008AE88L;
    public static final long KVM_SET_MSRS = 0x4008AE89L;
    public static final long KVM_SET_SIGNAL_MASK = 0x4004AE8BL;
    public static final long KVM_GET_FPU = 0x81A0AE8CL;
    public static final long KVM_SET_FPU = 0x41A0AE8DL;
    public static final long KVM_SET_CPUID2 = 0x4008AE90L;
    /** {@code _IO(KVMIO, 0xa3)}: the vCPU's TSC frequency in kHz (the ioctl's return value). */
    public static final long KVM_GET_TSC_KHZ = 0xAEA3L;

    // exit reasons (kvm_run.exit_reason)
    public static final int KVM_EXIT_UNKNOWN = 0, KVM_EXIT_EXCEPTION = 1, KVM_EXIT_IO = 2, KVM_EXIT_HYPERCALL = 3,
            KVM_EXIT_DEBUG = 4, KVM_EXIT_HLT = 5, KVM_EXIT_MMIO = 6, KVM_EXIT_SHUTDOWN = 8, KVM_EXIT_FAIL_ENTRY = 9,
            KVM_EXIT_INTR = 10, KVM_EXIT_INTERNAL_ERROR = 17, KVM_EXIT_SYSTEM_EVENT = 24;

    // struct kvm_run
    public static final long RUN_IMMEDIATE_EXIT = 1;
    public static final long RUN_EXIT_REASON = 8;
    public static final long RUN_IO_DIRECTION = 32, RUN_IO_SIZE = 33, RUN_IO_PORT = 34, RUN_IO_COUNT = 36,
            RUN_IO_DATA_OFFSET = 40;
    public static final long RUN_MMIO_PHYS_ADDR = 32, RUN_MMIO_DATA = 40, RUN_MMIO_LEN = 48, RUN_MMIO_IS_WRITE = 52;
    public static final long RUN_INTERNAL_SUBERROR = 32, RUN_INTERNAL_NDATA = 36, RUN_INTERNAL_DATA = 40;
    public static final long RUN_FAIL_ENTRY_REASON = 32;

    // struct kvm_userspace_memory_region
    public static final long MEMORY_REGION_SIZE = 32;
    /** {@code kvm_userspace_memory_region.flags}: the guest may read the slot; a write is an MMIO exit. */
    public static final int KVM_MEM_READONLY = 1 << 1;
    /** {@code KVM_CHECK_EXTENSION} argument: read-only memory slots are supported. */
    public static final int KVM_CAP_READONLY_MEM = 81;

    // struct kvm_regs: 18 u64 in this order
    public static final long REGS_SIZE = 144;
    public static final int REG_RAX = 0, REG_RBX = 1, REG_RCX = 2, REG_RDX = 3, REG_RSI = 4, REG_RDI = 5,
            REG_RSP = 6, REG_RBP = 7, REG_R8 = 8, REG_R9 = 9, REG_R10 = 10, REG_R11 = 11, REG_R12 = 12,
            REG_R13 = 13, REG_R14 = 14, REG_R15 = 15, REG_RIP = 16, REG_RFLAGS = 17;

    // struct kvm_sregs: 8 kvm_segment (24 bytes) then gdt, idt (kvm_dtable, 16 bytes) then control registers
    public static final long SREGS_SIZE = 312;
    public static final long SEGMENT_SIZE = 24;
    public static final int SEG_CS = 0, SEG_DS = 1, SEG_ES = 2, SEG_FS = 3, SEG_GS = 4, SEG_SS = 5, SEG_TR = 6,
            SEG_LDT = 7;
    public static final long SREGS_GDT = 192, SREGS_IDT = 208, SREGS_CR0 = 224, SREGS_CR2 = 232, SREGS_CR3 = 240,
            SREGS_CR4 = 248, SREGS_CR8 = 256, SREGS_EFER = 264, SREGS_APIC_BASE = 272;

    // struct kvm_msrs { u32 nmsrs; u32 pad; struct kvm_msr_entry { u32 index; u32 reserved; u64 data; } entries[]; }
    public static final long MSRS_HEADER = 8, MSR_ENTRY_SIZE = 16;

    // struct kvm_cpuid2 { u32 nent; u32 padding; struct kvm_cpuid_entry2 entries[]; }
    public static final long CPUID_HEADER = 8, CPUID_ENTRY_SIZE = 40;
    public static final int CPUID_MAX_ENTRIES = 256;

    public static final long FPU_SIZE = 416;
}
