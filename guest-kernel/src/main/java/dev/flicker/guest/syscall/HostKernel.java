package dev.flicker.guest.syscall;

import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.abi.ArchPrctl;
import dev.flicker.guest.abi.Fcntl;
import dev.flicker.guest.abi.FileMode;
import dev.flicker.guest.abi.Futex;
import dev.flicker.guest.abi.Iovec;
import dev.flicker.guest.abi.Marshallable;
import dev.flicker.guest.abi.PollFd;
import dev.flicker.guest.abi.Rlimit;
import dev.flicker.guest.abi.Sigaction;
import dev.flicker.guest.abi.SignalStack;
import dev.flicker.guest.abi.Signals;
import dev.flicker.guest.abi.SockaddrIn;
import dev.flicker.guest.abi.Sockets;
import dev.flicker.guest.abi.Stat;
import dev.flicker.guest.abi.Statx;
import dev.flicker.guest.abi.Sysinfo;
import dev.flicker.guest.abi.Time;
import dev.flicker.guest.abi.Timespec;
import dev.flicker.guest.abi.Timeval;
import dev.flicker.guest.abi.Utsname;
import dev.flicker.guest.fs.DeviceDescription;
import dev.flicker.guest.fs.DirectoryDescription;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.Inode;
import dev.flicker.guest.fs.Node;
import dev.flicker.guest.fs.TmpFs;
import dev.flicker.guest.kernel.FdTable;
import dev.flicker.guest.kernel.OutputDescription;
import dev.flicker.guest.kernel.StdinDescription;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.guest.net.LoopbackSocket;
import dev.flicker.guest.runtime.RuntimeApi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.List;

import static dev.flicker.guest.abi.Errno.*;
import static dev.flicker.guest.abi.Fcntl.AT_EMPTY_PATH;
import static dev.flicker.guest.abi.Fcntl.AT_FDCWD;
import static dev.flicker.guest.abi.Fcntl.AT_REMOVEDIR;
import static dev.flicker.guest.abi.Mman.*;
import static dev.flicker.guest.abi.PathLimits.NAME_MAX;
import static dev.flicker.guest.abi.PathLimits.PATH_MAX;
import static dev.flicker.guest.abi.Time.NANOS_PER_SECOND;
import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * The host half of the micro guest's kernel for one program: every system call the program makes arrives
 * here as (number, six arguments) and returns a value or {@code -errno}. Guest pointers are only followed
 * through {@link AddressSpace}, so a bad one is EFAULT and never a host exception. Calls it does not know
 * return ENOSYS and are counted. See docs/syscalls.md for the table.
 */
public final class HostKernel {
    /** What the host needs from the vCPU while handling a call. */
    public interface Cpu {
        void setFsBase(long value);
    }

    private static final int MAX_IO_CHUNK = 1 << 20;
    /** Runtime API sockets a VM may hold open at once: each may buffer up to a request body. */
    public static final int MAX_SOCKETS = 64;
    /** What a socket's objects cost the host besides its buffers (which its connection counts itself). */
    private static final int SOCKET_BYTES = 1024;
    private static final long STATIC_PID = 1, STATIC_PPID = 0, UID = 1000, GID = 1000;

    private final AddressSpace memory;
    private final FileTree tree;
    /** The VM's host-memory budget, which its /tmp shares: sockets and their connections are charged to it. */
    private final dev.flicker.guest.HostMemoryBudget budget;
    private final RuntimeApi runtimeApi;
    private int openSockets;
    private final FdTable files = new FdTable();
    private final StdinDescription stdin;
    private final OutputDescription stdout;
    private final OutputDescription stderr;
    private final Cpu cpu;
    private final SecureRandom random;
    private long deadlineNanos;
    private final String executablePath;
    private final long[] counts = new long[512];
    private long unknownCalls;
    private String cwd = FileTree.TASK_ROOT;
    private int umask = 022;
    private long brkStart;
    private long brkEnd;
    private boolean exited;
    private int exitStatus;
    /** Where structs are marshalled on their way in and out: the largest is {@code struct utsname}, 390 bytes. */
    private final MemorySegment structBuffer = MemorySegment.ofArray(new long[64]);

    /** Copies {@code value} out to guest memory at {@code addr}: all of it, or nothing when a byte is not writable. */
    private void copyOut(long addr, Marshallable value) throws MemoryFault {
        MemorySegment bytes = structBuffer.asSlice(0, value.sizeBytes());
        bytes.fill((byte) 0);
        value.marshal(bytes);
        memory.copyOut(addr, bytes, 0, bytes.byteSize());
    }

    /** Copies a struct of {@code layout} in from guest memory at {@code addr}: valid until the next copy. */
    private MemorySegment copyIn(long addr, MemoryLayout layout) throws MemoryFault {
        MemorySegment bytes = structBuffer.asSlice(0, layout.byteSize());
        memory.copyIn(addr, bytes, 0, bytes.byteSize());
        return bytes;
    }

    public HostKernel(AddressSpace memory, FileTree tree, byte[] stdin, OutputCapture stdout, OutputCapture stderr,
                      Cpu cpu, SecureRandom random, String executablePath) {
        this.memory = memory;
        this.tree = tree;
        this.budget = tree.tmp().budget();
        this.runtimeApi = new RuntimeApi(budget);
        this.stdin = new StdinDescription(stdin);
        this.stdout = OutputDescription.stdout(stdout);
        this.stderr = OutputDescription.stderr(stderr);
        this.cpu = cpu;
        this.random = random;
        this.deadlineNanos = System.nanoTime() + 10_000_000_000L;
        this.executablePath = executablePath;
        files.installAt(0, this.stdin, false);
        files.installAt(1, this.stdout, false);
        files.installAt(2, this.stderr, false);
    }

    /**
     * True after the program asked for its event (read on stdin) before it was given: the run loop stops
     * there without answering the call. That call is the snapshot point.
     */
    public boolean waitingForEvent() {
        return waitingForEvent;
    }

    /**
     * Gives the program its event, on stdin and on the Runtime API (whichever it asks); the caller then
     * answers the pending call by handling it again.
     */
    public void provideEvent(RuntimeApi.Event event) {
        stdin.provide(event.payload());
        runtimeApi.provide(event);
        waitingForEvent = false;
    }

    private boolean waitingForEvent;

    /** Sleeps and waits end at this {@link System#nanoTime()}: the run's deadline. */
    public void setDeadline(long nanoTime) {
        this.deadlineNanos = nanoTime;
    }

    public String executablePath() {
        return executablePath;
    }

    public void setBrk(long start) {
        this.brkStart = start;
        this.brkEnd = start;
    }

    public boolean exited() {
        return exited;
    }

    public int exitStatus() {
        return exitStatus;
    }

    /** Calls made, by number (index 511 counts numbers above 510). */
    public long[] counts() {
        return counts.clone();
    }

    public long unknownCalls() {
        return unknownCalls;
    }

    public FdTable files() {
        return files;
    }

    /** The VM's host-memory budget (shared with its /tmp). */
    public dev.flicker.guest.HostMemoryBudget hostMemory() {
        return budget;
    }

    /** {@code -Dflicker.trace=true} prints every call and its result to the host's stderr, like strace. */
    private static final boolean TRACE = Boolean.getBoolean("flicker.trace");

    /** Handles one system call; returns the value for rax. */
    public long handle(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
        int counted = nr >= 0 && nr < 511 ? (int) nr : 511;
        counts[counted]++;
        long result;
        try {
            result = dispatch(nr, a0, a1, a2, a3, a4, a5);
        } catch (MemoryFault f) {
            result = -EFAULT;
        }
        if (result == FileDescription.WAIT_FOR_EVENT) {
            waitingForEvent = true; // the run loop stops before answering: the program never sees this
            result = -EINTR;
        }
        if (TRACE) {
            System.err.printf("[guest] %s(%x, %x, %x, %x, %x, %x) = %d%n", Sys.name(counted),
                    a0, a1, a2, a3, a4, a5, result);
        }
        return result;
    }

    private long dispatch(long nr, long a0, long a1, long a2, long a3, long a4, long a5) throws MemoryFault {
        if (nr < 0 || nr > Integer.MAX_VALUE) return unknown();
        return switch ((int) nr) {
            case Sys.READ -> read(a0, a1, a2);
            case Sys.PREAD64 -> pread(a0, a1, a2, a3);
            case Sys.WRITE -> write(a0, a1, a2);
            case Sys.PWRITE64 -> pwrite(a0, a1, a2, a3);
            case Sys.READV -> vector(a0, a1, a2, false);
            case Sys.WRITEV -> vector(a0, a1, a2, true);
            case Sys.OPEN -> openat(AT_FDCWD, a0, a1, a2);
            case Sys.OPENAT -> openat(a0, a1, a2, a3);
            case Sys.CLOSE -> close(a0);
            case Sys.FTRUNCATE -> ftruncate(a0, a1);
            case Sys.LSEEK -> lseek(a0, a1, a2);
            case Sys.FSTAT -> fstat(a0, a1);
            case Sys.STAT -> statPath(AT_FDCWD, a0, a1, 0);
            case Sys.LSTAT -> statPath(AT_FDCWD, a0, a1, 0);
            case Sys.NEWFSTATAT -> statPath(a0, a1, a2, a3);
            case Sys.STATX -> statx(a0, a1, a2, a4);
            case Sys.GETDENTS64 -> getdents64(a0, a1, a2);
            case Sys.FCNTL -> fcntl(a0, a1, a2);
            case Sys.DUP -> dup(a0, 0, false);
            case Sys.DUP2 -> a0 == a1 ? (files.get(a0) != null ? a0 : -EBADF) : dup3(a0, a1, 0);
            case Sys.DUP3 -> a0 == a1 ? -EINVAL : dup3(a0, a1, a2);
            case Sys.IOCTL -> files.get(a0) == null ? -EBADF : files.get(a0).ioctl(a1, a2);
            case Sys.MMAP -> mmap(a0, a1, a2, a3, a4, a5);
            case Sys.MUNMAP -> munmap(a0, a1);
            case Sys.MPROTECT -> mprotect(a0, a1, a2);
            case Sys.MREMAP -> mremap(a0, a1, a2, a3, a4);
            case Sys.BRK -> brk(a0);
            case Sys.MADVISE -> madvise(a0, a1, a2);
            case Sys.EXIT, Sys.EXIT_GROUP -> exit((int) a0);
            case Sys.ARCH_PRCTL -> archPrctl(a0, a1);
            case Sys.SET_TID_ADDRESS -> STATIC_PID;
            case Sys.SET_ROBUST_LIST -> a1 == 24 ? 0 : -EINVAL;
            case Sys.RSEQ -> -ENOSYS;
            case Sys.RT_SIGACTION -> sigaction(a0, a1, a2, a3);
            case Sys.RT_SIGPROCMASK -> sigprocmask(a2, a3);
            case Sys.SIGALTSTACK -> sigaltstack(a1);
            case Sys.CLOCK_GETTIME -> clockGettime(a0, a1);
            case Sys.CLOCK_GETRES -> clockGetres(a0, a1);
            case Sys.GETTIMEOFDAY -> gettimeofday(a0);
            case Sys.TIME -> time(a0);
            case Sys.NANOSLEEP -> sleep(a0, a1, false, 0);
            case Sys.CLOCK_NANOSLEEP -> clockNanosleep(a0, a1, a2, a3);
            case Sys.GETRANDOM -> getrandom(a0, a1);
            case Sys.UNAME -> uname(a0);
            case Sys.GETPID, Sys.GETTID -> STATIC_PID;
            case Sys.GETPPID -> STATIC_PPID;
            case Sys.GETUID, Sys.GETEUID -> UID;
            case Sys.GETGID, Sys.GETEGID -> GID;
            case Sys.PRLIMIT64 -> a0 != 0 && a0 != STATIC_PID ? -ESRCH : rlimit(a1, a2, a3);
            case Sys.GETRLIMIT -> rlimit(a0, 0, a1);
            case Sys.SCHED_GETAFFINITY -> schedGetaffinity(a0, a1, a2);
            case Sys.SCHED_YIELD -> 0;
            case Sys.FUTEX -> futex(a0, a1, a2, a3);
            case Sys.GETCWD -> getcwd(a0, a1);
            case Sys.CHDIR -> chdir(a0);
            case Sys.READLINK -> readlinkat(AT_FDCWD, a0, a1, a2);
            case Sys.READLINKAT -> readlinkat(a0, a1, a2, a3);
            case Sys.ACCESS -> faccessat(AT_FDCWD, a0, a1);
            case Sys.FACCESSAT, Sys.FACCESSAT2 -> faccessat(a0, a1, a2);
            case Sys.SYSINFO -> sysinfo(a0);
            case Sys.UMASK -> umask(a0);
            case Sys.MKDIR -> mkdirat(AT_FDCWD, a0);
            case Sys.MKDIRAT -> mkdirat(a0, a1);
            case Sys.UNLINK -> unlinkat(AT_FDCWD, a0, 0);
            case Sys.UNLINKAT -> unlinkat(a0, a1, a2);
            case Sys.POLL -> poll(a0, a1);
            case Sys.SOCKET -> socket(a0, a1);
            case Sys.CONNECT -> connect(a0, a1, a2);
            case Sys.SENDTO -> write(a0, a1, a2);
            case Sys.RECVFROM -> recvfrom(a0, a1, a2, a4, a5);
            case Sys.SHUTDOWN -> files.get(a0) == null ? -EBADF : files.get(a0) instanceof LoopbackSocket ? 0 : -ENOTSOCK;
            case Sys.GETSOCKNAME, Sys.GETPEERNAME -> sockname(a0, a1, a2, nr == Sys.GETPEERNAME);
            case Sys.SETSOCKOPT -> files.get(a0) == null ? -EBADF : 0;
            case Sys.GETSOCKOPT -> getsockopt(a0, a3, a4);
            default -> unknown();
        };
    }

    private long unknown() {
        unknownCalls++;
        return -ENOSYS;
    }

    // ---- files ----

    /** read (and recvfrom): checks the descriptor and the count, then reads what the description gives. */
    private long read(long fd, long buf, long count) throws MemoryFault {
        FileDescription f = files.get(fd);
        if (f == null || !f.readable()) return -EBADF;
        if (count < 0) return -EINVAL;
        int n = (int) Math.min(count, MAX_IO_CHUNK);
        if (n == 0) return 0;
        return blockIfWouldBlock(f, f.read(memory, buf, n));
    }

    /** pread64: as on Linux, a negative offset is EINVAL, and a stream or socket cannot seek (ESPIPE). */
    private long pread(long fd, long buf, long count, long offset) throws MemoryFault {
        if (offset < 0) return -EINVAL;
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        if (!f.seekable()) return -ESPIPE;
        if (!f.readable()) return -EBADF;
        if (count < 0) return -EINVAL;
        int n = (int) Math.min(count, MAX_IO_CHUNK);
        if (n == 0) return 0;
        return f.pread(memory, buf, n, offset);
    }

    /** write (and sendto): checks the descriptor and the count, then writes what the description takes. */
    private long write(long fd, long buf, long count) throws MemoryFault {
        FileDescription f = files.get(fd);
        if (f == null || !f.writable()) return -EBADF;
        if (count < 0) return -EINVAL;
        int n = (int) Math.min(count, MAX_IO_CHUNK);
        if (n == 0) return 0;
        return blockIfWouldBlock(f, f.write(memory, buf, n));
    }

    /** pwrite64: errors as pread64. */
    private long pwrite(long fd, long buf, long count, long offset) throws MemoryFault {
        if (offset < 0) return -EINVAL;
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        if (!f.seekable()) return -ESPIPE;
        if (!f.writable()) return -EBADF;
        if (count < 0) return -EINVAL;
        int n = (int) Math.min(count, MAX_IO_CHUNK);
        if (n == 0) return 0;
        return f.pwrite(memory, buf, n, offset);
    }

    /**
     * A transfer that would block (EAGAIN) on a blocking description waits, as on Linux, for what only this
     * single-threaded program could bring about (room made by its own reads), which it cannot while it waits:
     * until its deadline. The run ends there, so the EINTR is never seen.
     */
    private long blockIfWouldBlock(FileDescription f, long result) {
        if (result != -EAGAIN || f.nonBlocking()) return result;
        sleepUntil(deadlineNanos);
        return -EINTR;
    }

    /** readv and writev: at most {@link #MAX_IO_CHUNK} in all, like one read or write, so one call stays short. */
    private long vector(long fd, long iov, long iovcnt, boolean isWrite) throws MemoryFault {
        if (iovcnt < 0 || iovcnt > Iovec.UIO_MAXIOV) return -EINVAL;
        long total = 0;
        for (int i = 0; i < iovcnt && total < MAX_IO_CHUNK; i++) {
            Iovec v = Iovec.unmarshal(copyIn(iov + Iovec.LAYOUT.byteSize() * i, Iovec.LAYOUT));
            long base = v.base(), len = v.length();
            if (len < 0) return -EINVAL;
            if (len == 0) continue;
            // One host call moves at most MAX_IO_CHUNK bytes in all, like one read or write: a short count.
            long want = Math.min(len, MAX_IO_CHUNK - total);
            long r = isWrite ? write(fd, base, want) : read(fd, base, want);
            if (r < 0) return total > 0 ? total : r;
            total += r;
            if (r < len || total >= MAX_IO_CHUNK) break;
        }
        return total;
    }

    /** Resolves a path argument against {@code dirfd}, or the working directory for AT_FDCWD. */
    private List<String> resolve(long dirfd, long pathPtr) throws MemoryFault, PathError {
        String path = memory.copyInString(pathPtr, PATH_MAX);
        if (path.isEmpty()) throw new PathError(-ENOENT);
        if (longestComponentBytes(path) > NAME_MAX) throw new PathError(-ENAMETOOLONG);
        String base = cwd;
        if (!path.startsWith("/") && (int) dirfd != AT_FDCWD) {
            FileDescription d = files.get(dirfd);
            if (d == null) throw new PathError(-EBADF);
            if (!(d instanceof DirectoryDescription)) throw new PathError(-ENOTDIR);
            base = d.path();
        }
        return FileTree.normalize(base, path);
    }

    /** The UTF-8 length of the longest '/'-separated component of {@code path}. */
    static int longestComponentBytes(String path) {
        int longest = 0, current = 0;
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == '/') {
                current = 0;
                continue;
            }
            current += c < 0x80 ? 1 : c < 0x800 ? 2 : Character.isSurrogate(c) ? 2 : 3; // a surrogate pair is 4
            longest = Math.max(longest, current);
        }
        return longest;
    }

    private static final class PathError extends Exception {
        final long errno;

        PathError(long errno) {
            super(null, null, false, false);
            this.errno = errno;
        }
    }

    private long openat(long dirfd, long pathPtr, long flags, long mode) throws MemoryFault {
        List<String> parts;
        try {
            parts = resolve(dirfd, pathPtr);
        } catch (PathError e) {
            return e.errno;
        }
        // Bits Linux's open does not know are ignored, as there (VALID_OPEN_FLAGS): F_GETFL never shows them.
        int fl = (int) flags & Fcntl.VALID_OPEN_FLAGS;
        Node node = tree.lookup(parts);
        boolean inTmp = !parts.isEmpty() && parts.getFirst().equals("tmp");
        if (node == null) {
            if ((fl & Fcntl.O_CREAT) == 0) return -ENOENT;
            if (!inTmp) return tree.lookup(parts.subList(0, parts.size() - 1)) == null ? -ENOENT : -EROFS;
            Node parent = tree.lookup(parts.subList(0, parts.size() - 1));
            if (!(parent instanceof TmpFs.TmpDirectory dir)) return parent == null ? -ENOENT : -ENOTDIR;
            node = dir.createFile(parts.getLast());
            if (node == null) return -ENOSPC;
        } else if ((fl & Fcntl.O_CREAT) != 0 && (fl & Fcntl.O_EXCL) != 0) {
            return -EEXIST;
        }
        if ((fl & Fcntl.O_DIRECTORY) != 0 && !(node instanceof Node.Directory)) return -ENOTDIR;
        int access = fl & Fcntl.O_ACCMODE;
        if (access != Fcntl.O_RDONLY) {
            if (node instanceof Node.Directory) return -EISDIR;
            if (node instanceof Node.BundleFile) return -EROFS;
        }
        if (node instanceof Node.TmpFile tf && (fl & Fcntl.O_TRUNC) != 0 && access != Fcntl.O_RDONLY) {
            tree.tmp().resize(tf, 0);
        }
        FileDescription f = node.open(FileTree.join(parts), fl & ~(Fcntl.O_CREAT | Fcntl.O_EXCL | Fcntl.O_TRUNC | Fcntl.O_CLOEXEC));
        int fd = files.install(f, 0, (fl & Fcntl.O_CLOEXEC) != 0);
        return fd < 0 ? -EMFILE : fd;
    }

    private long lseek(long fd, long offset, long whence) {
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        if (!f.seekable()) return -ESPIPE;
        return f.seek(offset, (int) whence);
    }

    private long fstat(long fd, long statPtr) throws MemoryFault {
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        writeStat(statPtr, f.inode());
        return 0;
    }

    private long statPath(long dirfd, long pathPtr, long statPtr, long flags) throws MemoryFault {
        if ((flags & AT_EMPTY_PATH) != 0 && memory.copyInString(pathPtr, PATH_MAX).isEmpty()) return fstat(dirfd, statPtr);
        try {
            Node node = tree.lookup(resolve(dirfd, pathPtr));
            if (node == null) return -ENOENT;
            writeStat(statPtr, node);
            return 0;
        } catch (PathError e) {
            return e.errno;
        }
    }

    /** The device number every file of the micro guest reports. */
    private static final long DEVICE = 0x2a;
    /** The I/O block size every file reports; {@code st_blocks} counts 512-byte units, as on Linux. */
    private static final int BLOCK_BYTES = 4096, BLOCK_UNIT_BYTES = 512;

    private void writeStat(long ptr, Inode inode) throws MemoryFault {
        copyOut(ptr, new Stat(DEVICE, inode.ino(), 1, inode.mode(), (int) UID, (int) GID, inode.size(), BLOCK_BYTES,
                blocks(inode.size())));
    }

    private static long blocks(long sizeBytes) {
        return (sizeBytes + BLOCK_UNIT_BYTES - 1) / BLOCK_UNIT_BYTES;
    }

    private long statx(long dirfd, long pathPtr, long flags, long statxPtr) throws MemoryFault {
        Inode node;
        if ((flags & AT_EMPTY_PATH) != 0 && memory.copyInString(pathPtr, PATH_MAX).isEmpty()) {
            FileDescription f = files.get(dirfd);
            if (f == null) return -EBADF;
            node = f.inode();
        } else {
            try {
                node = tree.lookup(resolve(dirfd, pathPtr));
            } catch (PathError e) {
                return e.errno;
            }
            if (node == null) return -ENOENT;
        }
        copyOut(statxPtr, new Statx(Statx.STATX_BASIC_STATS, BLOCK_BYTES, 1, (int) UID, (int) GID, node.mode(),
                node.ino(), node.size(), blocks(node.size())));
        return 0;
    }

    /**
     * Lists {@code .}, {@code ..}, then the names in sorted order, walking the directory from the last name
     * returned (no copy of its names per open descriptor); the offset counts the entries returned.
     */
    private long getdents64(long fd, long buf, long count) throws MemoryFault {
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        return f.readdir(memory, buf, Math.min(count & 0xffff_ffffL, MAX_IO_CHUNK)); // count is an unsigned int
    }

    private long fcntl(long fd, long cmd, long arg) {
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        return switch ((int) cmd) {
            case Fcntl.F_DUPFD -> dup(fd, arg, false);
            case Fcntl.F_DUPFD_CLOEXEC -> dup(fd, arg, true);
            case Fcntl.F_GETFD -> files.closeOnExec((int) fd) ? Fcntl.FD_CLOEXEC : 0;
            case Fcntl.F_SETFD -> {
                files.setCloseOnExec((int) fd, (arg & Fcntl.FD_CLOEXEC) != 0);
                yield 0;
            }
            case Fcntl.F_GETFL -> f.statusFlags();
            case Fcntl.F_SETFL -> { // only O_APPEND and O_NONBLOCK change
                int changeable = Fcntl.O_APPEND | Fcntl.O_NONBLOCK;
                f.setStatusFlags((f.statusFlags() & ~changeable) | ((int) arg & changeable));
                yield 0;
            }
            default -> -EINVAL;
        };
    }

    private long dup(long fd, long from, boolean cloexec) {
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        if (from < 0 || from >= FdTable.MAX_FDS) return -EINVAL;
        int n = files.install(f, (int) from, cloexec);
        return n < 0 ? -EMFILE : n;
    }

    private long dup3(long oldFd, long newFd, long flags) {
        FileDescription f = files.get(oldFd);
        if (f == null) return -EBADF;
        if (newFd < 0 || newFd >= FdTable.MAX_FDS) return -EBADF;
        if ((flags & ~Fcntl.O_CLOEXEC) != 0) return -EINVAL;
        files.installAt((int) newFd, f, (flags & Fcntl.O_CLOEXEC) != 0);
        return newFd;
    }

    /** Only /tmp files can change size; the bundle is read-only and opened so. */
    private long ftruncate(long fd, long length) {
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        if (length < 0 || !f.writable()) return -EINVAL;
        return f.truncate(length);
    }

    private long close(long fd) {
        return files.close(fd) ? 0 : -EBADF;
    }

    private long getcwd(long buf, long size) throws MemoryFault {
        byte[] b = (cwd + "\0").getBytes(StandardCharsets.UTF_8);
        if (size < b.length) return -ERANGE;
        memory.copyOutBytes(buf, b);
        return b.length;
    }

    private long chdir(long pathPtr) throws MemoryFault {
        try {
            List<String> parts = resolve(AT_FDCWD, pathPtr);
            Node n = tree.lookup(parts);
            if (n == null) return -ENOENT;
            if (!(n instanceof Node.Directory)) return -ENOTDIR;
            cwd = FileTree.join(parts);
            return 0;
        } catch (PathError e) {
            return e.errno;
        }
    }

    private long readlinkat(long dirfd, long pathPtr, long buf, long size) throws MemoryFault {
        if (size <= 0) return -EINVAL;
        String path = memory.copyInString(pathPtr, PATH_MAX);
        if (path.equals("/proc/self/exe")) {
            byte[] b = executablePath.getBytes(StandardCharsets.UTF_8);
            int n = (int) Math.min(b.length, size);
            memory.copyOutBytes(buf, java.util.Arrays.copyOf(b, n));
            return n;
        }
        try {
            // No symbolic links exist in the guest's tree.
            return tree.lookup(resolve(dirfd, pathPtr)) == null ? -ENOENT : -EINVAL;
        } catch (PathError e) {
            return e.errno;
        }
    }

    private long faccessat(long dirfd, long pathPtr, long mode) throws MemoryFault {
        try {
            List<String> parts = resolve(dirfd, pathPtr);
            Node n = tree.lookup(parts);
            if (n == null) return -ENOENT;
            boolean writableTree = !parts.isEmpty() && (parts.getFirst().equals("tmp") || parts.getFirst().equals("dev"));
            if ((mode & Fcntl.W_OK) != 0 && !writableTree) return -EROFS;
            if ((mode & Fcntl.X_OK) != 0 && (n.mode() & FileMode.S_IXUGO) == 0) return -EACCES;
            return 0;
        } catch (PathError e) {
            return e.errno;
        }
    }

    private long mkdirat(long dirfd, long pathPtr) throws MemoryFault {
        try {
            List<String> parts = resolve(dirfd, pathPtr);
            if (tree.lookup(parts) != null) return -EEXIST;
            if (parts.isEmpty()) return -EEXIST;
            Node parent = tree.lookup(parts.subList(0, parts.size() - 1));
            if (parent == null) return -ENOENT;
            if (!(parent instanceof TmpFs.TmpDirectory dir)) return parent instanceof Node.Directory ? -EROFS : -ENOTDIR;
            return dir.createDirectory(parts.getLast()) == null ? -ENOSPC : 0;
        } catch (PathError e) {
            return e.errno;
        }
    }

    private long unlinkat(long dirfd, long pathPtr, long flags) throws MemoryFault {
        try {
            List<String> parts = resolve(dirfd, pathPtr);
            Node n = tree.lookup(parts);
            if (n == null) return -ENOENT;
            Node parent = tree.lookup(parts.subList(0, Math.max(0, parts.size() - 1)));
            if (!(parent instanceof TmpFs.TmpDirectory dir) || parts.isEmpty()) return -EROFS;
            boolean isDir = n instanceof Node.Directory;
            if ((flags & AT_REMOVEDIR) != 0) {
                if (!isDir) return -ENOTDIR;
                if (!((Node.Directory) n).isEmpty()) return -ENOTEMPTY;
            } else if (isDir) {
                return -EISDIR;
            }
            dir.remove(parts.getLast());
            return 0;
        } catch (PathError e) {
            return e.errno;
        }
    }

    private long poll(long fdsPtr, long nfds) throws MemoryFault {
        if (nfds < 0 || nfds > FdTable.MAX_FDS) return -EINVAL;
        long ready = 0;
        boolean blockedOnEvent = false;
        for (int i = 0; i < nfds; i++) {
            long at = fdsPtr + PollFd.LAYOUT.byteSize() * i;
            PollFd p = PollFd.unmarshal(copyIn(at, PollFd.LAYOUT));
            int fd = p.fd(), events = p.events();
            FileDescription pf = fd < 0 ? null : files.get(fd);
            int revents;
            if (fd < 0) {
                revents = 0;
            } else if (pf == null) {
                revents = PollFd.POLLNVAL;
            } else {
                revents = pf.readiness(events);
                if (revents == 0 && pf.waitsForEvent()) blockedOnEvent = true;
            }
            memory.copyOutBytes(at + PollFd.REVENTS_OFFSET, new byte[] {(byte) revents, (byte) (revents >> 8)});
            if (revents != 0) ready++;
        }
        // Otherwise poll never blocks: a timeout is ignored.
        if (ready == 0 && blockedOnEvent) return FileDescription.WAIT_FOR_EVENT;
        return ready;
    }

    // ---- the loopback socket to the Runtime API ----

    private long socket(long domain, long type) {
        if (domain != Sockets.AF_INET) return -EAFNOSUPPORT;
        if ((type & Sockets.SOCK_TYPE_MASK) != Sockets.SOCK_STREAM) return -EPROTONOSUPPORT;
        // The VM is the whole system: its socket limit is a system-wide one (ENFILE), its budget its memory.
        if (openSockets >= MAX_SOCKETS) return -ENFILE;
        if (!budget.tryCharge(SOCKET_BYTES)) return -ENOMEM;
        openSockets++;
        LoopbackSocket s = newSocket((int) (type & Sockets.SOCK_NONBLOCK));
        int fd = files.install(s, 0, (type & Sockets.SOCK_CLOEXEC) != 0);
        return fd < 0 ? -EMFILE : fd;
    }

    /** A socket whose count and budget come back when it is released. */
    private LoopbackSocket newSocket(int statusFlags) {
        return new LoopbackSocket(nextSocketInode++, statusFlags, () -> {
            openSockets--;
            budget.release(SOCKET_BYTES);
        });
    }

    /** Runtime API sockets open now. */
    public int openSockets() {
        return openSockets;
    }

    private long nextSocketInode = 1L << 50;
    /** The port every socket of the guest reports as its own. */
    private static final int LOCAL_PORT = 40000;

    private long connect(long fd, long addrPtr, long addrLen) throws MemoryFault {
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        if (!(f instanceof LoopbackSocket sock)) return -ENOTSOCK;
        if (addrLen < SockaddrIn.ADDRESS_BYTES) return -EINVAL;
        SockaddrIn address = SockaddrIn.unmarshal(copyIn(addrPtr, MemoryLayout.paddingLayout(SockaddrIn.ADDRESS_BYTES)));
        if (address.family() != Sockets.AF_INET) return -EAFNOSUPPORT;
        if (sock.connection() != null) return -EISCONN;
        // Nothing but the Runtime API is reachable from a micro guest.
        if (address.address() != Sockets.INADDR_LOOPBACK || address.port() != RuntimeApi.PORT) return -ECONNREFUSED;
        sock.connected(runtimeApi.connect());
        return 0;
    }

    private long recvfrom(long fd, long buf, long len, long srcAddr, long addrLenPtr) throws MemoryFault {
        long r = read(fd, buf, len);
        if (r >= 0 && srcAddr != 0 && addrLenPtr != 0) sockname(fd, srcAddr, addrLenPtr, true);
        return r;
    }

    private long sockname(long fd, long addrPtr, long lenPtr, boolean peer) throws MemoryFault {
        FileDescription f = files.get(fd);
        if (f == null) return -EBADF;
        if (!(f instanceof LoopbackSocket sock)) return -ENOTSOCK;
        if (peer && sock.connection() == null) return -ENOTCONN;
        int len = memory.copyInInt(lenPtr);
        if (len < 0) return -EINVAL;
        SockaddrIn address = new SockaddrIn(Sockets.AF_INET, peer ? RuntimeApi.PORT : LOCAL_PORT, Sockets.INADDR_LOOPBACK);
        // As Linux: the address is cut to the caller's buffer, and the length says how long it really is.
        MemorySegment bytes = structBuffer.asSlice(0, address.sizeBytes());
        bytes.fill((byte) 0);
        address.marshal(bytes);
        memory.copyOut(addrPtr, bytes, 0, Math.min(len, address.sizeBytes()));
        memory.copyOutInt(lenPtr, (int) address.sizeBytes());
        return 0;
    }

    private long getsockopt(long fd, long valPtr, long lenPtr) throws MemoryFault {
        if (files.get(fd) == null) return -EBADF;
        if (valPtr != 0 && lenPtr != 0 && memory.copyInInt(lenPtr) >= 4) {
            memory.copyOutInt(valPtr, 0); // SO_ERROR and friends: no error, option off
            memory.copyOutInt(lenPtr, 4);
        }
        return 0;
    }

    /** The Runtime API this program's socket reaches. */
    public RuntimeApi runtimeApi() {
        return runtimeApi;
    }

    // ---- memory ----

    private long mmap(long addr, long length, long prot, long flags, long fd, long offset) throws MemoryFault {
        if (length <= 0 || (offset & (PAGE_SIZE - 1)) != 0 || offset < 0) return -EINVAL;
        if ((flags & (MAP_SHARED | MAP_PRIVATE)) == 0) return -EINVAL;
        if ((prot & ~PROT_ALL) != 0) return -EINVAL;
        if (length > AddressSpace.USER_VA_END) return -ENOMEM; // before rounding up, which could wrap
        long len = AddressSpace.pageUp(length);
        FileDescription file = null;
        if ((flags & MAP_ANONYMOUS) == 0) {
            file = files.get(fd);
            if (file == null) return -EBADF;
            if (!file.mappable()) return -ENODEV;
            if ((flags & MAP_SHARED) != 0 && (prot & PROT_WRITE) != 0) return -EACCES; // files are read-only to the VM
        }
        long start;
        boolean fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0;
        if (fixed) {
            if ((addr & (PAGE_SIZE - 1)) != 0) return -EINVAL;
            if (addr < AddressSpace.MIN_USER_VA || addr > AddressSpace.USER_VA_END || len > AddressSpace.USER_VA_END - addr) {
                return (flags & MAP_FIXED_NOREPLACE) != 0 ? -EEXIST : -ENOMEM;
            }
            if ((flags & MAP_FIXED_NOREPLACE) != 0 && !memory.isFree(addr, addr + len)) return -EEXIST;
            if (!memory.unmap(addr, addr + len)) return -ENOMEM;
            start = addr;
        } else {
            start = memory.findFree(len, AddressSpace.pageDown(addr));
            if (start < 0) return -ENOMEM;
        }
        // Map writable first so the host can fill a file mapping, then set the requested protection.
        int initial = file != null && prot != PROT_NONE ? (int) prot | PROT_WRITE : (int) prot;
        if (!memory.map(start, len, initial, file == null ? "anon" : file.path())) return -ENOMEM;
        if (file != null && prot != PROT_NONE) {
            long copied = file.copyIntoMapping(memory, start, offset, len);
            if (copied < 0) {
                memory.unmap(start, start + len);
                return copied;
            }
            if (initial != prot) memory.protect(start, start + len, (int) prot);
        }
        return start;
    }

    /**
     * The end of {@code [addr, addr+length)} rounded up to a page, or -1 when the range does not lie in user space.
     * Checked before adding, so that no address or length near the end of {@code long} wraps around into range.
     */
    private static long userRangeEnd(long addr, long length) {
        if (addr < 0 || addr > AddressSpace.USER_VA_END || length < 0 || length > AddressSpace.USER_VA_END - addr) return -1;
        return AddressSpace.pageUp(addr + length);
    }

    private long munmap(long addr, long length) {
        if ((addr & (PAGE_SIZE - 1)) != 0 || length <= 0) return -EINVAL;
        long end = userRangeEnd(addr, length);
        if (end < 0) return -EINVAL;
        return memory.unmap(addr, end) ? 0 : -ENOMEM;
    }

    private long mprotect(long addr, long length, long prot) {
        if ((addr & (PAGE_SIZE - 1)) != 0 || length < 0 || (prot & ~PROT_ALL) != 0) return -EINVAL;
        long end = userRangeEnd(addr, length);
        if (end < 0) return -ENOMEM;
        if (length == 0) return 0;
        if (!memory.isFullyMapped(addr, end)) return -ENOMEM;
        return memory.protect(addr, end, (int) prot) ? 0 : -ENOMEM;
    }

    /**
     * Resizes the mapping at {@code oldAddr}, in place or (with MREMAP_MAYMOVE) elsewhere, with Linux's errors: an
     * address with no mapping is EFAULT, and so is growing a range that is not one mapping (here: pieces of one
     * protection, which Linux would have merged into one); sizes are unsigned, so a "negative" one is past the end of
     * user space. Sizes are checked before they are rounded, so that nothing wraps around.
     */
    private long mremap(long oldAddr, long oldSize, long newSize, long flags, long newAddrHint) throws MemoryFault {
        if ((flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) != 0 || (flags & MREMAP_FIXED) != 0) return -EINVAL;
        if ((oldAddr & (PAGE_SIZE - 1)) != 0) return -EINVAL;
        if (newSize == 0 || Long.compareUnsigned(newSize, -PAGE_SIZE) > 0) return -EINVAL; // rounds up to 0
        if (Long.compareUnsigned(newSize, AddressSpace.USER_VA_END) > 0) return -ENOMEM;
        if (Long.compareUnsigned(oldSize, AddressSpace.USER_VA_END) > 0) return -EINVAL;
        AddressSpace.Mapping m = oldAddr < AddressSpace.USER_VA_END ? memory.mappingAt(oldAddr) : null;
        if (m == null) return -EFAULT;
        long oldLen = AddressSpace.pageUp(oldSize), newLen = AddressSpace.pageUp(newSize);
        if (oldLen == 0) return -EINVAL; // Linux duplicates only shared mappings this way
        if (oldLen > AddressSpace.USER_VA_END - oldAddr) return -EFAULT;
        long oldEnd = oldAddr + oldLen;
        if (newLen <= oldLen) {
            return memory.unmap(oldAddr + newLen, oldEnd) ? oldAddr : -ENOMEM; // a split past the mapping limit
        }
        for (long at = oldAddr; at < oldEnd; ) {
            AddressSpace.Mapping piece = memory.mappingAt(at);
            if (piece == null || piece.prot() != m.prot()) return -EFAULT;
            at = piece.end();
        }
        if (newLen <= AddressSpace.USER_VA_END - oldAddr && memory.isFree(oldEnd, oldAddr + newLen)) {
            return memory.map(oldEnd, newLen - oldLen, m.prot(), m.name()) ? oldAddr : -ENOMEM;
        }
        if ((flags & MREMAP_MAYMOVE) == 0) return -ENOMEM;
        long to = memory.findFree(newLen, 0);
        if (to < 0) return -ENOMEM;
        // The host copies through frames, so a PROT_NONE range moves through a readable one, then loses access again.
        int hostProt = m.prot() == PROT_NONE ? PROT_READ : m.prot();
        if (!memory.map(to, newLen, hostProt, m.name())) return -ENOMEM;
        memory.copy(oldAddr, to, oldLen);
        if (hostProt != m.prot()) memory.protect(to, to + newLen, m.prot());
        if (!memory.unmap(oldAddr, oldEnd)) { // splitting the old range would pass the mapping limit
            memory.unmap(to, to + newLen);
            return -ENOMEM;
        }
        return to;
    }

    private long brk(long requested) {
        // Linux refuses a break below the heap's start or past its room by returning the old one. Checked before
        // rounding up, so that a value near the end of long cannot wrap around to a "smaller" heap.
        if (requested < brkStart || requested > AddressSpace.MMAP_TOP) return brkEnd;
        long oldTop = AddressSpace.pageUp(brkEnd), newTop = AddressSpace.pageUp(requested);
        if (newTop > oldTop) {
            if (newTop > AddressSpace.MMAP_TOP || !memory.isFree(oldTop, newTop)) return brkEnd;
            if (!memory.map(oldTop, newTop - oldTop, PROT_READ | PROT_WRITE, "[heap]")) return brkEnd;
        } else if (newTop < oldTop && !memory.unmap(newTop, oldTop)) {
            return brkEnd; // a split past the mapping limit: Linux, too, keeps the old break
        }
        brkEnd = requested;
        return brkEnd;
    }

    private long madvise(long addr, long length, long advice) throws MemoryFault {
        if ((addr & (PAGE_SIZE - 1)) != 0 || length < 0) return -EINVAL;
        long end = userRangeEnd(addr, length);
        if (end < 0) return -EINVAL;
        if (advice == MADV_DONTNEED) {
            if (!memory.isFullyMapped(addr, end)) return -ENOMEM;
            // Anonymous private memory reads as zero after MADV_DONTNEED. Mapping by mapping: what the program
            // cannot write (PROT_NONE, read-only) is left as it is, and the work is bounded by its writable memory.
            for (long at = addr; at < end; ) {
                AddressSpace.Mapping m = memory.mappingAt(at);
                long upto = Math.min(end, m.end());
                if ((m.prot() & PROT_WRITE) != 0) memory.zeroOut(at, upto - at);
                at = upto;
            }
        }
        return 0;
    }

    // ---- process ----

    private long exit(int status) {
        exited = true;
        exitStatus = status & 0xFF;
        return 0;
    }

    private long archPrctl(long code, long addr) throws MemoryFault {
        return switch ((int) code) {
            case ArchPrctl.ARCH_SET_FS -> {
                if (!dev.flicker.kvm.x86.X86.isCanonical(addr)) yield -EPERM;
                cpu.setFsBase(addr);
                fsBase = addr;
                yield 0;
            }
            case ArchPrctl.ARCH_GET_FS -> {
                memory.copyOutLong(addr, fsBase);
                yield 0;
            }
            case ArchPrctl.ARCH_SET_GS, ArchPrctl.ARCH_GET_GS -> -EINVAL;
            default -> -EINVAL;
        };
    }

    private long fsBase;

    /** Each signal's action, by number (index 0 unused). */
    private final Sigaction[] sigactions = newSigactions();
    private long sigmask;

    private static Sigaction[] newSigactions() {
        Sigaction[] actions = new Sigaction[Signals.NSIG + 1];
        java.util.Arrays.fill(actions, Sigaction.DEFAULT);
        return actions;
    }

    private long sigaction(long sig, long act, long oldact, long sigsetsize) throws MemoryFault {
        if (sig < 1 || sig > Signals.NSIG || sig == Signals.SIGKILL || sig == Signals.SIGSTOP
                || sigsetsize != Signals.SIGSET_BYTES) {
            return -EINVAL;
        }
        if (oldact != 0) copyOut(oldact, sigactions[(int) sig]);
        if (act != 0) sigactions[(int) sig] = Sigaction.unmarshal(copyIn(act, Sigaction.LAYOUT));
        return 0; // recorded, never delivered: the micro guest raises no asynchronous signals
    }

    private long sigprocmask(long oldset, long sigsetsize) throws MemoryFault {
        if (sigsetsize != Signals.SIGSET_BYTES) return -EINVAL;
        if (oldset != 0) memory.copyOutLong(oldset, sigmask);
        return 0;
    }

    private long sigaltstack(long oldss) throws MemoryFault {
        if (oldss != 0) copyOut(oldss, SignalStack.DISABLED);
        return 0;
    }

    /** The size of the stack the loader mapped, which getrlimit(RLIMIT_STACK) reports (Linux's 8 MiB until set). */
    public void setStackLimit(long bytes) {
        stackLimitBytes = bytes;
    }

    private long stackLimitBytes = 8L << 20;

    private long rlimit(long resource, long newPtr, long oldPtr) throws MemoryFault {
        if (resource < 0 || resource >= Rlimit.RLIM_NLIMITS) return -EINVAL;
        if (oldPtr != 0) {
            long cur = switch ((int) resource) {
                case Rlimit.RLIMIT_NOFILE -> FdTable.MAX_FDS;
                case Rlimit.RLIMIT_AS, Rlimit.RLIMIT_DATA -> memory.limitBytes();
                case Rlimit.RLIMIT_STACK -> stackLimitBytes;
                default -> Rlimit.RLIM_INFINITY;
            };
            copyOut(oldPtr, new Rlimit(cur, cur));
        }
        return 0;
    }

    private long schedGetaffinity(long pid, long size, long maskPtr) throws MemoryFault {
        if (size < 8 || (size & 7) != 0) return -EINVAL;
        memory.copyOutLong(maskPtr, 1); // one CPU
        return 8;
    }

    private long futex(long uaddr, long op, long val, long timeoutPtr) throws MemoryFault {
        int cmd = (int) (op & Futex.FUTEX_CMD_MASK);
        return switch (cmd) {
            case Futex.FUTEX_WAKE, Futex.FUTEX_WAKE_BITSET -> 0;
            case Futex.FUTEX_WAIT, Futex.FUTEX_WAIT_BITSET -> {
                if (memory.copyInInt(uaddr) != (int) val) yield -EAGAIN;
                // One thread: nobody can wake it. Honour a timeout; without one it waits until its deadline.
                if (timeoutPtr != 0) {
                    long slept = sleep(timeoutPtr, 0, cmd == Futex.FUTEX_WAIT_BITSET, Time.CLOCK_MONOTONIC);
                    yield slept == 0 ? -ETIMEDOUT : slept;
                }
                sleepUntil(deadlineNanos);
                yield -EINTR;
            }
            default -> -ENOSYS;
        };
    }

    // ---- time and randomness: always the host's, so a restored VM is never in the past ----

    private static long realtimeNanos() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * NANOS_PER_SECOND + now.getNano();
    }

    private long clockNanos(long clock) {
        return switch ((int) clock) {
            case Time.CLOCK_REALTIME, Time.CLOCK_REALTIME_COARSE, Time.CLOCK_REALTIME_ALARM, Time.CLOCK_TAI -> realtimeNanos();
            case Time.CLOCK_MONOTONIC, Time.CLOCK_MONOTONIC_RAW, Time.CLOCK_MONOTONIC_COARSE, Time.CLOCK_BOOTTIME,
                 Time.CLOCK_BOOTTIME_ALARM -> System.nanoTime();
            case Time.CLOCK_PROCESS_CPUTIME_ID, Time.CLOCK_THREAD_CPUTIME_ID -> cpuNanos();
            default -> -1;
        };
    }

    /**
     * CPU time of this VM's runs: the host thread's CPU clock counted only while it runs this VM. The thread
     * also runs other VMs (a pooled request thread), and they must neither show in this VM's clock nor be
     * measurable from it. Counted from this kernel's start (a boot or a restore).
     */
    private long cpuNanosOfEndedRuns, runCpuStartNanos = -1;

    private static long threadCpuNanos() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    private long cpuNanos() {
        return cpuNanosOfEndedRuns + (runCpuStartNanos < 0 ? 0 : threadCpuNanos() - runCpuStartNanos);
    }

    /** The run loop calls this when it starts running this VM on the current thread ... */
    public void runStarted() {
        runCpuStartNanos = threadCpuNanos();
    }

    /** ... and this when it stops. */
    public void runEnded() {
        if (runCpuStartNanos >= 0) cpuNanosOfEndedRuns += threadCpuNanos() - runCpuStartNanos;
        runCpuStartNanos = -1;
    }

    /** For sysinfo's uptime: this kernel's start, not the host's. */
    private final long startedNanos = System.nanoTime();

    private long clockGettime(long clock, long tsPtr) throws MemoryFault {
        long now = clockNanos(clock);
        if (now < 0) return -EINVAL;
        copyOut(tsPtr, Timespec.ofNanos(now));
        return 0;
    }

    private long clockGetres(long clock, long tsPtr) throws MemoryFault {
        if (clockNanos(clock) < 0) return -EINVAL;
        if (tsPtr != 0) copyOut(tsPtr, Timespec.ofNanos(1));
        return 0;
    }

    private long gettimeofday(long tvPtr) throws MemoryFault {
        if (tvPtr == 0) return 0;
        copyOut(tvPtr, Timeval.ofNanos(realtimeNanos()));
        return 0;
    }

    private long time(long tPtr) throws MemoryFault {
        long seconds = realtimeNanos() / NANOS_PER_SECOND;
        if (tPtr != 0) memory.copyOutLong(tPtr, seconds);
        return seconds;
    }

    /** Sleeps for the timespec at {@code reqPtr} (relative) or until it (absolute), never past the deadline. */
    private long sleep(long reqPtr, long remPtr, boolean absolute, long clock) throws MemoryFault {
        Timespec request = Timespec.unmarshal(copyIn(reqPtr, Timespec.LAYOUT));
        if (!request.valid()) return -EINVAL;
        long sec = request.seconds();
        long requested = sec > Long.MAX_VALUE / NANOS_PER_SECOND - 1 ? Long.MAX_VALUE / 2 : sec * NANOS_PER_SECOND + request.nanos();
        long duration = absolute ? requested - clockNanos(clock) : requested;
        // Compared as durations from now: nanoTime values themselves may be anywhere, and only differences are safe.
        long now = System.nanoTime();
        sleepUntil(now + Math.max(0, Math.min(duration, deadlineNanos - now)));
        return 0;
    }

    private long clockNanosleep(long clock, long flags, long reqPtr, long remPtr) throws MemoryFault {
        if (clockNanos(clock) < 0) return -EINVAL;
        return sleep(reqPtr, remPtr, (flags & Time.TIMER_ABSTIME) != 0, clock);
    }

    private static void sleepUntil(long nanoTime) {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            try {
                Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private long getrandom(long buf, long count) throws MemoryFault {
        if (count < 0) return -EINVAL;
        byte[] bytes = DeviceDescription.Random.bytes(random, count);
        memory.copyOutBytes(buf, bytes);
        return bytes.length;
    }

    private static final Utsname UTSNAME = new Utsname("Linux", "flicker", "6.1.0-flicker", "#1 SMP flicker micro guest",
            "x86_64", "(none)");

    private long uname(long ptr) throws MemoryFault {
        copyOut(ptr, UTSNAME);
        return 0;
    }

    private long sysinfo(long ptr) throws MemoryFault {
        copyOut(ptr, new Sysinfo((System.nanoTime() - startedNanos) / NANOS_PER_SECOND, memory.limitBytes(),
                memory.limitBytes() - memory.committedBytes(), 1, 1));
        return 0;
    }

    private long umask(long mask) {
        int old = umask;
        umask = (int) mask & 0777;
        return old;
    }

    // ---- state for snapshots ----

    private static final int KIND_STDIN = 0, KIND_STDOUT = 1, KIND_STDERR = 2, KIND_PATH = 3, KIND_SOCKET = 4;

    /**
     * Writes this kernel's state: working directory, umask, brk, FS base, signal actions, /tmp and the open
     * files (by path; duplicated descriptors keep sharing one open file). Memory is written by the caller.
     */
    public void writeState(java.io.DataOutputStream out) throws java.io.IOException {
        out.writeUTF(cwd);
        out.writeInt(umask);
        out.writeLong(brkStart);
        out.writeLong(brkEnd);
        out.writeLong(fsBase);
        out.writeLong(sigmask);
        for (Sigaction a : sigactions) {
            out.writeLong(a.handler());
            out.writeLong(a.flags());
            out.writeLong(a.restorer());
            out.writeLong(a.mask());
        }
        tree.tmp().writeState(out);
        java.util.IdentityHashMap<FileDescription, Integer> ids = new java.util.IdentityHashMap<>();
        java.util.List<FileDescription> unique = new java.util.ArrayList<>();
        for (int fd = 0; fd < FdTable.MAX_FDS; fd++) {
            FileDescription f = files.get(fd);
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
                throw new java.io.IOException("open file " + f.path() + " was removed while open: cannot snapshot it");
            }
            out.writeByte(kind);
            out.writeUTF(f.path());
            out.writeLong(f.offset());
            out.writeInt(f.statusFlags());
            if (f instanceof LoopbackSocket sock) {
                out.writeBoolean(sock.connection() != null);
                if (sock.connection() != null) sock.connection().writeState(out);
            }
        }
        for (int fd = 0; fd < FdTable.MAX_FDS; fd++) {
            FileDescription f = files.get(fd);
            out.writeInt(f == null ? -1 : ids.get(f));
            out.writeBoolean(f != null && files.closeOnExec(fd));
        }
    }

    /** Reads what {@link #writeState} wrote, into this freshly made kernel (whose stdin holds the event, or null). */
    public void readState(java.io.DataInputStream in) throws java.io.IOException {
        cwd = in.readUTF();
        if (!(tree.lookup(FileTree.normalize("/", cwd)) instanceof Node.Directory)) throw new java.io.IOException("bad cwd " + cwd);
        umask = in.readInt() & 0777;
        brkStart = in.readLong();
        brkEnd = in.readLong();
        if (brkEnd < brkStart || brkStart < AddressSpace.MIN_USER_VA || brkEnd > AddressSpace.MMAP_TOP) {
            throw new java.io.IOException("bad brk");
        }
        fsBase = in.readLong();
        cpu.setFsBase(fsBase);
        sigmask = in.readLong();
        for (int i = 0; i < sigactions.length; i++) {
            sigactions[i] = new Sigaction(in.readLong(), in.readLong(), in.readLong(), in.readLong());
        }
        tree.tmp().readState(in);
        int n = in.readInt();
        if (n < 0 || n > FdTable.MAX_FDS) throw new java.io.IOException("bad open-file count " + n);
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
                    if (node == null) throw new java.io.IOException("open file " + path + " is not in this bundle or /tmp");
                    yield node.open(FileTree.join(FileTree.normalize("/", path)), flags);
                }
                case KIND_SOCKET -> {
                    if (openSockets >= MAX_SOCKETS) throw new java.io.IOException("more than " + MAX_SOCKETS + " sockets");
                    openSockets++;
                    budget.charge(SOCKET_BYTES);
                    LoopbackSocket sock = newSocket(flags);
                    if (in.readBoolean()) {
                        sock.connected(runtimeApi.connect());
                        sock.connection().readState(in);
                    }
                    yield sock;
                }
                default -> throw new java.io.IOException("bad open-file kind " + kind);
            };
            if (offset < 0) throw new java.io.IOException("bad file offset");
            f.setOffset(offset);
            f.setStatusFlags(flags);
            unique[i] = f;
        }
        for (int fd = 0; fd < FdTable.MAX_FDS; fd++) {
            int id = in.readInt();
            boolean cloexec = in.readBoolean();
            if (id < -1 || id >= n) throw new java.io.IOException("bad descriptor entry");
            files.close(fd);
            if (id >= 0) files.installAt(fd, unique[id], cloexec);
        }
        for (FileDescription f : unique) f.discard(); // one no descriptor refers to gives back what it holds
        waitingForEvent = true; // snapshots are taken only inside the request for the event
    }
}
