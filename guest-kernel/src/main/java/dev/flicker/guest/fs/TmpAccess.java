package dev.flicker.guest.fs;

/** Access to a /tmp file's bytes for the system calls that read, write and map it. */
public final class TmpAccess {
    private TmpAccess() {}

    /** The backing array; only the first {@code size()} bytes are the file. */
    public static byte[] data(Node.TmpFile file) {
        return file.data;
    }
}
