package dev.flicker.guest.fs;

import static dev.flicker.guest.abi.Fcntl.O_ACCMODE;
import static dev.flicker.guest.abi.Fcntl.O_RDONLY;
import static dev.flicker.guest.abi.Fcntl.O_WRONLY;

/**
 * An open file description: the node, the offset and the status flags, shared by duplicated descriptors
 * as in Linux. A directory's offset counts the entries listed so far.
 */
public class OpenFile {
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
