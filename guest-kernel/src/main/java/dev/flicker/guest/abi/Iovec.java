package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u64;

/** {@code struct iovec} (16 bytes): one buffer of {@code readv} and {@code writev}. */
public record Iovec(long base, long length) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(u64("iov_base"), u64("iov_len"));
    private static final long BASE = offset(LAYOUT, "iov_base"), LEN = offset(LAYOUT, "iov_len");
    /** The most vectors one call takes (UIO_MAXIOV). */
    public static final int UIO_MAXIOV = 1024;

    public static Iovec unmarshal(MemorySegment from) {
        return new Iovec(from.get(U64, BASE), from.get(U64, LEN));
    }
}
