package dev.flicker.guest.kernel;

/**
 * A system call fails with {@code errno}: thrown from deep in a call (resolving a path) and answered as
 * {@code -errno} where the call is dispatched, so that handlers need not pass every error up by hand.
 */
public final class SyscallError extends Exception {
    private final int errno;

    public SyscallError(int errno) {
        super(null, null, false, false);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
