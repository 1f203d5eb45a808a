package dev.flicker.guest.abi;

/** Signal numbers and {@code sigaltstack} flags (asm/signal.h, asm-generic/signal-defs.h). */
public final class Signals {
    private Signals() {}

    public static final int SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGFPE = 8, SIGKILL = 9, SIGSEGV = 11, SIGSTOP = 19;
    /** The highest signal number (real-time signals included). */
    public static final int NSIG = 64;
    /** The size of a {@code sigset_t} the kernel takes: one bit per signal. */
    public static final int SIGSET_BYTES = 8;

    public static final int SS_DISABLE = 2;
}
