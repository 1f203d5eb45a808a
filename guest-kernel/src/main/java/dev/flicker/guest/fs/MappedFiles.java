package dev.flicker.guest.fs;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashSet;

/**
 * The read-only mappings of bundle files, for the whole process. Linux limits the mappings of a process
 * ({@code vm.max_map_count}, 65,530 by default) and the JVM needs its own (heap, thread stacks, guest memory), so
 * bundles do not map their files up front: a file is mapped when it is first read and then stays mapped while
 * idle, for the next read, up to {@link #MAX_IDLE} idle files across all bundles, the least recently used
 * unmapped first. A mapping in use is never unmapped under its reader: every use holds a {@link Node.BundleFile.View}.
 */
final class MappedFiles {
    /**
     * Idle mappings kept across all bundles: 6% of the default {@code vm.max_map_count}. A read of an idle file
     * costs a lock; of an unmapped one, an open and an mmap (tens of microseconds); unmapping the least recently
     * used one to make room closes a shared arena, a handshake with every JVM thread (50 to 100 us measured).
     */
    static final int MAX_IDLE = 4096;
    private static final Object LOCK = new Object();
    /** Files mapped and not in use, least recently used first; guarded by LOCK, as each file's mapping state. */
    private static final LinkedHashSet<Node.BundleFile> IDLE = new LinkedHashSet<>();

    private MappedFiles() {}

    /** One mapping of a whole file, with the arena that unmaps it. */
    record Mapping(Arena arena, MemorySegment bytes) {}

    /** The file's bytes, mapped until {@link #release}; an IOException when the file is gone or not as indexed. */
    static MemorySegment acquire(Node.BundleFile file) throws IOException {
        synchronized (LOCK) {
            if (file.mapping == null) {
                file.mapping = map(file);
            } else if (file.users == 0) {
                IDLE.remove(file);
            }
            file.users++;
            return file.mapping.bytes();
        }
    }

    /** Ends one use of {@code file}'s mapping: it stays mapped while idle, unless its bundle was closed. */
    static void release(Node.BundleFile file) {
        synchronized (LOCK) {
            if (--file.users > 0) return;
            if (file.closed) {
                unmap(file);
                return;
            }
            IDLE.add(file);
            if (IDLE.size() > MAX_IDLE) {
                Iterator<Node.BundleFile> eldest = IDLE.iterator();
                Node.BundleFile evicted = eldest.next();
                eldest.remove();
                unmap(evicted);
            }
        }
    }

    /** A closed bundle keeps nothing mapped: idle files are unmapped now, files in use when their last use ends. */
    static void close(Iterable<Node.BundleFile> files) {
        synchronized (LOCK) {
            for (Node.BundleFile f : files) {
                f.closed = true;
                if (f.users == 0 && f.mapping != null) {
                    IDLE.remove(f);
                    unmap(f);
                }
            }
        }
    }

    /** How many bundle files are mapped now, in use or idle (for tests and figures). */
    static int mappedNow(Iterable<Node.BundleFile> files) {
        synchronized (LOCK) {
            int n = 0;
            for (Node.BundleFile f : files) if (f.mapping != null) n++;
            return n;
        }
    }

    private static Mapping map(Node.BundleFile file) throws IOException {
        // Not through a link: the bundle left links out when it was indexed, and must not follow one made since.
        try (FileChannel ch = FileChannel.open(file.path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            // The file must still be the one indexed: mapping past a shrunk file's end would fault in the JVM.
            if (ch.size() != file.size()) {
                throw new IOException(file.path + " changed since its bundle was indexed (" + ch.size() + " bytes, was "
                        + file.size() + ")");
            }
            Arena arena = Arena.ofShared();
            try {
                return new Mapping(arena, ch.map(FileChannel.MapMode.READ_ONLY, 0, file.size(), arena));
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
        }
    }

    private static void unmap(Node.BundleFile file) {
        Mapping m = file.mapping;
        file.mapping = null;
        if (m != null) m.arena().close();
    }
}
