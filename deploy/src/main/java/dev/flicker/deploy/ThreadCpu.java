package dev.flicker.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * CPU time a process has used, by thread group (a thread's name with its digits dropped: "vert.x-eventloop-thread-1"
 * and "-0" are one group) plus its child processes (the embedded PostgreSQL), in milliseconds, from {@code /proc}.
 * The difference of two readings says where a benchmark run's CPU went, whatever the code does; a thread that ends
 * between the two readings takes its time with it (the platform's threads live as long as it does).
 */
record ThreadCpu(Map<String, Double> millisByGroup) {
    /** The kernel counts CPU time in ticks of USER_HZ, which is 100 on x86-64 Linux. */
    private static final double MILLIS_PER_TICK = 10.0;

    static ThreadCpu of(long pid) {
        Map<String, Double> ms = new TreeMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks.toList()) {
                String[] stat = stat(task.resolve("stat"));
                if (stat != null) ms.merge(stat[0].replaceAll("[0-9]+", "#"), ticks(stat) * MILLIS_PER_TICK, Double::sum);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the threads of process " + pid, e);
        }
        ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(child -> {
            String[] stat = stat(Path.of("/proc", Long.toString(child.pid()), "stat"));
            if (stat != null) ms.merge("(child) " + stat[0].replaceAll("[0-9]+", "#"), ticks(stat) * MILLIS_PER_TICK, Double::sum);
        }));
        return new ThreadCpu(ms);
    }

    /** {comm, then the fields after it}; null when the thread or process has gone. */
    private static String[] stat(Path file) {
        try {
            String line = Files.readString(file);
            int open = line.indexOf('('), close = line.lastIndexOf(')');
            String[] rest = line.substring(close + 2).split(" ");
            String[] out = new String[rest.length + 1];
            out[0] = line.substring(open + 1, close);
            System.arraycopy(rest, 0, out, 1, rest.length);
            return out;
        } catch (IOException e) {
            return null;
        }
    }

    /** utime + stime: fields 14 and 15 of stat, here at 12 and 13 (comm first, then the fields from state on). */
    private static long ticks(String[] stat) {
        return Long.parseLong(stat[12]) + Long.parseLong(stat[13]);
    }

    ThreadCpu minus(ThreadCpu before) {
        Map<String, Double> ms = new TreeMap<>();
        millisByGroup.forEach((group, v) -> {
            double d = v - before.millisByGroup.getOrDefault(group, 0.0);
            if (d > 0) ms.put(group, d);
        });
        return new ThreadCpu(ms);
    }

    double totalMillis() {
        return millisByGroup.values().stream().mapToDouble(Double::doubleValue).sum();
    }

    /** One line per group, most CPU first: its milliseconds per invocation and its share. */
    String table(long invocations) {
        StringBuilder out = new StringBuilder();
        double total = totalMillis();
        millisByGroup.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed()).forEach(e ->
                out.append(String.format(java.util.Locale.ROOT, "  %-28s %8.3f ms/invocation %5.1f%%%n", e.getKey(),
                        e.getValue() / invocations, 100 * e.getValue() / total)));
        return out.toString();
    }
}
