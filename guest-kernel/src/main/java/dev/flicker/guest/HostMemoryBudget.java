package dev.flicker.guest;

/**
 * The host memory (JVM heap) one VM may make the host hold for it, outside its guest memory: its {@code /tmp}
 * (file bytes and every entry's name and bookkeeping), its Runtime API connections (bytes received and not yet
 * parsed, request bodies being received, answers not yet read) and the answers its runtime posted. Whatever
 * the program does, these stay under {@link #limitBytes()}; past it the system call fails the way Linux
 * fails when memory runs out ({@code ENOSPC} for {@code /tmp}, {@code ENOMEM} for a socket), never with a
 * host {@link OutOfMemoryError}. The limit comes from the VM's memory setting ({@link Limits#hostBudgetBytes()}).
 *
 * <p>Counts are capacities of the arrays the host allocates plus fixed estimates per object, so they are an
 * upper bound of what the VM costs, not an exact heap measurement. Used by one thread at a time, like its VM.
 */
public final class HostMemoryBudget {
    private final long limitBytes;
    private long usedBytes;
    private long peakBytes;

    public HostMemoryBudget(long limitBytes) {
        if (limitBytes < 0) throw new IllegalArgumentException("limitBytes must not be negative, was " + limitBytes);
        this.limitBytes = limitBytes;
    }

    /** Counts {@code bytes} if they fit under the limit; false, having counted nothing, if they do not. */
    public boolean tryCharge(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative charge " + bytes);
        if (bytes > limitBytes - usedBytes) return false;
        add(bytes);
        return true;
    }

    /**
     * Counts {@code bytes} even past the limit: for what the host itself produces and has bounded already (the
     * event it delivers, a reply of the Runtime API). Later {@link #tryCharge} calls fail until it is released.
     */
    public void charge(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative charge " + bytes);
        add(bytes);
    }

    public void release(long bytes) {
        if (bytes < 0 || bytes > usedBytes) {
            throw new IllegalStateException("releasing " + bytes + " bytes of " + usedBytes + " counted");
        }
        usedBytes -= bytes;
    }

    private void add(long bytes) {
        usedBytes += bytes;
        peakBytes = Math.max(peakBytes, usedBytes);
    }

    public long limitBytes() {
        return limitBytes;
    }

    public long usedBytes() {
        return usedBytes;
    }

    /** What {@link #tryCharge} would still accept. */
    public long availableBytes() {
        return Math.max(0, limitBytes - usedBytes);
    }

    /** The most this VM made the host hold at once. */
    public long peakBytes() {
        return peakBytes;
    }
}
