package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.Iovec;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.EAGAIN;
import static dev.flicker.guest.abi.Errno.EBADF;
import static dev.flicker.guest.abi.Errno.EINTR;
import static dev.flicker.guest.abi.Errno.EINVAL;
import static dev.flicker.guest.abi.Errno.ESPIPE;

/**
 * Reads and writes (gVisor's {@code sys_read_write.go}): the descriptor, its access mode and the count are checked
 * here, the transfer is the description's. One call moves at most {@link #MAX_IO_BYTES}, so that the run's
 * deadline, checked between calls, is never far.
 */
final class ReadWriteSyscalls {
    private ReadWriteSyscalls() {}

    /** The most one call moves (read, write, readv/writev in all, getdents64): past it, a short count. */
    static final int MAX_IO_BYTES = 1 << 20;

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.READ, "read", "random devices give at most 64 KiB per call",
                (t, fd, buf, count, a3, a4, a5) -> read(t, fd, buf, count));
        f.partial(Sys.WRITE, "write", "output past the capture cap is dropped but reported as written",
                (t, fd, buf, count, a3, a4, a5) -> write(t, fd, buf, count));
        f.supported(Sys.PREAD64, "pread64", (t, fd, buf, count, offset, a4, a5) -> positioned(t, fd, buf, count, offset, false));
        f.supported(Sys.PWRITE64, "pwrite64", (t, fd, buf, count, offset, a4, a5) -> positioned(t, fd, buf, count, offset, true));
        f.supported(Sys.READV, "readv", (t, fd, iov, iovcnt, a3, a4, a5) -> vectored(t, fd, iov, iovcnt, false));
        f.supported(Sys.WRITEV, "writev", (t, fd, iov, iovcnt, a3, a4, a5) -> vectored(t, fd, iov, iovcnt, true));
    }

    /** read (and recvfrom): what the description gives, at most {@link #MAX_IO_BYTES}. */
    static long read(Task t, long fd, long buf, long count) throws MemoryFault {
        FileDescription f = t.fds().get(fd);
        if (f == null || !f.readable()) return -EBADF;
        int n = bytesOfOneCall(count);
        return n <= 0 ? n : blockIfWouldBlock(t, f, f.read(t.mm(), buf, n));
    }

    /** write (and sendto): what the description takes, at most {@link #MAX_IO_BYTES}. */
    static long write(Task t, long fd, long buf, long count) throws MemoryFault {
        FileDescription f = t.fds().get(fd);
        if (f == null || !f.writable()) return -EBADF;
        int n = bytesOfOneCall(count);
        return n <= 0 ? n : blockIfWouldBlock(t, f, f.write(t.mm(), buf, n));
    }

    /**
     * pread64 and pwrite64: as on Linux, a negative offset is EINVAL first, and a stream or socket cannot seek
     * (ESPIPE) whatever its access mode.
     */
    private static long positioned(Task t, long fd, long buf, long count, long offset, boolean isWrite) throws MemoryFault {
        if (offset < 0) return -EINVAL;
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        if (!f.seekable()) return -ESPIPE;
        if (isWrite ? !f.writable() : !f.readable()) return -EBADF;
        int n = bytesOfOneCall(count);
        if (n <= 0) return n;
        return isWrite ? f.pwrite(t.mm(), buf, n, offset) : f.pread(t.mm(), buf, n, offset);
    }

    /** What one call moves of {@code count}: at most {@link #MAX_IO_BYTES}, or -EINVAL for a negative count. */
    private static int bytesOfOneCall(long count) {
        return count < 0 ? -EINVAL : (int) Math.min(count, MAX_IO_BYTES);
    }

    /**
     * readv and writev: up to UIO_MAXIOV vectors, one at a time; a short transfer ends the call, and so does
     * {@link #MAX_IO_BYTES} in all, like one read or write.
     */
    private static long vectored(Task t, long fd, long iov, long iovcnt, boolean isWrite) throws MemoryFault {
        if (iovcnt < 0 || iovcnt > Iovec.UIO_MAXIOV) return -EINVAL;
        long total = 0;
        for (int i = 0; i < iovcnt && total < MAX_IO_BYTES; i++) {
            Iovec v = Iovec.unmarshal(t.copyIn(iov + Iovec.LAYOUT.byteSize() * i, Iovec.LAYOUT));
            if (v.length() < 0) return -EINVAL;
            if (v.length() == 0) continue;
            long want = Math.min(v.length(), MAX_IO_BYTES - total);
            long r = isWrite ? write(t, fd, v.base(), want) : read(t, fd, v.base(), want);
            if (r < 0) return total > 0 ? total : r;
            total += r;
            if (r < v.length() || total >= MAX_IO_BYTES) break;
        }
        return total;
    }

    /**
     * A transfer that would block (EAGAIN) on a blocking description waits, as on Linux, for what only this
     * single-threaded program could bring about (room made by its own reads), which it cannot while it waits: until
     * its deadline. The run ends there, so the EINTR is never seen.
     */
    private static long blockIfWouldBlock(Task t, FileDescription f, long result) {
        if (result != -EAGAIN || f.nonBlocking()) return result;
        t.blockUntilDeadline();
        return -EINTR;
    }
}
