package dev.flicker.kvm;

import dev.flicker.kvm.sys.Libc;
import dev.flicker.kvm.sys.Mapping;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.BitSet;

import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * One contiguous region of guest-physical memory backed by a host mapping: anonymous memory, or a file
 * mapped {@code MAP_PRIVATE} so that many VMs share its clean pages through the page cache.
 * Every access is bounds-checked against the region; a guest-supplied address never reaches raw memory
 * unchecked.
 */
public final class GuestMemory implements AutoCloseable {
    /** /proc/self/pagemap: 8 bytes per virtual page; bit 63 the page is present, bit 61 it is a file page (or shared). */
    private static final Path PAGEMAP = Path.of("/proc/self/pagemap");
    private static final long PRESENT = 1L << 63, FILE_PAGE = 1L << 61;

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

    /**
     * The pages (by index from {@link #base()}) this process holds privately: in a {@link #privateFile} region, the
     * ones written since it was mapped (each a copy of the file's page); in an anonymous one, every page touched.
     * Read from {@code /proc/self/pagemap}, about 8 bytes per page of the region.
     */
    public BitSet privatePages() {
        long pages = bytes.byteSize() / PAGE_SIZE;
        BitSet written = new BitSet((int) pages);
        ByteBuffer entries = ByteBuffer.allocate((int) Math.min(pages, 1 << 16) * Long.BYTES).order(ByteOrder.nativeOrder());
        try (FileChannel pagemap = FileChannel.open(PAGEMAP)) {
            for (long first = 0; first < pages; ) {
                entries.clear().limit((int) Math.min(entries.capacity(), (pages - first) * Long.BYTES));
                long position = (bytes.address() / PAGE_SIZE + first) * Long.BYTES;
                while (entries.hasRemaining()) {
                    if (pagemap.read(entries, position + entries.position()) <= 0) throw new IOException("pagemap ended early");
                }
                entries.flip();
                for (int i = 0; entries.hasRemaining(); i++) {
                    long entry = entries.getLong();
                    if ((entry & PRESENT) != 0 && (entry & FILE_PAGE) == 0) written.set((int) (first + i));
                }
                first += entries.limit() / Long.BYTES;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + PAGEMAP, e);
        }
        return written;
    }

    /**
     * Makes the given pages (indices from {@link #base()}) writable now, as a write would: in a {@link #privateFile}
     * region each becomes a private copy. One {@code madvise(MADV_POPULATE_WRITE)} per run of pages, so copies made
     * ahead of time cost no fault each when the guest writes them later.
     */
    public void prefaultWritable(BitSet pages) {
        long count = bytes.byteSize() / PAGE_SIZE;
        if (pages.length() > count) throw new IndexOutOfBoundsException("page " + (pages.length() - 1) + " is outside " + count + " pages");
        for (int first = pages.nextSetBit(0); first >= 0; ) {
            int end = pages.nextClearBit(first);
            Libc.madvise(bytes.address() + (long) first * PAGE_SIZE, (long) (end - first) * PAGE_SIZE, Libc.MADV_POPULATE_WRITE);
            first = pages.nextSetBit(end);
        }
    }

    @Override
    public void close() {
        mapping.close();
    }
}
