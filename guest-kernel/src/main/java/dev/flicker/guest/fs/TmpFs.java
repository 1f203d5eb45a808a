package dev.flicker.guest.fs;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.Limits;
import dev.flicker.guest.StatePart;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The per-VM writable {@code /tmp}: in memory, with a limit on what it holds together. Its usage counts the
 * capacity of every file's bytes and, for every entry (file or directory), {@link #entryBytes} for its node,
 * its directory slot and its name: the names are host memory too, and a program that only makes directories
 * must not hold the host's memory for free. Everything counted is also charged to the VM's
 * {@link HostMemoryBudget}; past either limit the call fails with ENOSPC.
 */
public final class TmpFs {
    private static final AtomicLong INODES = new AtomicLong(1L << 40);
    /** The largest /tmp file: its bytes are one Java array. Writes at or past it are EFBIG, as past a file system's. */
    public static final long MAX_FILE_BYTES = Integer.MAX_VALUE - 16;
    /** An entry's node, its slot in its directory's map and the name's object, besides the name's characters. */
    static final int ENTRY_OVERHEAD_BYTES = 256;
    /** How deep and how wide a /tmp a snapshot holds (what {@link #load} accepts, {@link #save} writes). */
    private static final int MAX_SNAPSHOT_DEPTH = 64, MAX_SNAPSHOT_ENTRIES = 100_000;
    private final long limitBytes;
    private final HostMemoryBudget budget;
    private long usedBytes;
    private final TmpDirectory root = new TmpDirectory(INODES.incrementAndGet());

    /** A /tmp with a host-memory budget of its own, the size the default limits give a VM (for tests and tools). */
    public TmpFs(long limitBytes) {
        this(limitBytes, new HostMemoryBudget(Limits.DEFAULT.hostBudgetBytes()));
    }

    /** A /tmp of at most {@code limitBytes} whose memory is also charged to its VM's {@code budget}. */
    public TmpFs(long limitBytes, HostMemoryBudget budget) {
        this.limitBytes = limitBytes;
        this.budget = budget;
    }

    /** The budget of the VM this /tmp belongs to. */
    public HostMemoryBudget budget() {
        return budget;
    }

    /** What an entry named {@code name} counts besides a file's bytes (a char may take two bytes in a String). */
    public static long entryBytes(String name) {
        return ENTRY_OVERHEAD_BYTES + 2L * name.length();
    }

    /** Counts {@code bytes} against /tmp's limit and the VM's budget; false, counting nothing, if either refuses. */
    private boolean charge(long bytes) {
        if (usedBytes + bytes > limitBytes || !budget.tryCharge(bytes)) return false;
        usedBytes += bytes;
        return true;
    }

    private void uncharge(long bytes) {
        usedBytes -= bytes;
        budget.release(bytes);
    }

    public TmpDirectory root() {
        return root;
    }

    /** A directory of /tmp: its entries are made and removed within /tmp's limits, and counted in them. */
    public final class TmpDirectory extends SortedDirectory {
        TmpDirectory(long inode) {
            super(inode, 01777);
        }

        /** A new empty file named {@code name} (which must not exist); null when /tmp has no room for it (ENOSPC). */
        public Node.TmpFile createFile(String name) {
            if (!charge(entryBytes(name))) return null;
            Node.TmpFile f = new Node.TmpFile(INODES.incrementAndGet(), TmpFs.this);
            children.put(name, f);
            return f;
        }

        /** A new directory named {@code name} (which must not exist); null when /tmp has no room for it (ENOSPC). */
        public TmpDirectory createDirectory(String name) {
            if (!charge(entryBytes(name))) return null;
            TmpDirectory d = new TmpDirectory(INODES.incrementAndGet());
            children.put(name, d);
            return d;
        }

        /**
         * Removes an entry and returns it. A removed file keeps its bytes, as on Linux, while it is still open, and
         * gives them back when its last open description closes ({@link #closed}).
         */
        public Node remove(String name) {
            Node n = children.remove(name);
            if (n != null) uncharge(entryBytes(name));
            if (n instanceof Node.TmpFile f) {
                f.removed = true;
                if (f.openDescriptions == 0) release(f);
            }
            return n;
        }
    }

    /** Grows or shrinks {@code file} to {@code newLength}; false if /tmp would pass its limit (ENOSPC). */
    public boolean resize(Node.TmpFile file, long newLength) {
        if (newLength > Integer.MAX_VALUE - 16) return false;
        int target = (int) newLength;
        if (target > file.data.length) {
            int capacity = (int) Math.min(Integer.MAX_VALUE - 16, Math.max(target, Math.max(4096L, file.data.length * 2L)));
            if (!charge(capacity - file.data.length)) {
                capacity = target;
                if (!charge(capacity - file.data.length)) return false;
            }
            file.data = java.util.Arrays.copyOf(file.data, capacity);
        } else if (target < file.length) {
            java.util.Arrays.fill(file.data, target, file.length, (byte) 0);
        }
        file.length = target;
        return true;
    }

    /** A description of {@code file} was opened. */
    void opened(Node.TmpFile file) {
        file.openDescriptions++;
    }

    /** A description of {@code file} was closed: a removed file's bytes go back once none is left. */
    void closed(Node.TmpFile file) {
        if (--file.openDescriptions == 0 && file.removed) release(file);
    }

    /** Gives a removed file's bytes back to the limit (it is no longer open anywhere). */
    private void release(Node.TmpFile file) {
        uncharge(file.data.length);
        file.data = new byte[0];
        file.length = 0;
    }

    public long usedBytes() {
        return usedBytes;
    }

    /** The layout of what {@link #save} writes. */
    public static final int STATE_VERSION = 1;
    private static final String STATE_PART = "tmp";

    /** Writes /tmp's part of a snapshot: every directory and file (depth first: name, kind, contents). */
    public void save(java.io.DataOutputStream out) throws java.io.IOException {
        StatePart.writeHeader(out, STATE_PART, STATE_VERSION);
        writeDirectory(out, root, 0);
    }

    private void writeDirectory(java.io.DataOutputStream out, TmpDirectory dir, int depth) throws java.io.IOException {
        // What load would refuse must not be written: the snapshot would never restore.
        if (depth > MAX_SNAPSHOT_DEPTH) throw new java.io.IOException("/tmp is nested too deeply to snapshot");
        if (dir.children.size() > MAX_SNAPSHOT_ENTRIES) throw new java.io.IOException("a /tmp directory has too many entries to snapshot");
        out.writeInt(dir.children.size());
        for (var e : dir.children.entrySet()) {
            out.writeUTF(e.getKey());
            if (e.getValue() instanceof TmpDirectory d) {
                out.writeByte('d');
                writeDirectory(out, d, depth + 1);
            } else {
                Node.TmpFile f = (Node.TmpFile) e.getValue();
                out.writeByte('f');
                out.writeInt(f.length);
                out.write(f.data, 0, f.length);
            }
        }
    }

    /** Reads what {@link #save} wrote into this (empty) tmpfs, within its limit. */
    public void load(java.io.DataInputStream in) throws java.io.IOException {
        StatePart.readHeader(in, STATE_PART, STATE_VERSION);
        readDirectory(in, root, 0);
    }

    private void readDirectory(java.io.DataInputStream in, TmpDirectory dir, int depth) throws java.io.IOException {
        if (depth > MAX_SNAPSHOT_DEPTH) throw new java.io.IOException("/tmp is nested too deeply");
        int n = in.readInt();
        if (n < 0 || n > MAX_SNAPSHOT_ENTRIES) throw new java.io.IOException("bad /tmp entry count " + n);
        for (int i = 0; i < n; i++) {
            String name = in.readUTF();
            if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..")) {
                throw new java.io.IOException("bad /tmp name '" + name + "'");
            }
            if (dir.children.containsKey(name)) throw new java.io.IOException("/tmp name '" + name + "' twice");
            switch (in.readByte()) {
                case 'd' -> {
                    TmpDirectory d = dir.createDirectory(name);
                    if (d == null) throw new java.io.IOException("/tmp directory '" + name + "' does not fit");
                    readDirectory(in, d, depth + 1);
                }
                case 'f' -> {
                    int length = in.readInt();
                    Node.TmpFile f = dir.createFile(name);
                    if (f == null || length < 0 || !resize(f, length)) throw new java.io.IOException("/tmp file '" + name + "' does not fit");
                    in.readFully(f.data, 0, length);
                }
                default -> throw new java.io.IOException("bad /tmp entry kind");
            }
        }
    }
}
