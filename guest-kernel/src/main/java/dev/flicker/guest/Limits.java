package dev.flicker.guest;

/**
 * What one program run may use. Memory is the program's committed memory (every page it can reach:
 * text, data, heap, stack, mappings), checked when it maps; past it, mapping fails with ENOMEM. What the host
 * holds for the VM besides (its /tmp, its Runtime API connections) has a budget derived from the memory
 * setting, {@link #hostBudgetBytes()}; /tmp alone is also limited to {@code tmpBytes}.
 */
public record Limits(int memoryMib, long timeoutMillis, long outputCapBytes, long tmpBytes, long stackBytes) {
    public static final Limits DEFAULT = new Limits(128, 10_000, 1 << 20, 16 << 20, 1 << 20);

    public Limits {
        if (memoryMib < 4 || memoryMib > 3072) throw new IllegalArgumentException("memoryMib must be 4..3072, was " + memoryMib);
        if (timeoutMillis <= 0) throw new IllegalArgumentException("timeoutMillis must be positive, was " + timeoutMillis);
        if (outputCapBytes < 0 || tmpBytes < 0) throw new IllegalArgumentException("caps must not be negative");
        if (stackBytes < 16384 || stackBytes % 4096 != 0) throw new IllegalArgumentException("stackBytes must be whole pages >= 16 KiB");
    }

    /**
     * The VM's host-memory budget ({@link HostMemoryBudget}): a quarter of its memory setting, at least 32 MiB,
     * which holds the default 16 MiB /tmp and a 6 MB Runtime API request with room to spare.
     */
    public long hostBudgetBytes() {
        return Math.max(32L << 20, ((long) memoryMib << 20) / 4);
    }

    public Limits withMemoryMib(int mib) {
        return new Limits(mib, timeoutMillis, outputCapBytes, tmpBytes, stackBytes);
    }

    public Limits withTimeoutMillis(long millis) {
        return new Limits(memoryMib, millis, outputCapBytes, tmpBytes, stackBytes);
    }

    public Limits withOutputCapBytes(long bytes) {
        return new Limits(memoryMib, timeoutMillis, bytes, tmpBytes, stackBytes);
    }
}
