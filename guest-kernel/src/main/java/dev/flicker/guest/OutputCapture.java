package dev.flicker.guest;

import java.io.ByteArrayOutputStream;

/** stdout or stderr of a program: kept up to a cap; what goes past it is counted, not kept. */
public final class OutputCapture {
    private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
    private final long capBytes;
    private long droppedBytes;

    public OutputCapture(long capBytes) {
        this.capBytes = capBytes;
    }

    public void write(byte[] bytes, int offset, int length) {
        long room = Math.max(0, capBytes - kept.size());
        int keep = (int) Math.min(room, length);
        kept.write(bytes, offset, keep);
        droppedBytes += length - keep;
    }

    /** True when the next write would be dropped entirely, so the caller need not copy it out of the guest. */
    public boolean full() {
        return kept.size() >= capBytes;
    }

    public void drop(long length) {
        droppedBytes += length;
    }

    public byte[] bytes() {
        return kept.toByteArray();
    }

    public long droppedBytes() {
        return droppedBytes;
    }
}
