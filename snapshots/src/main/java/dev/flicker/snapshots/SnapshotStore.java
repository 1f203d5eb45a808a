package dev.flicker.snapshots;

import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.VcpuState;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Snapshots per function version on disk: {@code root/<version key>/<content hash>/}. A snapshot is written
 * under a temporary name and renamed into place, so a reader never sees half of one; deleting a function
 * version deletes its snapshots. A snapshot is used only by the guest kind that wrote it, in this format
 * version: any other is stale, and is deleted instead of restored, so that its function is snapshotted again.
 */
public final class SnapshotStore {
    private static final System.Logger LOG = System.getLogger(SnapshotStore.class.getName());
    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,199}");
    private final Path root;

    public SnapshotStore(Path root) {
        this.root = root;
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create snapshot store " + root, e);
        }
    }

    private Path versionDir(String versionKey) {
        if (!KEY.matcher(versionKey).matches()) {
            throw new IllegalArgumentException("bad function version key '" + versionKey + "': letters, digits, . _ : - only");
        }
        return root.resolve(versionKey);
    }

    /** Writes a snapshot of a paused VM for {@code versionKey} and returns it, read back and validated. */
    public Snapshot put(String versionKey, String guestKind, GuestMemory memory, long usedBytes, List<VcpuState> vcpus,
                        byte[] guestState) {
        Path dir = versionDir(versionKey);
        Path tmp = dir.resolve(".tmp-" + UUID.randomUUID());
        String hash = SnapshotFiles.write(tmp, guestKind, memory, usedBytes, vcpus, guestState);
        Path target = dir.resolve(hash.substring(0, 32));
        try {
            if (Files.exists(target)) {
                deleteTree(tmp); // the same content is there already
            } else {
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target);
                }
            }
            Files.writeString(dir.resolve("current.tmp"), target.getFileName().toString());
            Files.move(dir.resolve("current.tmp"), dir.resolve("current"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store snapshot for " + versionKey, e);
        }
        return SnapshotFiles.read(target);
    }

    /**
     * The current snapshot of {@code versionKey}, read from disk and validated, if there is one that
     * {@code guestKind} restores. One written by another guest kind (another guest ABI, guest image or state
     * layout) or in another format version is stale: it is deleted and this answers empty, so that the caller
     * takes a new one; it is never restored, and never an error. A damaged snapshot is still an error.
     */
    public Optional<Snapshot> current(String versionKey, String guestKind) {
        Path dir = versionDir(versionKey);
        Path pointer = dir.resolve("current");
        if (!Files.isRegularFile(pointer)) return Optional.empty();
        Path snapshotDir;
        try {
            String name = Files.readString(pointer).trim();
            if (!name.matches("[0-9a-f]{32}")) throw new SnapshotFormatException(pointer + " names no snapshot");
            snapshotDir = dir.resolve(name);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Snapshot snapshot;
        try {
            snapshot = SnapshotFiles.read(snapshotDir);
        } catch (SnapshotVersionException stale) {
            return discardStale(pointer, snapshotDir, stale.getMessage());
        }
        if (!snapshot.guestKind().equals(guestKind)) {
            return discardStale(pointer, snapshotDir, "written by guest kind '" + snapshot.guestKind() + "', this is '"
                    + guestKind + "'");
        }
        return Optional.of(snapshot);
    }

    private static Optional<Snapshot> discardStale(Path pointer, Path snapshotDir, String why) {
        LOG.log(System.Logger.Level.INFO, "snapshot " + snapshotDir + " is stale (" + why + "): deleted, a new one will be taken");
        try {
            Files.deleteIfExists(pointer);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot drop stale snapshot " + snapshotDir, e);
        }
        if (Files.exists(snapshotDir)) deleteTree(snapshotDir);
        return Optional.empty();
    }

    /** Deletes every snapshot of {@code versionKey}. */
    public void delete(String versionKey) {
        Path dir = versionDir(versionKey);
        if (Files.exists(dir)) deleteTree(dir);
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }
}
