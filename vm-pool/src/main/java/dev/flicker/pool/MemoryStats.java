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

    /** Resident and proportional memory of the mappings starting at each of {@code hostAddresses}, in KiB. */
    public record Mapping(long hostAddress, long rssKib, long pssKib, long privateDirtyKib) {}

    public static java.util.Map<Long, Mapping> mappings(java.util.Set<Long> hostAddresses) {
        java.util.Map<Long, Mapping> found = new java.util.HashMap<>();
        try {
            long current = -1, rss = 0, pss = 0;
            for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
                int dash = line.indexOf('-');
                if (dash > 0 && line.indexOf(' ') > dash && Character.digit(line.charAt(0), 16) >= 0 && !line.contains(":  ")
                        && !line.startsWith("VmFlags")) {
                    long start;
                    try {
                        start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                    } catch (NumberFormatException e) {
                        continue;
                    }
                    current = hostAddresses.contains(start) ? start : -1;
                } else if (current >= 0) {
                    if (line.startsWith("Rss:")) rss = kib(line);
                    else if (line.startsWith("Pss:")) pss = kib(line);
                    else if (line.startsWith("Private_Dirty:")) found.put(current, new Mapping(current, rss, pss, kib(line)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/smaps", e);
        }
        return found;
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
