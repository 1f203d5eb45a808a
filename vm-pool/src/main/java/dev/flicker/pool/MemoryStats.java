package dev.flicker.pool;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Memory of this process as the kernel counts it ({@code /proc/self/smaps_rollup}, {@code /proc/meminfo}),
 * in KiB: resident, proportional (shared pages divided among their users), shared and private, and what the
 * host has left. VMs cloned from one snapshot share its clean pages, so their PSS is far below their RSS.
 */
public record MemoryStats(long rssKib, long pssKib, long sharedCleanKib, long privateDirtyKib, long hostAvailableKib) {

    public static MemoryStats read() {
        try {
            long rss = 0, pss = 0, shared = 0, dirty = 0;
            for (String line : Files.readAllLines(Path.of("/proc/self/smaps_rollup"))) {
                if (line.startsWith("Rss:")) rss = kib(line);
                else if (line.startsWith("Pss:")) pss = kib(line);
                else if (line.startsWith("Shared_Clean:")) shared = kib(line);
                else if (line.startsWith("Private_Dirty:")) dirty = kib(line);
            }
            return new MemoryStats(rss, pss, shared, dirty, readHostAvailableKib());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/smaps_rollup", e);
        }
    }

    static long readHostAvailableKib() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith("MemAvailable:")) return kib(line);
        }
        return Long.MAX_VALUE;
    }

    private static long kib(String line) {
        return Long.parseLong(line.replaceAll("\\D", ""));
    }
}
