package dev.flicker.guest.fs;

import dev.flicker.guest.abi.FileMode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * A function's code, read-only: a host directory indexed once and shared by every VM that runs it. Only regular
 * files and directories are taken; symbolic links are left out, so nothing outside the directory can be reached.
 * Files are read through read-only mappings, never copied into the heap, so all VMs share their pages through the
 * page cache; a file is mapped only while it is used and a bounded number of idle ones stay mapped
 * ({@link MappedFiles}), since one mapping per file of every bundle would pass the kernel's limit on a process's
 * mappings (a few 10,000-file bundles exceed {@code vm.max_map_count}).
 */
public final class Bundle implements AutoCloseable {
    private final Path root;
    private final StaticDirectory top;
    private final List<Node.BundleFile> files = new ArrayList<>();
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
                BasicFileAttributes attributes = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (attributes.isDirectory()) {
                    StaticDirectory sub = new StaticDirectory(INODES.incrementAndGet());
                    index(p, sub);
                    into.put(name, sub);
                } else if (attributes.isRegularFile()) {
                    Node.BundleFile file = new Node.BundleFile(INODES.incrementAndGet(), fileMode(p), attributes.size(), p);
                    files.add(file);
                    into.put(name, file);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot index bundle " + root, e);
        }
    }

    private static int fileMode(Path p) throws IOException {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
        return FileMode.S_IFREG | (perms.contains(PosixFilePermission.OWNER_EXECUTE) ? 0755 : 0644);
    }

    public Path root() {
        return root;
    }

    /** Every file of the bundle, as indexed. */
    List<Node.BundleFile> files() {
        return files;
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

    /** How many of this bundle's files are mapped now (in use or idle). */
    public int mappedFiles() {
        return MappedFiles.mappedNow(files);
    }

    /**
     * Unmaps the files no VM is reading; a file being read is unmapped when its read ends. A VM still running on
     * the bundle can go on reading: each read then maps and unmaps the file.
     */
    @Override
    public void close() {
        MappedFiles.close(files);
    }
}
