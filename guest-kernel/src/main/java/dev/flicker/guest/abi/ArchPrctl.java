package dev.flicker.guest.abi;

/** {@code arch_prctl} codes (asm/prctl.h). */
public final class ArchPrctl {
    private ArchPrctl() {}

    public static final int ARCH_SET_GS = 0x1001, ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003, ARCH_GET_GS = 0x1004;
}
