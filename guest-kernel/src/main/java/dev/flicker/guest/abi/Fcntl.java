package dev.flicker.guest.abi;

/**
 * Open flags, {@code fcntl} commands, the {@code *at} calls' directory and flags, {@code lseek}'s whence and
 * {@code access}'s modes, as x86-64 Linux defines them (asm-generic/fcntl.h, linux/fcntl.h, linux/fs.h, unistd.h).
 */
public final class Fcntl {
    private Fcntl() {}

    public static final int O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_EXCL = 0200,
            O_TRUNC = 01000, O_APPEND = 02000, O_NONBLOCK = 04000, O_DIRECTORY = 0200000, O_CLOEXEC = 02000000;
    /** Every flag bit Linux's open knows on x86-64, up to O_TMPFILE (include/linux/fcntl.h). */
    public static final int VALID_OPEN_FLAGS = 037777777;

    /** The directory a relative path of an {@code *at} call starts from when it is not a descriptor. */
    public static final int AT_FDCWD = -100;
    public static final int AT_REMOVEDIR = 0x200, AT_EMPTY_PATH = 0x1000;

    public static final int F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_DUPFD_CLOEXEC = 1030;
    /** Record locks: POSIX ones (owned by the process) and open file description ones (linux/fcntl.h). */
    public static final int F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7, F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38;
    public static final int FD_CLOEXEC = 1;

    public static final int SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2;

    public static final int X_OK = 1, W_OK = 2, R_OK = 4;
}
