package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u64;

/** {@code struct rlimit} (16 bytes) and the resources (asm-generic/resource.h). */
public record Rlimit(long current, long max) implements Marshallable {
    public static final int RLIMIT_DATA = 2, RLIMIT_STACK = 3, RLIMIT_NOFILE = 7, RLIMIT_AS = 9;
    /** Resources are numbered from 0 to this, exclusive. */
    public static final int RLIM_NLIMITS = 16;
    public static final long RLIM_INFINITY = -1L;
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(u64("rlim_cur"), u64("rlim_max"));
    private static final long CUR = offset(LAYOUT, "rlim_cur"), MAX = offset(LAYOUT, "rlim_max");

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U64, CUR, current);
        to.set(U64, MAX, max);
    }
}
