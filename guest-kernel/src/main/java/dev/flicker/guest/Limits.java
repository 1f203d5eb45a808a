package dev.flicker.guest;

/**
 * What one program run may use. Memory is the program's committed memory (every page it can reach:
 * text, data, heap, stack, mappings), checked when it maps; past it, mapping fails with ENOMEM.
 */
public record Limits(int memoryMib, long timeoutMillis, long outputCapBytes, long tmpBytes, long stackBytes) {
    public static final Limits DEFAULT = new Limits(128, 10_000, 1 << 20, 16 << 20, 1 << 20);

    public Limits {
        if (memoryMib < 4 || memoryMib > 3072) throw new IllegalArgumentException("memoryMib must be 4..3072, was " + memoryMib);
        if (timeoutMillis <= 0) throw new IllegalArgumentException("timeoutMillis must be positive, was " + timeoutMillis);
        if (outputCapBytes < 0 || tmpBytes < 0) throw new IllegalArgumentException("caps must not be negative");
        if (stackBytes < 16384 || stackBytes % 4096 != 0) throw new IllegalArgumentException("stackBytes must be whole pages >= 16 KiB");
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
