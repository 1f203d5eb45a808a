package dev.flicker.guest.abi;

/** {@code futex} operations (linux/futex.h). */
public final class Futex {
    private Futex() {}

    public static final int FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10;
    /** The operation without FUTEX_PRIVATE_FLAG (128) and FUTEX_CLOCK_REALTIME (256). */
    public static final int FUTEX_CMD_MASK = 0x7f;
}
