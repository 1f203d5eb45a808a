package dev.flicker.guest.memory;

import dev.flicker.kvm.GuestMemory;

import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * Hands out 4 KiB guest-physical frames from {@code [start, end)} of one memory region, always zeroed:
 * frames never used before are zero already (anonymous memory), reused frames are cleared on reuse.
 */
public final class PhysicalPages {
    private final GuestMemory memory;
    private final long end;
    private long next;
    private long[] free = new long[256];
    private int freeCount;

    public PhysicalPages(GuestMemory memory, long start, long end) {
        this.memory = memory;
        this.next = start;
        this.end = end;
    }

    /** A zeroed frame, or -1 when the region is exhausted. */
    public long allocate() {
        if (freeCount > 0) {
            long gpa = free[--freeCount];
            memory.slice(gpa, PAGE_SIZE).fill((byte) 0);
            return gpa;
        }
        if (next + PAGE_SIZE > end) return -1;
        long gpa = next;
        next += PAGE_SIZE;
        return gpa;
    }

    public void release(long gpa) {
        if (freeCount == free.length) free = java.util.Arrays.copyOf(free, free.length * 2);
        free[freeCount++] = gpa;
    }

    /** Frames handed out and not released. */
    public long inUse(long start) {
        return (next - start) / PAGE_SIZE - freeCount;
    }
}
