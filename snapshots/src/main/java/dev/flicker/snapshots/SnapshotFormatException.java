package dev.flicker.snapshots;

/** A snapshot file that is not what it claims to be: bad magic, unknown version, wrong checksum, truncated... */
public class SnapshotFormatException extends RuntimeException {
    public SnapshotFormatException(String message) {
        super(message);
    }

    public SnapshotFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
