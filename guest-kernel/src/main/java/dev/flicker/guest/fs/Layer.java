package dev.flicker.guest.fs;

import java.nio.file.Path;

/**
 * A runtime layer: a read-only root tree (Debian's {@code python3.11} with its libraries, say) that the guest sees at
 * {@code /}, with the function's bundle at {@code /var/task}, {@code /tmp} and {@code /dev} over it
 * ({@link FileTree}). It is indexed once, like a {@link Bundle} (regular files and directories only, no symbolic
 * links), and shared by every VM and every function of its runtime. Its {@link #id} names its content: snapshots of
 * VMs that ran on it are only restored on the same layer.
 */
public final class Layer implements AutoCloseable {
    private final String id;
    private final Bundle tree;
    private final SharedFiles shared;

    private Layer(String id, Bundle tree) {
        this.id = id;
        this.tree = tree;
        this.shared = SharedFiles.over(tree.files());
    }

    /**
     * Indexes the tree at {@code root}, which must exist; {@code id} names its content (for the python3.11 layer, its
     * directory name {@code python3.11-<hash>}) and may hold letters, digits and {@code . _ -} only.
     */
    public static Layer open(Path root, String id) {
        if (!id.matches("[A-Za-z0-9._-]{1,100}")) throw new IllegalArgumentException("bad layer id '" + id + "'");
        return new Layer(id, Bundle.open(root));
    }

    public String id() {
        return id;
    }

    /** The host directory the guest sees as {@code /}. */
    public Path root() {
        return tree.root();
    }

    /**
     * The range where the layer's files are laid out for every VM to map read-only, or null when none is (an empty
     * layer): see {@link SharedFiles}.
     */
    public SharedFiles shared() {
        return shared;
    }

    /** The layer's root directory. */
    StaticDirectory directory() {
        return (StaticDirectory) tree.directory();
    }

    /**
     * Unmaps the layer's files no VM is reading (see {@link Bundle#close}) and its shared range: only once every VM
     * that runs on the layer is closed.
     */
    @Override
    public void close() {
        tree.close();
        if (shared != null) shared.close();
    }
}
