package dev.flicker.kvm.x86;

/** Architectural constants of x86-64 (Intel SDM vol. 3): control register bits, EFER, MSRs, page-table bits. */
public final class X86 {
    private X86() {}

    public static final long CR0_PE = 1L, CR0_MP = 1L << 1, CR0_ET = 1L << 4, CR0_NE = 1L << 5, CR0_WP = 1L << 16,
            CR0_AM = 1L << 18, CR0_PG = 1L << 31;
    public static final long CR4_PAE = 1L << 5, CR4_OSFXSR = 1L << 9, CR4_OSXMMEXCPT = 1L << 10;
    public static final long EFER_SCE = 1L, EFER_LME = 1L << 8, EFER_LMA = 1L << 10, EFER_NXE = 1L << 11;

    public static final int MSR_EFER = 0xC0000080, MSR_STAR = 0xC0000081, MSR_LSTAR = 0xC0000082,
            MSR_CSTAR = 0xC0000083, MSR_SFMASK = 0xC0000084, MSR_FS_BASE = 0xC0000100, MSR_GS_BASE = 0xC0000101,
            MSR_KERNEL_GS_BASE = 0xC0000102, MSR_TSC_AUX = 0xC0000103, MSR_IA32_TSC = 0x10;

    public static final long RFLAGS_RESERVED = 1L << 1, RFLAGS_TF = 1L << 8, RFLAGS_IF = 1L << 9,
            RFLAGS_DF = 1L << 10, RFLAGS_IOPL = 3L << 12, RFLAGS_NT = 1L << 14, RFLAGS_AC = 1L << 18;

    public static final long PAGE_SIZE = 4096;
    public static final long PTE_PRESENT = 1L, PTE_WRITABLE = 1L << 1, PTE_USER = 1L << 2, PTE_ACCESSED = 1L << 5,
            PTE_DIRTY = 1L << 6, PTE_HUGE = 1L << 7, PTE_NO_EXECUTE = 1L << 63;
    public static final long PTE_ADDRESS_MASK = 0x000F_FFFF_FFFF_F000L;

    /** Exception vectors that push an error code (SDM vol. 3, table 6-1). */
    public static boolean pushesErrorCode(int vector) {
        return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29
                || vector == 30;
    }

    /** True for a canonical 48-bit virtual address. */
    public static boolean isCanonical(long va) {
        return (va << 16 >> 16) == va;
    }
}
