package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u64;

/** {@code struct timeval} (16 bytes). */
public record Timeval(long seconds, long micros) implements Marshallable {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(u64("tv_sec"), u64("tv_usec"));
    private static final long TV_SEC = offset(LAYOUT, "tv_sec"), TV_USEC = offset(LAYOUT, "tv_usec");

    /** A time of {@code nanos} nanoseconds (not negative), truncated to microseconds. */
    public static Timeval ofNanos(long nanos) {
        return new Timeval(nanos / Time.NANOS_PER_SECOND, nanos % Time.NANOS_PER_SECOND / Time.NANOS_PER_MICRO);
    }

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U64, TV_SEC, seconds);
        to.set(U64, TV_USEC, micros);
    }
}
