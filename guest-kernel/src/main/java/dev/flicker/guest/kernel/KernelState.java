package dev.flicker.guest.kernel;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.StatePart;
import dev.flicker.guest.abi.Sigaction;
import dev.flicker.guest.abi.Signals;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.Node;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.net.Loopback;
import dev.flicker.guest.net.LoopbackSocket;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;

/**
 * The program's kernel state, apart from the system calls that read and change it (gVisor keeps it in
 * {@code kernel.Task}, {@code FDTable} and {@code ThreadGroup}): the descriptor table and the standard streams,
 * the working directory and umask, the heap's break, the FS base, the signal actions and mask, the identity, the
 * stack limit, the executable's path, and the VM's host-memory budget. With threads, the FS base and the signal
 * mask will be each thread's; the rest is the process's.
 */
public final class KernelState {
    private final Identity identity = Identity.MICRO_GUEST;
    private final FdTable fds = new FdTable();
    private final StdinDescription stdin;
    private final OutputDescription stdout, stderr;
    private final HostMemoryBudget hostMemory;
    private String executablePath;
    private String cwd = FileTree.TASK_ROOT;
    private int umask = 022;
    private long brkStart, brkEnd;
    private long fsBase;
    private long signalMask;
    /** Each signal's action, by number (index 0 unused). */
    private final Sigaction[] sigactions = new Sigaction[Signals.NSIG + 1];
    /** What getrlimit(RLIMIT_STACK) reports: Linux's 8 MiB until the loader says what it mapped. */
    private long stackLimitBytes = 8L << 20;

    /** A fresh process whose stdin holds {@code stdin} (null: the event has not come yet). */
    public KernelState(byte[] stdin, OutputCapture stdout, OutputCapture stderr, HostMemoryBudget hostMemory,
                       String executablePath) {
        this.stdin = new StdinDescription(stdin);
        this.stdout = OutputDescription.stdout(stdout);
        this.stderr = OutputDescription.stderr(stderr);
        this.hostMemory = hostMemory;
        this.executablePath = executablePath;
        Arrays.fill(sigactions, Sigaction.DEFAULT);
        fds.installAt(0, this.stdin, false);
        fds.installAt(1, this.stdout, false);
        fds.installAt(2, this.stderr, false);
    }

    public Identity identity() {
        return identity;
    }

    public FdTable fds() {
        return fds;
    }

    public StdinDescription stdin() {
        return stdin;
    }

    /** What the host holds for this VM besides its guest memory, and its limit. */
    public HostMemoryBudget hostMemory() {
        return hostMemory;
    }

    /** The program's path ({@code /var/task/<program>}, or a layer's such as {@code /usr/bin/python3.11}): what {@code /proc/self/exe} names. */
    public String executablePath() {
        return executablePath;
    }

    public String cwd() {
        return cwd;
    }

    public void setCwd(String path) {
        cwd = path;
    }

    public int umask() {
        return umask;
    }

    public void setUmask(int mask) {
        umask = mask & 0777;
    }

    public long brkStart() {
        return brkStart;
    }

    public long brkEnd() {
        return brkEnd;
    }

    /** The heap starts (empty) at {@code start}: the end of the program's image. */
    public void setBrkStart(long start) {
        brkStart = start;
        brkEnd = start;
    }

    public void setBrkEnd(long end) {
        brkEnd = end;
    }

    public long fsBase() {
        return fsBase;
    }

    public void setFsBase(long value) {
        fsBase = value;
    }

    public long signalMask() {
        return signalMask;
    }

    public Sigaction sigaction(int signal) {
        return sigactions[signal];
    }

    public void setSigaction(int signal, Sigaction action) {
        sigactions[signal] = action;
    }

    public long stackLimitBytes() {
        return stackLimitBytes;
    }

    public void setStackLimitBytes(long bytes) {
        stackLimitBytes = bytes;
    }

    // ---- state for snapshots ----

    /** The layout of what {@link #save} writes. */
    public static final int STATE_VERSION = 2;
    private static final String STATE_PART = "kernel";
    private static final int KIND_STDIN = 0, KIND_STDOUT = 1, KIND_STDERR = 2, KIND_PATH = 3, KIND_SOCKET = 4;

    /**
     * Writes the kernel's part of a snapshot: the runtime layer's id (its program and open files are named by path,
     * so a restore needs the same layer), working directory, umask, break, FS base, signals, the executable's path,
     * and the descriptor table: each open description once (a file by its path, a socket by its place in the loopback
     * network, a standard stream by its kind, each with its offset and flags), then each open descriptor (which
     * description, close-on-exec), so that duplicated descriptors keep sharing one description.
     */
    public void save(DataOutputStream out, FileTree tree, Loopback loopback) throws IOException {
        StatePart.writeHeader(out, STATE_PART, STATE_VERSION);
        out.writeUTF(tree.layerId());
        out.writeUTF(cwd);
        out.writeInt(umask);
        out.writeLong(brkStart);
        out.writeLong(brkEnd);
        out.writeLong(fsBase);
        out.writeLong(signalMask);
        for (Sigaction a : sigactions) {
            out.writeLong(a.handler());
            out.writeLong(a.flags());
            out.writeLong(a.restorer());
            out.writeLong(a.mask());
        }
        out.writeUTF(executablePath);
        IdentityHashMap<FileDescription, Integer> ids = new IdentityHashMap<>();
        List<FileDescription> unique = new ArrayList<>();
        int open = 0;
        for (int fd = 0; fd < FdTable.MAX_FDS; fd++) {
            FileDescription f = fds.get(fd);
            if (f == null) continue;
            open++;
            if (!ids.containsKey(f)) {
                ids.put(f, unique.size());
                unique.add(f);
            }
        }
        out.writeInt(unique.size());
        for (FileDescription f : unique) {
            int kind = f == stdin ? KIND_STDIN : f == stdout ? KIND_STDOUT : f == stderr ? KIND_STDERR
                    : f instanceof LoopbackSocket ? KIND_SOCKET : KIND_PATH;
            out.writeByte(kind);
            out.writeLong(f.offset());
            out.writeInt(f.statusFlags());
            if (kind == KIND_SOCKET) out.writeInt(loopback.indexOf((LoopbackSocket) f));
            if (kind == KIND_PATH) {
                if (tree.lookup(FileTree.normalize("/", f.path())) != f.inode()) {
                    throw new IOException("open file " + f.path() + " was removed while open: cannot snapshot it");
                }
                out.writeUTF(f.path());
            }
        }
        out.writeInt(open);
        for (int fd = 0; fd < FdTable.MAX_FDS; fd++) {
            FileDescription f = fds.get(fd);
            if (f == null) continue;
            out.writeInt(fd);
            out.writeInt(ids.get(f));
            out.writeBoolean(fds.closeOnExec(fd));
        }
    }

    /**
     * Reads what {@link #save} wrote into this fresh state (whose stdin holds the event, or null), after /tmp and the
     * loopback network were loaded: open files are found again by path, sockets by their place.
     */
    public void load(DataInputStream in, FileTree tree, Loopback loopback) throws IOException {
        StatePart.readHeader(in, STATE_PART, STATE_VERSION);
        String layer = in.readUTF();
        if (!layer.equals(tree.layerId())) {
            throw new IOException("snapshot taken on runtime layer '" + layer + "', restored on '" + tree.layerId() + "'");
        }
        cwd = in.readUTF();
        if (!(tree.lookup(FileTree.normalize("/", cwd)) instanceof Node.Directory)) throw new IOException("bad cwd " + cwd);
        umask = in.readInt() & 0777;
        brkStart = in.readLong();
        brkEnd = in.readLong();
        if (brkEnd < brkStart || brkStart < AddressSpace.MIN_USER_VA || brkEnd > AddressSpace.MMAP_TOP) {
            throw new IOException("bad brk");
        }
        fsBase = in.readLong();
        signalMask = in.readLong();
        for (int i = 0; i < sigactions.length; i++) {
            sigactions[i] = new Sigaction(in.readLong(), in.readLong(), in.readLong(), in.readLong());
        }
        executablePath = in.readUTF();
        if (!executablePath.startsWith("/") || !(tree.lookup(FileTree.normalize("/", executablePath)) instanceof Node.BundleFile)) {
            throw new IOException("bad executable " + executablePath + ": not a file of this bundle or layer");
        }
        int n = in.readInt();
        if (n < 0 || n > FdTable.MAX_FDS) throw new IOException("bad open-file count " + n);
        FileDescription[] unique = new FileDescription[n];
        for (int i = 0; i < n; i++) {
            int kind = in.readByte();
            long offset = in.readLong();
            int flags = in.readInt();
            FileDescription f = switch (kind) {
                case KIND_STDIN -> stdin;
                case KIND_STDOUT -> stdout;
                case KIND_STDERR -> stderr;
                case KIND_SOCKET -> loopback.socketAt(in.readInt());
                case KIND_PATH -> {
                    String path = in.readUTF();
                    Node node = tree.lookup(FileTree.normalize("/", path));
                    if (node == null) throw new IOException("open file " + path + " is not in this bundle, layer or /tmp");
                    yield node.open(FileTree.join(FileTree.normalize("/", path)), flags);
                }
                default -> throw new IOException("bad open-file kind " + kind);
            };
            if (offset < 0) throw new IOException("bad file offset");
            f.setOffset(offset);
            f.setStatusFlags(flags);
            unique[i] = f;
        }
        for (int fd = 0; fd < FdTable.MAX_FDS; fd++) fds.close(fd);
        int open = in.readInt();
        if (open < 0 || open > FdTable.MAX_FDS) throw new IOException("bad descriptor count " + open);
        for (int i = 0; i < open; i++) {
            int fd = in.readInt(), id = in.readInt();
            boolean cloexec = in.readBoolean();
            if (fd < 0 || fd >= FdTable.MAX_FDS || fds.get(fd) != null || id < 0 || id >= n) {
                throw new IOException("bad descriptor entry");
            }
            fds.installAt(fd, unique[id], cloexec);
        }
        for (FileDescription f : unique) {
            if (!f.referenced()) throw new IOException("an open file description is in no descriptor");
        }
        for (int i = 0; i < loopback.openSockets(); i++) {
            if (!loopback.socketAt(i).referenced()) throw new IOException("socket " + i + " is in no descriptor");
        }
    }
}
