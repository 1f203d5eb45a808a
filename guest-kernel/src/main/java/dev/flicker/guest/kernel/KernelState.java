package dev.flicker.guest.kernel;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.abi.Sigaction;
import dev.flicker.guest.abi.Signals;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.Node;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.abi.Sockets;
import dev.flicker.guest.net.Loopback;
import dev.flicker.guest.net.LoopbackEndpoint;
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
    private final String executablePath;
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

    /** {@code /var/task/<program>}: what {@code /proc/self/exe} names. */
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

    private static final int KIND_STDIN = 0, KIND_STDOUT = 1, KIND_STDERR = 2, KIND_PATH = 3, KIND_SOCKET = 4;

    /**
     * Writes this state: working directory, umask, brk, FS base, signal actions, /tmp and the open files (by path;
     * duplicated descriptors keep sharing one description). Memory is written by the caller.
     */
    public void save(DataOutputStream out, FileTree tree) throws IOException {
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
        tree.tmp().writeState(out);
        IdentityHashMap<FileDescription, Integer> ids = new IdentityHashMap<>();
        List<FileDescription> unique = new ArrayList<>();
        for (int fd = 0; fd < FdTable.MAX_FDS; fd++) {
            FileDescription f = fds.get(fd);
            if (f != null && !ids.containsKey(f)) {
                ids.put(f, unique.size());
                unique.add(f);
            }
        }
        out.writeInt(unique.size());
        for (FileDescription f : unique) {
            int kind = f == stdin ? KIND_STDIN : f == stdout ? KIND_STDOUT : f == stderr ? KIND_STDERR
                    : f instanceof LoopbackSocket ? KIND_SOCKET : KIND_PATH;
            if (kind == KIND_PATH && tree.lookup(FileTree.normalize("/", f.path())) != f.inode()) {
                throw new IOException("open file " + f.path() + " was removed while open: cannot snapshot it");
            }
            out.writeByte(kind);
            out.writeUTF(f.path());
            out.writeLong(f.offset());
            out.writeInt(f.statusFlags());
            if (f instanceof LoopbackSocket sock) {
                out.writeBoolean(sock.connection() != null);
                if (sock.connection() != null) {
                    out.writeInt(sock.peerPort());
                    sock.connection().save(out);
                }
            }
        }
        for (int fd = 0; fd < FdTable.MAX_FDS; fd++) {
            FileDescription f = fds.get(fd);
            out.writeInt(f == null ? -1 : ids.get(f));
            out.writeBoolean(f != null && fds.closeOnExec(fd));
        }
    }

    /** Reads what {@link #save} wrote, into this fresh state (whose stdin holds the event, or null). */
    public void load(DataInputStream in, FileTree tree, Loopback loopback) throws IOException {
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
        tree.tmp().readState(in);
        int n = in.readInt();
        if (n < 0 || n > FdTable.MAX_FDS) throw new IOException("bad open-file count " + n);
        FileDescription[] unique = new FileDescription[n];
        for (int i = 0; i < n; i++) {
            int kind = in.readByte();
            String path = in.readUTF();
            long offset = in.readLong();
            int flags = in.readInt();
            FileDescription f = switch (kind) {
                case KIND_STDIN -> stdin;
                case KIND_STDOUT -> stdout;
                case KIND_STDERR -> stderr;
                case KIND_PATH -> {
                    Node node = tree.lookup(FileTree.normalize("/", path));
                    if (node == null) throw new IOException("open file " + path + " is not in this bundle or /tmp");
                    yield node.open(FileTree.join(FileTree.normalize("/", path)), flags);
                }
                case KIND_SOCKET -> {
                    LoopbackSocket sock = loopback.restoredSocket(flags);
                    if (in.readBoolean()) {
                        int port = in.readInt();
                        LoopbackEndpoint.Connection connection = loopback.connect(Sockets.INADDR_LOOPBACK, port);
                        if (connection == null) throw new IOException("no endpoint on port " + port + " for a socket");
                        sock.connected(connection, port);
                        connection.load(in);
                    }
                    yield sock;
                }
                default -> throw new IOException("bad open-file kind " + kind);
            };
            if (offset < 0) throw new IOException("bad file offset");
            f.setOffset(offset);
            f.setStatusFlags(flags);
            unique[i] = f;
        }
        for (int fd = 0; fd < FdTable.MAX_FDS; fd++) {
            int id = in.readInt();
            boolean cloexec = in.readBoolean();
            if (id < -1 || id >= n) throw new IOException("bad descriptor entry");
            fds.close(fd);
            if (id >= 0) fds.installAt(fd, unique[id], cloexec);
        }
        for (FileDescription f : unique) f.discard(); // one no descriptor refers to gives back what it holds
    }
}
