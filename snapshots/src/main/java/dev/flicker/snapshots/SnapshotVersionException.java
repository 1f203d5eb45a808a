package dev.flicker.snapshots;

/**
 * A snapshot written in another format version: not damaged, but stale for this Flicker. The store treats it as
 * gone (a new snapshot is taken), where any other {@link SnapshotFormatException} is an error.
 */
public final class SnapshotVersionException extends SnapshotFormatException {
    public SnapshotVersionException(String message) {
        super(message);
    }
}
