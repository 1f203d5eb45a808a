package dev.flicker.kvm.sys;

import java.util.Arrays;
import java.util.stream.Collectors;

/** A failed native call: which call, the arguments that matter, and the errno with its text. */
public final class SysException extends RuntimeException {
    private final String call;
    private final int errno;

    public SysException(String call, int errno, Object... args) {
        super(call + "(" + Arrays.stream(args).map(String::valueOf).collect(Collectors.joining(", ")) + ") failed: "
                + Libc.strerror(errno) + " (errno " + errno + ")");
        this.call = call;
        this.errno = errno;
    }

    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
