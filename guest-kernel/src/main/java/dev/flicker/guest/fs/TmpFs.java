package dev.flicker.guest.fs;

import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/** The per-VM writable {@code /tmp}: in memory, with a limit on the bytes all its files hold together. */
public final class TmpFs {
    private static final AtomicLong INODES = new AtomicLong(1L << 40);
    /** The largest /tmp file: its bytes are one Java array. Writes at or past it are EFBIG, as past a file system's. */
    public static final long MAX_FILE_BYTES = Integer.MAX_VALUE - 16;
    private final long limitBytes;
    private long usedBytes;
    private final TmpDirectory root = new TmpDirectory(INODES.incrementAndGet());

    public TmpFs(long limitBytes) {
        this.limitBytes = limitBytes;
    }

    public TmpDirectory root() {
        return root;
    }

    /** A directory of /tmp. */
    public final class TmpDirectory implements Node.Directory {
        private final long inode;
        final TreeMap<String, Node> children = new TreeMap<>();

        TmpDirectory(long inode) {
            this.inode = inode;
        }

        public long inode() {
            return inode;
        }

        public int mode() {
            return S_IFDIR | 01777;
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

        public Node.TmpFile createFile(String name) {
            Node.TmpFile f = new Node.TmpFile(INODES.incrementAndGet());
            children.put(name, f);
            return f;
        }

        public TmpDirectory createDirectory(String name) {
            TmpDirectory d = new TmpDirectory(INODES.incrementAndGet());
            children.put(name, d);
            return d;
        }

        /**
         * Removes an entry and returns it. A removed file keeps its bytes, as on Linux, while it is still open;
         * whoever knows the open files gives them back with {@link #release} once it is not.
         */
        public Node remove(String name) {
            Node n = children.remove(name);
            if (n instanceof Node.TmpFile f) f.removed = true;
            return n;
        }
    }

    /** Grows or shrinks {@code file} to {@code newLength}; false if /tmp would pass its limit (ENOSPC). */
    public boolean resize(Node.TmpFile file, long newLength) {
        if (newLength > Integer.MAX_VALUE - 16) return false;
        int target = (int) newLength;
        if (target > file.data.length) {
            int capacity = (int) Math.min(Integer.MAX_VALUE - 16, Math.max(target, Math.max(4096L, file.data.length * 2L)));
            long growth = capacity - file.data.length;
            if (usedBytes + growth > limitBytes) {
                capacity = target;
                growth = capacity - file.data.length;
                if (usedBytes + growth > limitBytes) return false;
            }
            file.data = java.util.Arrays.copyOf(file.data, capacity);
            usedBytes += growth;
        } else if (target < file.length) {
            java.util.Arrays.fill(file.data, target, file.length, (byte) 0);
        }
        file.length = target;
        return true;
    }

    /** True while {@code file} has a name in /tmp (there are no hard links). */
    public boolean contains(Node.TmpFile file) {
        return !file.removed;
    }

    /** Gives a removed file's bytes back to the limit (it is no longer open anywhere). */
    public void release(Node.TmpFile file) {
        usedBytes -= file.data.length;
        file.data = new byte[0];
        file.length = 0;
    }

    public long usedBytes() {
        return usedBytes;
    }

    /** Writes every directory and file of /tmp (depth first: kind, name, contents). */
    public void writeState(java.io.DataOutputStream out) throws java.io.IOException {
        writeDirectory(out, root);
    }

    private void writeDirectory(java.io.DataOutputStream out, TmpDirectory dir) throws java.io.IOException {
        out.writeInt(dir.children.size());
        for (var e : dir.children.entrySet()) {
            out.writeUTF(e.getKey());
            if (e.getValue() instanceof TmpDirectory d) {
                out.writeByte('d');
                writeDirectory(out, d);
            } else {
                Node.TmpFile f = (Node.TmpFile) e.getValue();
                out.writeByte('f');
                out.writeInt(f.length);
                out.write(f.data, 0, f.length);
            }
        }
    }

    /** Reads what {@link #writeState} wrote into this (empty) tmpfs, within its limit. */
    public void readState(java.io.DataInputStream in) throws java.io.IOException {
        readDirectory(in, root, 0);
    }

    private void readDirectory(java.io.DataInputStream in, TmpDirectory dir, int depth) throws java.io.IOException {
        if (depth > 64) throw new java.io.IOException("/tmp is nested too deeply");
        int n = in.readInt();
        if (n < 0 || n > 100_000) throw new java.io.IOException("bad /tmp entry count " + n);
        for (int i = 0; i < n; i++) {
            String name = in.readUTF();
            if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..")) {
                throw new java.io.IOException("bad /tmp name '" + name + "'");
            }
            switch (in.readByte()) {
                case 'd' -> readDirectory(in, dir.createDirectory(name), depth + 1);
                case 'f' -> {
                    int length = in.readInt();
                    Node.TmpFile f = dir.createFile(name);
                    if (length < 0 || !resize(f, length)) throw new java.io.IOException("/tmp file '" + name + "' does not fit");
                    in.readFully(f.data, 0, length);
                }
                default -> throw new java.io.IOException("bad /tmp entry kind");
            }
        }
    }
}
