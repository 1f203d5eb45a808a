package dev.flicker.guest.memory;

import dev.flicker.kvm.GuestMemory;

import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * Hands out 4 KiB guest-physical frames from {@code [start, end)} of one anonymous memory region; frames
 * never used before read as zero. Frames are not handed back while the VM lives: a virtual page keeps its
 * frame (see {@link AddressSpace}), and the whole region goes back to the host when the VM is destroyed.
 */
public final class PhysicalPages {
    private final long start;
    private final long end;
    private long next;

    public PhysicalPages(GuestMemory memory, long start, long end) {
        if (!memory.contains(start, end - start)) throw new IllegalArgumentException("frames outside guest memory");
        this.start = start;
        this.next = start;
        this.end = end;
    }

    /** A zeroed frame, or -1 when the region is exhausted. */
    public long allocate() {
        if (next + PAGE_SIZE > end) return -1;
        long gpa = next;
        next += PAGE_SIZE;
        return gpa;
    }

    /** Continues after a snapshot: frames below {@code nextFree} are in use. */
    public void resumeAt(long nextFree) {
        if (nextFree < start || nextFree > end || nextFree % PAGE_SIZE != 0) {
            throw new IllegalArgumentException("next free frame 0x" + Long.toHexString(nextFree) + " is outside the frame range");
        }
        next = nextFree;
    }

    /** The first frame of the region. */
    public long start() {
        return start;
    }

    /** The next frame {@link #allocate} would hand out; everything below it is in use. */
    public long nextFree() {
        return next;
    }

    /** Frames still free. */
    public long remaining() {
        return (end - next) / PAGE_SIZE;
    }
}