package dev.flicker.kvm.sys;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/** An owned {@code mmap} region: unmapped exactly once, however often {@link #close()} is called. */
public final class Mapping implements AutoCloseable {
    private final MemorySegment segment;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Mapping(MemorySegment segment) {
        this.segment = segment;
    }

    /** Anonymous private memory; pages cost nothing until touched ({@code MAP_NORESERVE}). */
    public static Mapping anonymous(long bytes) {
        return new Mapping(Libc.mmap(0, bytes, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0));
    }

    /** A file mapped {@code MAP_PRIVATE}: clean pages come from the page cache, writes stay in this mapping. */
    public static Mapping privateFile(int fd, long offset, long bytes, int prot) {
        return new Mapping(Libc.mmap(0, bytes, prot, Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, fd, offset));
    }

    /** A file mapped shared (for {@code kvm_run}, which the kernel and this process both write). */
    public static Mapping sharedFile(int fd, long bytes) {
        return new Mapping(Libc.mmap(0, bytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0));
    }

    public MemorySegment segment() {
        if (closed.get()) throw new IllegalStateException("mapping is unmapped");
        return segment;
    }

    public long address() {
        return segment.address();
    }

    public long byteSize() {
        return segment.byteSize();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) Libc.munmap(segment);
    }
}
