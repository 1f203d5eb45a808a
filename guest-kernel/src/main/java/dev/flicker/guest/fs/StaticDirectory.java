package dev.flicker.guest.fs;

/** A directory whose entries never change: the bundle's directories and the fixed ones around them. */
public final class StaticDirectory extends SortedDirectory {
    public StaticDirectory(long inode) {
        super(inode, 0755);
    }

    void put(String name, Node node) {
        children.put(name, node);
    }
}
