package dev.flicker.guest.memory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Host pages that many VMs map read-only at the same guest-physical range, {@link #GPA} onwards, as a read-only
 * memory slot: a runtime layer's files ({@code fs/SharedFiles}), so that every VM of every function of a runtime
 * maps one copy of {@code libpython}. The address space only reads them (a system call's buffer in a shared page);
 * a private write gets the program its own copy first.
 */
public interface SharedMemory {
    /**
     * Where the shared range starts in every VM's guest-physical memory: above the largest guest memory
     * ({@code 3 GiB + 18 MiB}) and the doorbell ({@code 0xd0000000}), at 4 GiB.
     */
    long GPA = 1L << 32;

    /** The whole range, as this process maps it; guest-physical {@code GPA + i} is byte {@code i}. */
    MemorySegment segment();

    /**
     * Makes sure the host pages of {@code [gpa, gpa + length)} are there before a VM restored from a snapshot runs
     * with page-table entries that point into them; an IOException when they cannot be (a file changed).
     */
    void ensureBacked(long gpa, long length) throws IOException;
}
