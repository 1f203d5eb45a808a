package dev.flicker.guest.fs;

import dev.flicker.guest.abi.Fcntl;
import dev.flicker.guest.abi.PollFd;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.EBADF;
import static dev.flicker.guest.abi.Errno.EINVAL;
import static dev.flicker.guest.abi.Errno.ENODEV;
import static dev.flicker.guest.abi.Errno.ENOTDIR;
import static dev.flicker.guest.abi.Errno.ENOTTY;

/**
 * An open file description (Linux's {@code struct file}, gVisor's {@code vfs.FileDescription}): what descriptors
 * refer to, shared by duplicated ones as on Linux, with the status flags, the file offset and the behaviour of
 * its type of file. The system calls check the descriptor, the access mode and the counts, then ask the
 * description; each type overrides the operations it has, and one it lacks answers as Linux answers for a file
 * without that operation. A new type of file (a pipe, an eventfd, an epoll instance) is a new subclass.
 *
 * <p>Results are a value or {@code -errno}. An operation that would block answers {@code -EAGAIN}, and the
 * system call blocks if the description is blocking; one that can only go on once the host has given the program
 * its event answers {@link #WAIT_FOR_EVENT}. Guest memory is only reached through the {@link AddressSpace}'s
 * copy-in and copy-out. Counted references (one per descriptor) tell when the last descriptor closed: then
 * {@link #release} gives back what the description holds.
 */
public abstract class FileDescription {
    /**
     * Not an errno the program sees: the call cannot go on until the host delivers the program's event (its read of
     * stdin, or the Runtime API's answer to {@code /next}). The run stops there, which is the snapshot point or the
     * end of an invocation, and the same call is made again once the event is there, as Linux restarts a call
     * after {@code -ERESTARTSYS}, whose value it borrows.
     */
    public static final long WAIT_FOR_EVENT = -512;

    private final String path;
    private int statusFlags;
    private long offset;
    private int references;

    protected FileDescription(String path, int statusFlags) {
        this.path = path;
        this.statusFlags = statusFlags;
    }

    /** The path it was opened by: a directory's is the base of {@code *at} calls relative to it. */
    public final String path() {
        return path;
    }

    public abstract Inode inode();

    public final int statusFlags() {
        return statusFlags;
    }

    public final void setStatusFlags(int flags) {
        statusFlags = flags;
    }

    public boolean readable() {
        return (statusFlags & Fcntl.O_ACCMODE) != Fcntl.O_WRONLY;
    }

    public boolean writable() {
        return (statusFlags & Fcntl.O_ACCMODE) != Fcntl.O_RDONLY;
    }

    public final boolean nonBlocking() {
        return (statusFlags & Fcntl.O_NONBLOCK) != 0;
    }

    /** The file offset: where {@code read} and {@code write} go on; a directory's counts the entries listed. */
    public final long offset() {
        return offset;
    }

    public final void setOffset(long offset) {
        this.offset = offset;
    }

    /** False for a stream or a socket: {@code lseek}, {@code pread64} and {@code pwrite64} are then ESPIPE. */
    public boolean seekable() {
        return true;
    }

    /** {@code read}: at most {@code count} (more than 0) bytes at the file offset into guest memory at {@code buf}. */
    public long read(AddressSpace mm, long buf, int count) throws MemoryFault {
        long n = readAt(mm, buf, count, offset);
        if (n > 0) offset += n;
        return n;
    }

    /** {@code pread64}: as {@link #read}, at {@code position}, leaving the file offset. */
    public long pread(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
        return readAt(mm, buf, count, position);
    }

    /** How many of {@code count} bytes at {@code position} a file of {@code size} bytes holds (none past its end). */
    protected static long bytesAt(long size, long position, long count) {
        return Math.min(Math.max(0, size - position), count);
    }

    /** Reads at {@code position}: what a readable type implements. */
    protected long readAt(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
        return -EINVAL;
    }

    /** {@code write}: at the file offset, or at the end with {@code O_APPEND}; the offset moves past what was written. */
    public long write(AddressSpace mm, long buf, int count) throws MemoryFault {
        long at = (statusFlags & Fcntl.O_APPEND) != 0 ? inode().size() : offset;
        long n = writeAt(mm, buf, count, at);
        if (n > 0) offset = at + n;
        return n;
    }

    /** {@code pwrite64}: as {@link #write}, at {@code position}, leaving the file offset. */
    public long pwrite(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
        return writeAt(mm, buf, count, position);
    }

    /** Writes at {@code position}: what a writable type implements. */
    protected long writeAt(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
        return -EBADF;
    }

    /** {@code lseek}: a new offset from the start, the current offset or the end; EINVAL when it would not fit. */
    public long seek(long offset, int whence) {
        long base = switch (whence) {
            case Fcntl.SEEK_SET -> 0;
            case Fcntl.SEEK_CUR -> this.offset;
            case Fcntl.SEEK_END -> inode().size();
            default -> Long.MIN_VALUE;
        };
        if (base == Long.MIN_VALUE) return -EINVAL;
        long target;
        try {
            target = Math.addExact(base, offset);
        } catch (ArithmeticException overflow) {
            return -EINVAL; // Linux: a resulting offset that does not fit
        }
        if (target < 0) return -EINVAL;
        this.offset = target;
        return target;
    }

    /** {@code getdents64}: directory entries into at most {@code room} bytes at {@code buf}. */
    public long readdir(AddressSpace mm, long buf, long room) throws MemoryFault {
        return -ENOTDIR;
    }

    /** {@code ftruncate} to {@code length} (not negative), on a description open for writing. */
    public long truncate(long length) {
        return -EINVAL;
    }

    /** {@code ioctl}: no file of the micro guest is a terminal. */
    public long ioctl(long request, long arg) {
        return -ENOTTY;
    }

    /** Which of {@code events} ({@code POLLIN}, {@code POLLOUT}) would not block now. */
    public int readiness(int events) {
        return events & (PollFd.POLLIN | PollFd.POLLOUT);
    }

    /** For {@code poll}: nothing can become ready here until the host gives the program its event. */
    public boolean waitsForEvent() {
        return false;
    }

    /** True when {@code mmap} can map this file; a device, a directory or a stream is ENODEV. */
    public boolean mappable() {
        return false;
    }

    /**
     * Copies the file's bytes from {@code fileOffset} into the fresh mapping at {@code start}, at most
     * {@code length}: a private mapping is a copy taken at {@code mmap}. 0, or {@code -errno}.
     */
    public long copyIntoMapping(AddressSpace mm, long start, long fileOffset, long length) throws MemoryFault {
        return -ENODEV;
    }

    /**
     * For a read-only mapping of this file: the guest-physical address of its byte {@code fileOffset} among the
     * pages every VM shares (a runtime layer's file), or -1 when it is not shared and is copied instead (a bundle's
     * or {@code /tmp} file; also a layer file that changed on the host, whose copy then answers EIO).
     */
    public long sharedGpa(long fileOffset) {
        return -1;
    }

    /** Gives back what the description holds, once no descriptor refers to it any more. */
    protected void release() {
    }

    /** One more descriptor refers to this description. */
    public final void incRef() {
        references++;
    }

    /** One descriptor less; the last one gone {@linkplain #release releases} the description. */
    public final void decRef() {
        if (--references == 0) release();
    }

    /** True while a descriptor refers to this description. */
    public final boolean referenced() {
        return references > 0;
    }

    /** Releases a description that no descriptor refers to: its opener could not install it. */
    public final void discard() {
        if (references == 0) release();
    }
}
