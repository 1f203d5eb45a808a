package dev.flicker.guest.fs;

/**
 * An open file description: the node, the offset and the status flags, shared by duplicated descriptors
 * as in Linux. A directory's offset counts the entries listed so far.
 */
public class OpenFile {
    public static final int O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_EXCL = 0200,
            O_TRUNC = 01000, O_APPEND = 02000, O_NONBLOCK = 04000, O_DIRECTORY = 0200000, O_CLOEXEC = 02000000;
    /** Every flag bit Linux's open knows on x86-64, up to O_TMPFILE (include/linux/fcntl.h). */
    public static final int VALID_OPEN_FLAGS = 037777777;

    public final Node node;
    public final String path;
    public long offset;
    public int statusFlags;
    /**
     * Where a directory listing stands: the last name it returned, valid while {@code offset} is still
     * {@code listedOffset} (an lseek or a restore moves it, and the listing then counts its way back).
     */
    public String listedName;
    public long listedOffset = -1;

    public OpenFile(Node node, String path, int statusFlags) {
        this.node = node;
        this.path = path;
        this.statusFlags = statusFlags;
    }

    public boolean readable() {
        return (statusFlags & O_ACCMODE) != O_WRONLY;
    }

    public boolean writable() {
        return (statusFlags & O_ACCMODE) != O_RDONLY;
    }
}
