package dev.flicker.guest.abi;

/** File types and permission bits of {@code st_mode} (linux/stat.h), and directory entry types (dirent.h). */
public final class FileMode {
    private FileMode() {}

    public static final int S_IFMT = 0170000, S_IFSOCK = 0140000, S_IFREG = 0100000, S_IFDIR = 0040000,
            S_IFCHR = 0020000, S_IFIFO = 0010000;
    /** Execute permission for owner, group and others. */
    public static final int S_IXUGO = 0111;

    public static final int DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_REG = 8, DT_SOCK = 12;

    /** The {@code d_type} of a file of mode {@code mode}. */
    public static int direntType(int mode) {
        return switch (mode & S_IFMT) {
            case S_IFDIR -> DT_DIR;
            case S_IFCHR -> DT_CHR;
            case S_IFIFO -> DT_FIFO;
            case S_IFSOCK -> DT_SOCK;
            case S_IFREG -> DT_REG;
            default -> DT_UNKNOWN;
        };
    }
}
