package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.Stat;
import dev.flicker.guest.abi.Statx;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.Inode;
import dev.flicker.guest.kernel.Identity;
import dev.flicker.guest.kernel.SyscallError;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.EBADF;
import static dev.flicker.guest.abi.Errno.ENOENT;
import static dev.flicker.guest.abi.Fcntl.AT_EMPTY_PATH;
import static dev.flicker.guest.abi.Fcntl.AT_FDCWD;

/**
 * File status (gVisor's {@code sys_stat.go}): {@code struct stat} and {@code struct statx} of a path or of an open
 * description. Every file is owned by the program's user, has one link and no times.
 */
final class StatSyscalls {
    private StatSyscalls() {}

    /** The device number every file of the micro guest reports. */
    private static final long DEVICE = 0x2a;
    /** The I/O block size every file reports; {@code st_blocks} counts 512-byte units, as on Linux. */
    private static final int BLOCK_BYTES = 4096, BLOCK_UNIT_BYTES = 512;

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.STAT, "stat", "all timestamps are 0",
                (t, path, statbuf, a2, a3, a4, a5) -> newfstatat(t, AT_FDCWD, path, statbuf, 0));
        f.partial(Sys.FSTAT, "fstat", "all timestamps are 0", (t, fd, statbuf, a2, a3, a4, a5) -> fstat(t, fd, statbuf));
        f.partial(Sys.LSTAT, "lstat", "all timestamps are 0 (there are no symbolic links)",
                (t, path, statbuf, a2, a3, a4, a5) -> newfstatat(t, AT_FDCWD, path, statbuf, 0));
        f.partial(Sys.NEWFSTATAT, "newfstatat", "all timestamps are 0",
                (t, dirfd, path, statbuf, flags, a4, a5) -> newfstatat(t, dirfd, path, statbuf, flags));
        f.partial(Sys.STATX, "statx", "the mask argument is ignored; timestamps are 0",
                (t, dirfd, path, flags, mask, statxbuf, a5) -> statx(t, dirfd, path, flags, statxbuf));
    }

    private static long fstat(Task t, long fd, long statPtr) throws MemoryFault {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        t.copyOut(statPtr, stat(f.inode(), t.state().identity()));
        return 0;
    }

    /** {@code stat} relative to {@code dirfd}; with AT_EMPTY_PATH and an empty path, of {@code dirfd} itself. */
    private static long newfstatat(Task t, long dirfd, long pathPtr, long statPtr, long flags)
            throws MemoryFault, SyscallError {
        if ((flags & AT_EMPTY_PATH) != 0 && t.copyInPath(pathPtr).isEmpty()) return fstat(t, dirfd, statPtr);
        Inode node = t.tree().lookup(t.resolve(dirfd, pathPtr));
        if (node == null) return -ENOENT;
        t.copyOut(statPtr, stat(node, t.state().identity()));
        return 0;
    }

    private static long statx(Task t, long dirfd, long pathPtr, long flags, long statxPtr) throws MemoryFault, SyscallError {
        Inode node;
        if ((flags & AT_EMPTY_PATH) != 0 && t.copyInPath(pathPtr).isEmpty()) {
            FileDescription f = t.fds().get(dirfd);
            if (f == null) return -EBADF;
            node = f.inode();
        } else {
            node = t.tree().lookup(t.resolve(dirfd, pathPtr));
            if (node == null) return -ENOENT;
        }
        Identity owner = t.state().identity();
        t.copyOut(statxPtr, new Statx(Statx.STATX_BASIC_STATS, BLOCK_BYTES, 1, owner.uid(), owner.gid(), node.mode(),
                node.ino(), node.size(), blocks(node.size())));
        return 0;
    }

    private static Stat stat(Inode inode, Identity owner) {
        return new Stat(DEVICE, inode.ino(), 1, inode.mode(), owner.uid(), owner.gid(), inode.size(), BLOCK_BYTES,
                blocks(inode.size()));
    }

    private static long blocks(long sizeBytes) {
        return (sizeBytes + BLOCK_UNIT_BYTES - 1) / BLOCK_UNIT_BYTES;
    }
}
