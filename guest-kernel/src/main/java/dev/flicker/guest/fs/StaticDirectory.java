package dev.flicker.guest.fs;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static dev.flicker.guest.abi.FileMode.S_IFDIR;

/** A directory whose entries never change: the bundle's directories and the fixed ones around them. */
public final class StaticDirectory implements Node.Directory {
    private final long inode;
    private final TreeMap<String, Node> children = new TreeMap<>();

    public StaticDirectory(long inode) {
        this.inode = inode;
    }

    void put(String name, Node node) {
        children.put(name, node);
    }

    public long ino() {
        return inode;
    }

    public int mode() {
        return S_IFDIR | 0755;
    }

    public long size() {
        return 4096;
    }

    public List<String> names() {
        return List.copyOf(children.keySet());
    }

    public Node child(String name) {
        return children.get(name);
    }

    public String nameAfter(String name) {
        return children.isEmpty() ? null : name == null ? children.firstKey() : children.higherKey(name);
    }

    public boolean isEmpty() {
        return children.isEmpty();
    }

    Map<String, Node> children() {
        return children;
    }
}
