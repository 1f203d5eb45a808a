package dev.flicker.guest.abi;

/** Memory protection, mapping flags and advice (asm-generic/mman-common.h, linux/mman.h). */
public final class Mman {
    private Mman() {}

    public static final int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    /** Every protection bit this guest knows: the others are EINVAL. */
    public static final int PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC;

    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20,
            MAP_FIXED_NOREPLACE = 0x100000;

    public static final int MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;

    public static final int MADV_DONTNEED = 4;
}
