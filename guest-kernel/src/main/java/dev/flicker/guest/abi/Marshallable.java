package dev.flicker.guest.abi;

import java.lang.foreign.MemorySegment;

/**
 * A Linux ABI struct that is copied out to guest memory (gVisor's {@code marshal.Marshallable}): each one is a
 * record with a {@code StructLayout} that places its fields as the kernel's headers do, so that no offset is
 * placed by hand. Guest pointers are not followed here: the task copies the bytes in and out.
 */
public interface Marshallable {
    /** The struct's size in bytes. */
    long sizeBytes();

    /** Writes the fields into {@code to}, which holds {@link #sizeBytes()} zeroed bytes: what is not set stays 0. */
    void marshal(MemorySegment to);
}
