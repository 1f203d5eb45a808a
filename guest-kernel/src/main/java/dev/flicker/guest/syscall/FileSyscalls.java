package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.Fcntl;
import dev.flicker.guest.abi.FileMode;
import dev.flicker.guest.abi.Flock;
import dev.flicker.guest.abi.Ioctl;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.Node;
import dev.flicker.guest.fs.TmpFs;
import dev.flicker.guest.kernel.FdTable;
import dev.flicker.guest.kernel.SyscallError;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import static dev.flicker.guest.abi.Errno.*;
import static dev.flicker.guest.abi.Fcntl.AT_FDCWD;
import static dev.flicker.guest.abi.Fcntl.AT_REMOVEDIR;

/**
 * Files and descriptors (gVisor's {@code sys_file.go}, {@code sys_lseek.go}, {@code sys_getdents.go}): opening,
 * closing and duplicating descriptors, their flags, seeking and listing, and the calls on paths. Paths are
 * resolved lexically by the task; only {@code /tmp} can change.
 */
final class FileSyscalls {
    private FileSyscalls() {}

    /** The one symbolic link of the guest's tree, which {@code readlink} answers. */
    private static final String PROC_SELF_EXE = "/proc/self/exe";

    static void register(SyscallTable.Builder.Family f) {
        f.supported(Sys.OPEN, "open", (t, path, flags, mode, a3, a4, a5) -> openat(t, AT_FDCWD, path, flags));
        f.partial(Sys.OPENAT, "openat", "mode is ignored: new files are 0644",
                (t, dirfd, path, flags, mode, a4, a5) -> openat(t, dirfd, path, flags));
        f.supported(Sys.CLOSE, "close", (t, fd, a1, a2, a3, a4, a5) -> t.fds().close(fd) ? 0 : -EBADF);
        f.partial(Sys.LSEEK, "lseek", "SEEK_DATA and SEEK_HOLE are EINVAL",
                (t, fd, offset, whence, a3, a4, a5) -> lseek(t, fd, offset, whence));
        f.supported(Sys.DUP, "dup", (t, fd, a1, a2, a3, a4, a5) -> dup(t, fd, 0, false));
        f.supported(Sys.DUP2, "dup2", (t, oldFd, newFd, a2, a3, a4, a5) ->
                oldFd == newFd ? (t.fds().get(oldFd) != null ? oldFd : -EBADF) : dup3(t, oldFd, newFd, 0));
        f.supported(Sys.DUP3, "dup3", (t, oldFd, newFd, flags, a3, a4, a5) ->
                oldFd == newFd ? -EINVAL : dup3(t, oldFd, newFd, flags));
        f.partial(Sys.FCNTL, "fcntl", "record locks are always granted (one process holds them all); other commands EINVAL",
                (t, fd, cmd, arg, a3, a4, a5) -> fcntl(t, fd, cmd, arg));
        f.partial(Sys.IOCTL, "ioctl", "FIONBIO, FIOCLEX and FIONCLEX; otherwise no descriptor is a terminal: ENOTTY",
                (t, fd, request, arg, a3, a4, a5) -> ioctl(t, fd, request, arg));
        f.supported(Sys.FSYNC, "fsync", (t, fd, a1, a2, a3, a4, a5) -> fsync(t, fd));
        f.supported(Sys.FDATASYNC, "fdatasync", (t, fd, a1, a2, a3, a4, a5) -> fsync(t, fd));
        f.partial(Sys.FTRUNCATE, "ftruncate", "only /tmp files",
                (t, fd, length, a2, a3, a4, a5) -> ftruncate(t, fd, length));
        f.partial(Sys.GETDENTS64, "getdents64", "d_off is the entry's index + 1",
                (t, fd, buf, count, a3, a4, a5) -> getdents64(t, fd, buf, count));
        f.supported(Sys.GETCWD, "getcwd", (t, buf, size, a2, a3, a4, a5) -> getcwd(t, buf, size));
        f.supported(Sys.CHDIR, "chdir", (t, path, a1, a2, a3, a4, a5) -> chdir(t, path));
        f.supported(Sys.MKDIR, "mkdir", (t, path, mode, a2, a3, a4, a5) -> mkdirat(t, AT_FDCWD, path));
        f.partial(Sys.MKDIRAT, "mkdirat", "mode is ignored", (t, dirfd, path, mode, a3, a4, a5) -> mkdirat(t, dirfd, path));
        f.partial(Sys.UNLINK, "unlink", "no snapshot while a removed /tmp file is open",
                (t, path, a1, a2, a3, a4, a5) -> unlinkat(t, AT_FDCWD, path, 0));
        f.supported(Sys.UNLINKAT, "unlinkat", (t, dirfd, path, flags, a3, a4, a5) -> unlinkat(t, dirfd, path, flags));
        f.supported(Sys.READLINK, "readlink", (t, path, buf, size, a3, a4, a5) -> readlinkat(t, AT_FDCWD, path, buf, size));
        f.supported(Sys.READLINKAT, "readlinkat", (t, dirfd, path, buf, size, a4, a5) -> readlinkat(t, dirfd, path, buf, size));
        f.supported(Sys.ACCESS, "access", (t, path, mode, a2, a3, a4, a5) -> faccessat(t, AT_FDCWD, path, mode));
        f.partial(Sys.FACCESSAT, "faccessat", "flags are ignored", (t, dirfd, path, mode, a3, a4, a5) -> faccessat(t, dirfd, path, mode));
        f.partial(Sys.FACCESSAT2, "faccessat2", "flags are ignored", (t, dirfd, path, mode, a3, a4, a5) -> faccessat(t, dirfd, path, mode));
        f.partial(Sys.UMASK, "umask", "the mask is kept but never applied", (t, mask, a1, a2, a3, a4, a5) -> umask(t, mask));
    }

    private static long openat(Task t, long dirfd, long pathPtr, long flags) throws MemoryFault, SyscallError {
        List<String> parts = t.resolve(dirfd, pathPtr);
        // Bits Linux's open does not know are ignored, as there (VALID_OPEN_FLAGS): F_GETFL never shows them.
        int fl = (int) flags & Fcntl.VALID_OPEN_FLAGS;
        FileTree tree = t.tree();
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
        int fd = t.fds().install(f, 0, (fl & Fcntl.O_CLOEXEC) != 0);
        return fd < 0 ? -EMFILE : fd;
    }

    private static long lseek(Task t, long fd, long offset, long whence) {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        if (!f.seekable()) return -ESPIPE;
        return f.seek(offset, (int) whence);
    }

    private static long dup(Task t, long fd, long from, boolean cloexec) {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        if (from < 0 || from >= FdTable.MAX_FDS) return -EINVAL;
        int n = t.fds().install(f, (int) from, cloexec);
        return n < 0 ? -EMFILE : n;
    }

    private static long dup3(Task t, long oldFd, long newFd, long flags) {
        FileDescription f = t.fds().get(oldFd);
        if (f == null) return -EBADF;
        if (newFd < 0 || newFd >= FdTable.MAX_FDS) return -EBADF;
        if ((flags & ~Fcntl.O_CLOEXEC) != 0) return -EINVAL;
        t.fds().installAt((int) newFd, f, (flags & Fcntl.O_CLOEXEC) != 0);
        return newFd;
    }

    private static long fcntl(Task t, long fd, long cmd, long arg) throws MemoryFault {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        return switch ((int) cmd) {
            case Fcntl.F_DUPFD -> dup(t, fd, arg, false);
            case Fcntl.F_DUPFD_CLOEXEC -> dup(t, fd, arg, true);
            case Fcntl.F_GETFD -> t.fds().closeOnExec((int) fd) ? Fcntl.FD_CLOEXEC : 0;
            case Fcntl.F_SETFD -> {
                t.fds().setCloseOnExec((int) fd, (arg & Fcntl.FD_CLOEXEC) != 0);
                yield 0;
            }
            case Fcntl.F_GETFL -> f.statusFlags();
            case Fcntl.F_SETFL -> { // only O_APPEND and O_NONBLOCK change
                int changeable = Fcntl.O_APPEND | Fcntl.O_NONBLOCK;
                f.setStatusFlags((f.statusFlags() & ~changeable) | ((int) arg & changeable));
                yield 0;
            }
            case Fcntl.F_GETLK, Fcntl.F_SETLK, Fcntl.F_SETLKW, Fcntl.F_OFD_GETLK, Fcntl.F_OFD_SETLK, Fcntl.F_OFD_SETLKW ->
                    recordLock(t, f, (int) cmd, arg);
            default -> -EINVAL;
        };
    }

    /**
     * {@code fcntl}'s record locks (SQLite's, say). The program is the only process, and it cannot conflict with its
     * own POSIX locks, so every lock is granted at once and {@code F_GETLK} reports the range free ({@code F_UNLCK}).
     * Open-file-description locks could conflict between two descriptions of one file; they are granted too, which
     * a single-threaded program cannot tell apart (it would deadlock on Linux). The arguments are checked as Linux
     * checks them.
     */
    private static long recordLock(Task t, FileDescription f, int cmd, long arg) throws MemoryFault {
        Flock lock = Flock.unmarshal(t.copyIn(arg, Flock.LAYOUT));
        boolean ofd = cmd == Fcntl.F_OFD_GETLK || cmd == Fcntl.F_OFD_SETLK || cmd == Fcntl.F_OFD_SETLKW;
        if (ofd && lock.pid() != 0) return -EINVAL;
        if (lock.whence() > Fcntl.SEEK_END) return -EINVAL;
        boolean get = cmd == Fcntl.F_GETLK || cmd == Fcntl.F_OFD_GETLK;
        switch (lock.type()) {
            case Flock.F_RDLCK -> {
                if (!get && !f.readable()) return -EBADF;
            }
            case Flock.F_WRLCK -> {
                if (!get && !f.writable()) return -EBADF;
            }
            case Flock.F_UNLCK -> {
                if (get) return -EINVAL;
            }
            default -> {
                return -EINVAL;
            }
        }
        if (get) t.copyOutShort(arg + Flock.TYPE_OFFSET, (short) Flock.F_UNLCK);
        return 0;
    }

    /**
     * The requests every descriptor takes, handled before the file's own (as Linux's {@code do_vfs_ioctl}):
     * {@code FIONBIO} sets or clears {@code O_NONBLOCK} from the int at {@code arg}, {@code FIOCLEX} and
     * {@code FIONCLEX} set and clear close-on-exec.
     */
    private static long ioctl(Task t, long fd, long request, long arg) throws MemoryFault {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        switch ((int) request) {
            case Ioctl.FIOCLEX -> t.fds().setCloseOnExec((int) fd, true);
            case Ioctl.FIONCLEX -> t.fds().setCloseOnExec((int) fd, false);
            case Ioctl.FIONBIO -> {
                boolean on = t.copyInInt(arg) != 0;
                f.setStatusFlags(on ? f.statusFlags() | Fcntl.O_NONBLOCK : f.statusFlags() & ~Fcntl.O_NONBLOCK);
            }
            default -> {
                return f.ioctl(request, arg);
            }
        }
        return 0;
    }

    /**
     * {@code fsync} and {@code fdatasync}: files live in memory (the bundle and the layer never change, {@code /tmp}
     * is a tmpfs), so there is nothing to write back; 0 for a file or directory, EINVAL for anything else (a stream,
     * a device, a socket), as Linux answers for what cannot be synced.
     */
    private static long fsync(Task t, long fd) {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        int type = f.inode().mode() & FileMode.S_IFMT;
        return type == FileMode.S_IFREG || type == FileMode.S_IFDIR ? 0 : -EINVAL;
    }

    /** Only /tmp files can change size; the bundle is read-only and opened so. */
    private static long ftruncate(Task t, long fd, long length) {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        if (length < 0 || !f.writable()) return -EINVAL;
        return f.truncate(length);
    }

    private static long getdents64(Task t, long fd, long buf, long count) throws MemoryFault {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        // count is an unsigned int; one call lists at most what one read moves.
        return f.readdir(t.mm(), buf, Math.min(count & 0xffff_ffffL, ReadWriteSyscalls.MAX_IO_BYTES));
    }

    private static long getcwd(Task t, long buf, long size) throws MemoryFault {
        byte[] b = (t.state().cwd() + "\0").getBytes(StandardCharsets.UTF_8);
        if (size < b.length) return -ERANGE;
        t.copyOutBytes(buf, b);
        return b.length;
    }

    private static long chdir(Task t, long pathPtr) throws MemoryFault, SyscallError {
        List<String> parts = t.resolve(AT_FDCWD, pathPtr);
        Node n = t.tree().lookup(parts);
        if (n == null) return -ENOENT;
        if (!(n instanceof Node.Directory)) return -ENOTDIR;
        t.state().setCwd(FileTree.join(parts));
        return 0;
    }

    private static long readlinkat(Task t, long dirfd, long pathPtr, long buf, long size) throws MemoryFault, SyscallError {
        if (size <= 0) return -EINVAL;
        if (t.copyInPath(pathPtr).equals(PROC_SELF_EXE)) {
            byte[] b = t.state().executablePath().getBytes(StandardCharsets.UTF_8);
            int n = (int) Math.min(b.length, size);
            t.copyOutBytes(buf, Arrays.copyOf(b, n));
            return n;
        }
        // No symbolic links exist in the guest's tree.
        return t.tree().lookup(t.resolve(dirfd, pathPtr)) == null ? -ENOENT : -EINVAL;
    }

    private static long faccessat(Task t, long dirfd, long pathPtr, long mode) throws MemoryFault, SyscallError {
        List<String> parts = t.resolve(dirfd, pathPtr);
        Node n = t.tree().lookup(parts);
        if (n == null) return -ENOENT;
        boolean writableTree = !parts.isEmpty() && (parts.getFirst().equals("tmp") || parts.getFirst().equals("dev"));
        if ((mode & Fcntl.W_OK) != 0 && !writableTree) return -EROFS;
        if ((mode & Fcntl.X_OK) != 0 && (n.mode() & FileMode.S_IXUGO) == 0) return -EACCES;
        return 0;
    }

    private static long mkdirat(Task t, long dirfd, long pathPtr) throws MemoryFault, SyscallError {
        List<String> parts = t.resolve(dirfd, pathPtr);
        FileTree tree = t.tree();
        if (tree.lookup(parts) != null) return -EEXIST;
        if (parts.isEmpty()) return -EEXIST;
        Node parent = tree.lookup(parts.subList(0, parts.size() - 1));
        if (parent == null) return -ENOENT;
        if (!(parent instanceof TmpFs.TmpDirectory dir)) return parent instanceof Node.Directory ? -EROFS : -ENOTDIR;
        return dir.createDirectory(parts.getLast()) == null ? -ENOSPC : 0;
    }

    /** A removed /tmp file keeps its bytes until its last descriptor is closed (TmpFs counts its descriptions). */
    private static long unlinkat(Task t, long dirfd, long pathPtr, long flags) throws MemoryFault, SyscallError {
        List<String> parts = t.resolve(dirfd, pathPtr);
        FileTree tree = t.tree();
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
    }

    private static long umask(Task t, long mask) {
        int old = t.state().umask();
        t.state().setUmask((int) mask);
        return old;
    }
}
