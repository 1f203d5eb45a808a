package dev.flicker.guest.fs;

import dev.flicker.guest.memory.SharedMemory;
import dev.flicker.kvm.sys.Libc;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * A runtime layer's files laid out in one range of this process's memory, each at a page-aligned place of its own
 * (in path order, so the layout follows from the layer's content): the range every VM of the layer maps as a
 * read-only memory slot at {@link SharedMemory#GPA}. A file is mapped into its place ({@code MAP_SHARED},
 * {@code PROT_READ}) the first time a program maps it, and stays until the layer closes; the rest of the range is
 * reserved and costs nothing. So one copy of the layer's libraries, in the host's page cache, backs every VM that
 * maps them, and none of it counts against a VM's memory limit (docs/micro-guest-abi.md, "Shared file mappings").
 */
public final class SharedFiles implements SharedMemory, AutoCloseable {
    /** The largest layer whose files are shared; past it (never for a real runtime) mappings are copies. */
    static final long MAX_BYTES = 16L << 30;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment region;
    private final List<Node.BundleFile> files;
    private final long[] offsets;
    private final boolean[] mapped; // guarded by this

    private SharedFiles(List<Node.BundleFile> files, long[] offsets, long bytes) {
        this.files = files;
        this.offsets = offsets;
        this.mapped = new boolean[files.size()];
        long address = Libc.mmap(0, bytes, Libc.PROT_NONE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0)
                .address();
        // Through the arena, so that a read after close is an exception here, never a fault of the host.
        this.region = MemorySegment.ofAddress(address).reinterpret(bytes, arena,
                segment -> Libc.munmap(MemorySegment.ofAddress(address).reinterpret(bytes)));
    }

    /**
     * The files of a layer laid out for sharing, each file told its place; null when there is nothing to share or the
     * layer is larger than {@link #MAX_BYTES}.
     */
    static SharedFiles over(List<Node.BundleFile> layerFiles) {
        List<Node.BundleFile> sorted = new ArrayList<>(layerFiles);
        sorted.sort(Comparator.comparing(f -> f.path.toString()));
        long[] offsets = new long[sorted.size()];
        long bytes = 0;
        for (int i = 0; i < sorted.size(); i++) {
            offsets[i] = bytes;
            bytes += (sorted.get(i).size() + PAGE_SIZE - 1) & -PAGE_SIZE;
            if (bytes > MAX_BYTES) return null;
        }
        if (bytes == 0) return null;
        SharedFiles shared = new SharedFiles(sorted, offsets, bytes);
        for (int i = 0; i < sorted.size(); i++) sorted.get(i).share(shared, i);
        return shared;
    }

    @Override
    public MemorySegment segment() {
        return region;
    }

    /**
     * The guest-physical address of file {@code index}'s first byte, with the file mapped into its place: once per
     * process. An IOException when the host file is gone or no longer has the size it was indexed with.
     */
    synchronized long gpaOf(int index) throws IOException {
        if (!mapped[index]) {
            Node.BundleFile f = files.get(index);
            if (!Files.isRegularFile(f.path, LinkOption.NOFOLLOW_LINKS) || Files.size(f.path) != f.size()) {
                throw new IOException(f.path + " changed after its layer was indexed");
            }
            long pages = (f.size() + PAGE_SIZE - 1) & -PAGE_SIZE;
            if (pages > 0) {
                int fd = Libc.open(f.path.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
                try {
                    Libc.mmap(region.address() + offsets[index], pages, Libc.PROT_READ, Libc.MAP_SHARED | Libc.MAP_FIXED, fd, 0);
                } finally {
                    Libc.close(fd);
                }
            }
            mapped[index] = true;
        }
        return GPA + offsets[index];
    }

    @Override
    public void ensureBacked(long gpa, long length) throws IOException {
        long from = gpa - GPA, to = from + length;
        if (from < 0 || length < 0 || to > region.byteSize()) throw new IOException("shared pages outside the layer's files");
        for (int i = 0; i < files.size(); i++) {
            long end = offsets[i] + files.get(i).size();
            if (end > from && offsets[i] < to) gpaOf(i);
        }
    }

    /** Unmaps the range: only once no VM of the layer runs any more. */
    @Override
    public void close() {
        arena.close();
    }
}
