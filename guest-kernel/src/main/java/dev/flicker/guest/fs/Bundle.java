package dev.flicker.guest.fs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * A function's code, read-only: a host directory indexed once and shared by every VM that runs it. Files are
 * mapped read-only, never copied through stream reads, so all VMs share their pages through the page cache.
 * Only regular files and directories are taken; symbolic links are left out, so nothing outside the
 * directory can be reached.
 */
public final class Bundle implements AutoCloseable {
    private final Path root;
    private final Arena arena = Arena.ofShared();
    private final StaticDirectory top;
    private static final AtomicLong INODES = new AtomicLong(1000);

    private Bundle(Path root) {
        this.root = root;
        this.top = new StaticDirectory(INODES.incrementAndGet());
        index(root, top);
    }

    /** Indexes {@code directory}; it must exist. */
    public static Bundle open(Path directory) {
        if (!Files.isDirectory(directory)) {
            throw new IllegalArgumentException("bundle directory " + directory + " does not exist");
        }
        return new Bundle(directory.toAbsolutePath().normalize());
    }

    private void index(Path dir, StaticDirectory into) {
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                String name = p.getFileName().toString();
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    StaticDirectory sub = new StaticDirectory(INODES.incrementAndGet());
                    index(p, sub);
                    into.put(name, sub);
                } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    into.put(name, new Node.BundleFile(INODES.incrementAndGet(), fileMode(p), map(p)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot index bundle " + root, e);
        }
    }

    private static int fileMode(Path p) throws IOException {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
        return Node.S_IFREG | (perms.contains(PosixFilePermission.OWNER_EXECUTE) ? 0755 : 0644);
    }

    private MemorySegment map(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) return MemorySegment.NULL.reinterpret(0);
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        }
    }

    public Path root() {
        return root;
    }

    public Node.Directory directory() {
        return top;
    }

    /** The file at {@code relativePath} ("bootstrap", "lib/x.py"), or null. */
    public Node.BundleFile file(String relativePath) {
        Node at = top;
        for (String part : relativePath.split("/")) {
            if (part.isEmpty()) continue;
            if (!(at instanceof Node.Directory d)) return null;
            at = d.child(part);
            if (at == null) return null;
        }
        return at instanceof Node.BundleFile f ? f : null;
    }

    @Override
    public void close() {
        arena.close();
    }
}
