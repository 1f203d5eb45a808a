package dev.flicker.kvm;

import dev.flicker.kvm.sys.Libc;
import dev.flicker.kvm.sys.Mapping;

import java.lang.foreign.MemorySegment;

/**
 * One contiguous region of guest-physical memory backed by a host mapping: anonymous memory, or a file
 * mapped {@code MAP_PRIVATE} so that many VMs share its clean pages through the page cache.
 * Every access is bounds-checked against the region; a guest-supplied address never reaches raw memory
 * unchecked.
 */
public final class GuestMemory implements AutoCloseable {
    private final GuestAddress base;
    private final Mapping mapping;
    private final MemorySegment bytes;

    private GuestMemory(GuestAddress base, Mapping mapping) {
        this.base = base;
        this.mapping = mapping;
        this.bytes = mapping.segment();
    }

    /** Anonymous memory of {@code sizeBytes} at guest-physical {@code base}; untouched pages cost nothing. */
    public static GuestMemory anonymous(GuestAddress base, long sizeBytes) {
        return new GuestMemory(base, Mapping.anonymous(sizeBytes));
    }

    /** A file mapped privately as guest memory; guest writes never reach the file. */
    public static GuestMemory privateFile(GuestAddress base, int fd, long offset, long sizeBytes) {
        return new GuestMemory(base, Mapping.privateFile(fd, offset, sizeBytes, Libc.PROT_READ | Libc.PROT_WRITE));
    }

    public GuestAddress base() {
        return base;
    }

    public long sizeBytes() {
        return bytes.byteSize();
    }

    public long hostAddress() {
        return bytes.address();
    }

    public boolean contains(long gpa, long length) {
        long offset = gpa - base.value();
        return offset >= 0 && length >= 0 && offset <= bytes.byteSize() - length;
    }

    /** A view of {@code length} bytes at guest-physical {@code gpa}; throws if any byte is outside the region. */
    public MemorySegment slice(long gpa, long length) {
        if (!contains(gpa, length)) {
            throw new IndexOutOfBoundsException("guest range 0x" + Long.toHexString(gpa) + "+" + length
                    + " is outside guest memory " + base + "+" + bytes.byteSize());
        }
        return bytes.asSlice(gpa - base.value(), length);
    }

    /** The whole region, for loaders that address it by offset. */
    public MemorySegment segment() {
        return bytes;
    }

    @Override
    public void close() {
        mapping.close();
    }
}
