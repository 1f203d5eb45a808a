package dev.flicker.guest.fs;

import java.util.TreeMap;

import static dev.flicker.guest.abi.FileMode.S_IFDIR;

/**
 * A directory held in memory, its entries sorted by name: what every directory of the guest's tree shares. A
 * {@link StaticDirectory} is filled once and never changes (/, /var, /dev, the bundle's and a layer's); a
 * {@link TmpFs.TmpDirectory} is /tmp's, whose entries the program makes and removes within /tmp's limits.
 */
public abstract sealed class SortedDirectory implements Node.Directory permits StaticDirectory, TmpFs.TmpDirectory {
    private final long inode;
    private final int mode;
    /** The entries by name; changed only by the subclass that owns the directory's rules. */
    final TreeMap<String, Node> children = new TreeMap<>();

    SortedDirectory(long inode, int permissions) {
        this.inode = inode;
        this.mode = S_IFDIR | permissions;
    }

    public final long ino() {
        return inode;
    }

    public final int mode() {
        return mode;
    }

    public final long size() {
        return 4096;
    }

    public final Node child(String name) {
        return children.get(name);
    }

    public final String nameAfter(String name) {
        return children.isEmpty() ? null : name == null ? children.firstKey() : children.higherKey(name);
    }

    public final boolean isEmpty() {
        return children.isEmpty();
    }
}
