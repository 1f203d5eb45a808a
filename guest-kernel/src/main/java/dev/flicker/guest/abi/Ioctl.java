package dev.flicker.guest.abi;

/** The {@code ioctl} requests every descriptor takes (asm-generic/ioctls.h), and the terminal query libc makes. */
public final class Ioctl {
    private Ioctl() {}

    /** {@code isatty}'s question; no descriptor of the micro guest is a terminal, so it is ENOTTY. */
    public static final int TCGETS = 0x5401;
    public static final int FIONBIO = 0x5421, FIONCLEX = 0x5450, FIOCLEX = 0x5451;
}
