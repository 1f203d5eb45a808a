package dev.flicker.guest;

/**
 * The micro guest's host-call ABI, host side; the guest side is {@code src/main/guest/hostcall.h}. The image
 * carries these values in its header, {@link GuestImage} refuses an image that disagrees, and a test checks it.
 * See docs/micro-guest-abi.md.
 */
public final class HostCallAbi {
    private HostCallAbi() {}

    public static final int VERSION = 1;
    public static final long IMAGE_MAGIC = 0x315453474b4c46L; // "FLKGST1"

    public static final long KERNEL_WINDOW_VA = 0xffffffffffe00000L;
    public static final long KERNEL_WINDOW_BYTES = 2L << 20;
    public static final long GDT_GPA = 0x1000, IDT_GPA = 0x2000, TSS_GPA = 0x3000;
    public static final long HOSTCALL_PAGE_GPA = 0x4000;
    public static final long RING0_STACK_BOTTOM_GPA = 0x5000, RING0_STACK_TOP_GPA = 0x7000;
    public static final long IMAGE_PHYS = 0x100000, IMAGE_TEXT_PHYS = 0x101000;
    public static final long DOORBELL_VA = KERNEL_WINDOW_VA + 0x1ff000;
    public static final long DOORBELL_GPA = 0xd0000000L;
    public static final int EXCEPTION_PORT_BASE = 0x80;

    // offsets in the host-call page
    public static final int HC_NR = 0x00, HC_ARG0 = 0x08, HC_RIP = 0x38, HC_RFLAGS = 0x40, HC_RET = 0x48,
            HC_USER_RSP = 0x50, HC_SCRATCH_TOP = 0x100;

    // GDT selectors; SYSRET derives the user selectors from STAR[63:48] = USER_BASE_SELECTOR.
    public static final int KERNEL_CS = 0x08, KERNEL_DS = 0x10, USER_DS = 0x18 | 3, USER_CS = 0x20 | 3, TSS_SELECTOR = 0x28;
    public static final int STAR_USER_BASE = 0x10;

    public static long kernelVa(long gpa) {
        return KERNEL_WINDOW_VA + gpa;
    }
}
