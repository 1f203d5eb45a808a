package dev.flicker.kvm.sys;

import java.util.concurrent.atomic.AtomicBoolean;

/** An owned file descriptor: closed exactly once, however often {@link #close()} is called. */
public final class Fd implements AutoCloseable {
    private final int fd;
    private final String what;
    private final AtomicBoolean closed = new AtomicBoolean();

    public Fd(int fd, String what) {
        this.fd = fd;
        this.what = what;
    }

    public int get() {
        if (closed.get()) throw new IllegalStateException(what + " fd " + fd + " is closed");
        return fd;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) Libc.close(fd);
    }

    @Override
    public String toString() {
        return what + "(fd " + fd + ")";
    }
}
