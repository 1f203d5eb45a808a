package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u64;
import static dev.flicker.guest.abi.Time.NANOS_PER_SECOND;

/** {@code struct timespec} (16 bytes). */
public record Timespec(long seconds, long nanos) implements Marshallable {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(u64("tv_sec"), u64("tv_nsec"));
    private static final long TV_SEC = offset(LAYOUT, "tv_sec"), TV_NSEC = offset(LAYOUT, "tv_nsec");

    /** {@code nanos} nanoseconds as seconds and nanoseconds (a negative time rounds its seconds down). */
    public static Timespec ofNanos(long nanos) {
        return new Timespec(Math.floorDiv(nanos, NANOS_PER_SECOND), Math.floorMod(nanos, NANOS_PER_SECOND));
    }

    public static Timespec unmarshal(MemorySegment from) {
        return new Timespec(from.get(U64, TV_SEC), from.get(U64, TV_NSEC));
    }

    /** True when both fields are in range: seconds not negative, nanoseconds in [0, 10^9). */
    public boolean valid() {
        return seconds >= 0 && nanos >= 0 && nanos < NANOS_PER_SECOND;
    }

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U64, TV_SEC, seconds);
        to.set(U64, TV_NSEC, nanos);
    }
}
