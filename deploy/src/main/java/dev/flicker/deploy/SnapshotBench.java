package dev.flicker.deploy;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.kvm.Kvm;
import dev.flicker.lambda.runtime.RuntimeApi;
import dev.flicker.pool.FunctionVersion;
import dev.flicker.pool.Invocation;
import dev.flicker.pool.MemoryStats;
import dev.flicker.pool.StartPath;
import dev.flicker.pool.VmPool;
import dev.flicker.snapshots.SnapshotStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static dev.flicker.deploy.Bench.figure;
import static dev.flicker.deploy.Bench.percentile;
import static dev.flicker.deploy.Bench.sorted;

/**
 * {@code flicker bench snapshot}: restore-per-invocation latency against a fresh start of the same function,
 * pool hits against restores on demand, density of clones of one snapshot, reclamation after a burst, and
 * sustained invocations per second with a fresh VM each.
 */
final class SnapshotBench {
    private static final Path PROGRAMS = Path.of("guest-kernel/target/test-programs/musl");

    private SnapshotBench() {}

    static int main() throws Exception {
        Path storeDir = Files.createTempDirectory("flicker-bench-snapshots");
        try (Kvm kvm = Kvm.open(); MicroVmRunner runner = new MicroVmRunner(kvm); Bundle bundle = Bundle.open(PROGRAMS);
             VmPool pool = new VmPool(runner, new SnapshotStore(storeDir), VmPool.Policy.DEFAULT);
             // A pool that never restores ahead: every lease is a restore on demand.
             VmPool cold = new VmPool(runner, new SnapshotStore(storeDir), new VmPool.Policy(0, 30_000, 0, 20, 100, 1_000, VmPool.Policy.DEFAULT.precopyMaxPages()))) {
            FunctionVersion trivial = fn(bundle, "trivial", 0, 16);
            FunctionVersion heap64 = fn(bundle, "heap64", 64, 128);
            FunctionVersion heap64Write = new FunctionVersion("heap64-write", bundle, "snapfn", List.of("64", "write"),
                    Map.of(), Limits.DEFAULT.withMemoryMib(128));
            for (VmPool p : List.of(pool, cold)) {
                p.prepare(trivial);
                p.prepare(heap64);
                p.prepare(heap64Write);
            }
            restoreVsFresh(cold, trivial, "", 1000);
            restoreVsFresh(cold, heap64, "_64mib", 100);
            restoreVsFresh(cold, heap64Write, "_64mib_write", 30);
            hitVsOnDemand(pool, trivial);
            density(cold, trivial, 100);
            density(cold, trivial, 1000);
            int fit = liveVmsTheOpenFileLimitAllows();
            if (fit >= 10_000) {
                density(cold, trivial, 10_000);
            } else {
                System.err.println("flicker bench: 10,000 live VMs need two open files each, and this process may open "
                        + openFileLimit() + " in all (the hard limit here; raising it needs CAP_SYS_RESOURCE): measuring " + fit);
                density(cold, trivial, fit);
            }
            reclamation(cold, trivial);
            throughput(pool, trivial, 60);
        } finally {
            try (var paths = Files.walk(storeDir)) {
                for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
        return 0;
    }

    /** An invocation's event: the ARN comes from whoever invokes, as on Lambda. */
    static RuntimeApi.Event event(byte[] payload) {
        return RuntimeApi.Event.of(payload, "arn:aws:lambda:local:000000000000:function:snapfn", System.currentTimeMillis() + 60_000);
    }

    static FunctionVersion fn(Bundle bundle, String key, int heapMib, int memoryMib) {
        return new FunctionVersion(key, bundle, "snapfn", List.of(Integer.toString(heapMib)), Map.of(),
                Limits.DEFAULT.withMemoryMib(memoryMib));
    }

    static Invocation check(Invocation inv) {
        if (!inv.result().exitedWith(0)) throw new IllegalStateException("bench invocation failed: " + inv.result());
        return inv;
    }

    /** Restore → event delivered → response (VM released off the path), vs booting the function from scratch. */
    static void restoreVsFresh(VmPool pool, FunctionVersion fn, String suffix, int runs) throws InterruptedException {
        byte[] payload = "{\"n\":1}".getBytes();
        List<Double> restore = new ArrayList<>(), fresh = new ArrayList<>();
        for (int i = 0; i < runs + 20; i++) {
            pool.awaitTeardown();
            long t0 = System.nanoTime();
            check(pool.invoke(fn, event(payload)));
            if (i >= 20) restore.add((System.nanoTime() - t0) / 1e6);
        }
        for (int i = 0; i < Math.min(runs, 200) + 5; i++) {
            pool.awaitTeardown();
            long t0 = System.nanoTime();
            check(pool.invokeFresh(fn, event(payload)));
            if (i >= 5) fresh.add((System.nanoTime() - t0) / 1e6);
        }
        double[] r = sorted(restore), f = sorted(fresh);
        figure("snapshot.restore_invoke" + suffix + "_p50_ms", percentile(r, 0.5), "ms");
        figure("snapshot.restore_invoke" + suffix + "_p99_ms", percentile(r, 0.99), "ms");
        figure("snapshot.fresh_start" + suffix + "_p50_ms", percentile(f, 0.5), "ms");
        figure("snapshot.fresh_start" + suffix + "_p99_ms", percentile(f, 0.99), "ms");
        figure("snapshot.restore_vs_fresh" + suffix + "_ratio", percentile(r, 0.5) / percentile(f, 0.5), "x");
    }

    /** Steady arrivals: invocations that found a ready VM vs those that restored one while waiting. */
    static void hitVsOnDemand(VmPool pool, FunctionVersion fn) throws InterruptedException {
        List<Double> hit = new ArrayList<>(), onDemand = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            long t0 = System.nanoTime();
            Invocation inv = check(pool.invoke(fn, event("e".getBytes())));
            double ms = (System.nanoTime() - t0) / 1e6;
            (inv.startPath() == StartPath.POOL_HIT ? hit : onDemand).add(ms);
            Thread.sleep(3); // about 150 arrivals per second
        }
        figure("pool.hit_count", hit.size(), "invocations");
        figure("pool.restore_on_demand_count", onDemand.size(), "invocations");
        if (!hit.isEmpty()) {
            figure("pool.hit_p50_ms", percentile(sorted(hit), 0.5), "ms");
            figure("pool.hit_p99_ms", percentile(sorted(hit), 0.99), "ms");
        }
        if (!onDemand.isEmpty()) {
            figure("pool.restore_on_demand_p50_ms", percentile(sorted(onDemand), 0.5), "ms");
            figure("pool.restore_on_demand_p99_ms", percentile(sorted(onDemand), 0.99), "ms");
        }
    }

    /**
     * N live VMs restored from one snapshot, each waiting for its event: PSS of this process and host memory, and the
     * kernel's own memory per VM by kind, from {@code /proc/meminfo} (KVM's and PVM's structures are slab and vmalloc
     * memory; shadow or nested page tables are SecPageTables; the process's own page tables PageTables).
     */
    static void density(VmPool pool, FunctionVersion fn, int n) throws InterruptedException {
        LiveClones clones = LiveClones.measure(pool, fn, n);
        MemoryStats before = clones.before(), with = clones.with();
        for (String kind : KERNEL_MEMORY) {
            long kib = clones.kernelWith().getOrDefault(kind, 0L) - clones.kernelBefore().getOrDefault(kind, 0L);
            figure("pool.kernel_" + kind.toLowerCase(java.util.Locale.ROOT) + "_per_vm_" + n + "_kib", kib / (double) n, "KiB");
        }
        figure("pool.pss_" + n + "_vms_mib", with.pssKib() / 1024.0, "MiB");
        figure("pool.pss_per_vm_" + n + "_kib", (with.pssKib() - before.pssKib()) / (double) n, "KiB");
        figure("pool.rss_" + n + "_vms_mib", with.rssKib() / 1024.0, "MiB");
        figure("pool.host_memory_used_by_" + n + "_vms_mib", (before.hostAvailableKib() - with.hostAvailableKib()) / 1024.0, "MiB");
        figure("pool.host_memory_left_with_" + n + "_vms_mib", with.hostAvailableKib() / 1024.0, "MiB");
    }

    /** Memory with no VM alive, and with {@code n} live clones of the snapshot waiting for their event (released after). */
    record LiveClones(MemoryStats before, MemoryStats with, Map<String, Long> kernelBefore, Map<String, Long> kernelWith) {
        static LiveClones measure(VmPool pool, FunctionVersion fn, int n) throws InterruptedException {
            pool.awaitTeardown();
            System.gc();
            Thread.sleep(300);
            MemoryStats before = pool.memory();
            Map<String, Long> kernelBefore = kernelMemory();
            List<VmPool.Lease> live = new ArrayList<>(n);
            for (int i = 0; i < n; i++) live.add(pool.lease(fn));
            MemoryStats with = pool.memory();
            Map<String, Long> kernelWith = kernelMemory();
            for (VmPool.Lease l : live) l.release();
            pool.awaitTeardown();
            return new LiveClones(before, with, kernelBefore, kernelWith);
        }
    }

    /** Each live VM holds two open files (the VM's and its vCPU's); what the process has open now stays open. */
    static int liveVmsTheOpenFileLimitAllows() throws java.io.IOException {
        long open;
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            open = fds.count();
        }
        long spare = openFileLimit() - open - 512; // the JVM, the snapshot files, teardown in flight
        return (int) Math.max(0, Math.min(Integer.MAX_VALUE, spare / 2 / 100 * 100));
    }

    /** This process's soft limit of open files ({@code /proc/self/limits}). */
    static long openFileLimit() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
            }
        }
        return 1024;
    }

    /** The kinds of the kernel's own memory in {@code /proc/meminfo} that a VM adds to. */
    static final List<String> KERNEL_MEMORY = List.of("SUnreclaim", "SReclaimable", "VmallocUsed", "PageTables", "SecPageTables", "KernelStack");

    static Map<String, Long> kernelMemory() {
        Map<String, Long> kib = new java.util.HashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                int colon = line.indexOf(':');
                if (colon > 0 && KERNEL_MEMORY.contains(line.substring(0, colon))) {
                    kib.put(line.substring(0, colon), Long.parseLong(line.substring(colon + 1).replaceAll("\\D", "")));
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return kib;
    }

    /**
     * RSS before, at the peak of, and 5 s after a burst of 1,000 invocations whose VMs are all alive at once.
     * The first burst of a process also grows what stays (JIT code, GC tables, malloc arenas); it is reported
     * apart, and the figure of record is the second burst, as a running platform sees it.
     */
    static void reclamation(VmPool pool, FunctionVersion fn) throws Exception {
        for (String burst : List.of("_first", "")) {
            pool.awaitTeardown();
            System.gc();
            Thread.sleep(1000);
            long before = pool.memory().rssKib();
            AtomicLong peak = new AtomicLong(before);
            Thread sampler = Thread.ofPlatform().start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    peak.accumulateAndGet(MemoryStats.read().rssKib(), Math::max);
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            List<VmPool.Lease> leases = new ArrayList<>();
            for (int i = 0; i < 1000; i++) leases.add(pool.lease(fn)); // all alive at once: the peak
            for (VmPool.Lease l : leases) check(l.invoke(event("b".getBytes())));
            leases.clear();
            pool.awaitTeardown();
            Thread.sleep(5000);
            sampler.interrupt();
            sampler.join();
            long after = pool.memory().rssKib();
            figure("pool.rss_before" + burst + "_burst_mib", before / 1024.0, "MiB");
            figure("pool.rss_peak" + burst + "_burst_mib", peak.get() / 1024.0, "MiB");
            figure("pool.rss_after" + burst + "_burst_mib", after / 1024.0, "MiB");
            figure("pool.rss_after" + burst + "_burst_ratio", after / (double) before, "x");
        }
    }

    /** Invocations per second, a fresh VM each, two callers (one per core), sustained. */
    static void throughput(VmPool pool, FunctionVersion fn, int seconds) throws Exception {
        AtomicLong done = new AtomicLong(), failed = new AtomicLong();
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<Thread> callers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            callers.add(Thread.ofPlatform().start(() -> {
                while (System.nanoTime() < end) {
                    Invocation inv = pool.invoke(fn, event("t".getBytes()));
                    if (inv.result().exitedWith(0)) done.incrementAndGet();
                    else if (failed.incrementAndGet() <= 3) System.err.println("flicker bench: an invocation failed: " + inv.result());
                }
            }));
        }
        for (Thread t : callers) t.join();
        figure("pool.invocations_per_s", done.get() / (double) seconds, "1/s");
        figure("pool.invocation_errors", failed.get(), "invocations");
    }
}
