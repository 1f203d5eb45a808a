package dev.flicker.deploy;

import dev.flicker.guest.CpuLease;
import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVm;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.Kvm;
import dev.flicker.kvm.Vcpu;
import dev.flicker.kvm.Vm;
import dev.flicker.kvm.sys.KvmApi;
import dev.flicker.kvm.x86.DescriptorTable;
import dev.flicker.kvm.x86.Regs;
import dev.flicker.kvm.x86.Segment;
import dev.flicker.kvm.x86.Sregs;
import dev.flicker.kvm.x86.X86;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code flicker bench engine|snapshot|api|hostile|python}: the benchmarks, each figure printed as
 * {@code FIGURE name value unit}. {@code engine} measures the engine's figures with its anchor in the same run (a C
 * host-call loop, QEMU's microvm booting the same guest image); {@code snapshot} is {@link SnapshotBench}, {@code api}
 * is {@link ApiBench}, {@code python} is {@link PythonBench}.
 */
@Command(name = "bench", subcommands = {Bench.Engine.class, Bench.Snapshot.class, Bench.Api.class, Bench.Hostile.class,
        Bench.Python.class},
        synopsisSubcommandLabel = "(engine | snapshot | api | hostile | python)",
        description = "Run a benchmark from the checkout; figures are printed as FIGURE name value unit (results in BENCHMARKS.md).")
final class Bench {
    private static final Path PROGRAMS = Path.of("guest-kernel/target/test-programs/musl");
    private static final Path IMAGE = Path.of("guest-kernel/target/classes/dev/flicker/guest/guest.elf");

    @Command(name = "engine", description = "VM cycle, host calls against a C loop, vCPU bring-up, QEMU's microvm side by side, density.")
    static final class Engine implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            return engine();
        }
    }

    @Command(name = "snapshot", description = "Snapshot restore against a fresh start, pool hits, density, reclamation, throughput.")
    static final class Snapshot implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            return SnapshotBench.main();
        }
    }

    @Command(name = "api", description = "Invoke over HTTP against the packaged platform, driven by wrk at concurrency 1, 8 and 64.")
    static final class Api implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Parameters(arity = "0..1", paramLabel = "SECONDS", defaultValue = "60", description = "How long each wrk run lasts (default: ${DEFAULT-VALUE}).")
        int seconds;

        @Override
        public Integer call() throws Exception {
            if (seconds < 1) throw new ParameterException(spec.commandLine(), "SECONDS must be at least 1, was " + seconds);
            return ApiBench.main(seconds);
        }
    }

    @Command(name = "hostile", description = "A function's latency alone and beside a hostile tenant (Runtime API flood, /tmp flood, "
            + "spinning init), and the platform's heap meanwhile.")
    static final class Hostile implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Parameters(arity = "0..1", paramLabel = "SECONDS", defaultValue = "20",
                description = "How long the victim runs alone, and as long beside the attack, in " + HOSTILE_ROUNDS + " alternating rounds (default: ${DEFAULT-VALUE}).")
        int seconds;

        @Override
        public Integer call() throws Exception {
            if (seconds < 1) throw new ParameterException(spec.commandLine(), "SECONDS must be at least 1, was " + seconds);
            return hostile(seconds);
        }
    }

    @Command(name = "python", description = "The python3.11 runtime: cold start and host calls before the first /next "
            + "(with the vDSO and without), invoke over HTTP from a fresh clone each, PSS per VM, invocations per second.")
    static final class Python implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Parameters(arity = "0..1", paramLabel = "SECONDS", defaultValue = "20",
                description = "How long the throughput and HTTP runs last (default: ${DEFAULT-VALUE}).")
        int seconds;

        @Override
        public Integer call() throws Exception {
            if (seconds < 1) throw new ParameterException(spec.commandLine(), "SECONDS must be at least 1, was " + seconds);
            return PythonBench.main(seconds);
        }
    }

    /** Solo and attacked phases alternate this many times in {@code flicker bench hostile}. */
    static final int HOSTILE_ROUNDS = 4;

    /** {@code flicker bench hostile}: see {@link HostileTenants}; the platform as ./flicker up runs it. */
    static int hostile(int seconds) throws Exception {
        try (PackagedPlatform platform = PackagedPlatform.start(Map.of(), List.of())) {
            HostileTenants.Outcome o = HostileTenants.run(platform.client(), Path.of("guest-kernel/target/test-programs"),
                    java.time.Duration.ofSeconds(seconds), HOSTILE_ROUNDS, 20, java.time.Duration.ofSeconds(60));
            double[] solo = sorted(o.soloMillis()), attacked = sorted(o.attackedMillis());
            figure("hostile.victim_p50_solo_ms", percentile(solo, 0.50), "ms");
            figure("hostile.victim_p99_solo_ms", percentile(solo, 0.99), "ms");
            figure("hostile.victim_p50_attacked_ms", percentile(attacked, 0.50), "ms");
            figure("hostile.victim_p99_attacked_ms", percentile(attacked, 0.99), "ms");
            figure("hostile.victim_p99_ratio", percentile(attacked, 0.99) / percentile(solo, 0.99), "x");
            double[] queued = sorted(o.attackedQueuedMillis()); // the platform's records: the wait for a run slot
            if (queued.length > 0) {
                figure("hostile.victim_queued_p50_attacked_ms", percentile(queued, 0.50), "ms");
                figure("hostile.victim_queued_p99_attacked_ms", percentile(queued, 0.99), "ms");
            }
            figure("hostile.victim_failures", o.victimFailures().size(), "calls");
            figure("hostile.attack_invocations", o.attacks().size(), "calls");
            figure("hostile.attack_timed_out", o.attacks().stream().filter(a -> a.errorType().equals("Sandbox.Timedout")).count(), "calls");
            o.attacks().stream().filter(a -> !a.errorType().equals("Sandbox.Timedout")).limit(5)
                    .forEach(a -> System.err.println("flicker bench: an attack ended otherwise: " + a));
            figure("hostile.attack_longest_ms", o.attacks().stream().mapToLong(HostileTenants.AttackInvocation::millis).max().orElse(0), "ms");
            figure("hostile.init_rounds", o.initRounds().size(), "rounds");
            figure("hostile.heap_before_mib", o.heapBeforeKib() / 1024.0, "MiB");
            figure("hostile.heap_peak_mib", o.heapPeakKib() / 1024.0, "MiB");
            return o.victimFailures().isEmpty() ? 0 : 1;
        }
    }

    static int engine() throws Exception {
        if (!Files.isRegularFile(PROGRAMS.resolve("exit0"))) {
            System.err.println("flicker bench: test programs are missing in " + PROGRAMS + ": run ./flicker bench from the checkout (it builds them)");
            return 1;
        }
        figure("engine.host_cores", Runtime.getRuntime().availableProcessors(), "cores");
        figure("engine.kvm_is_pvm", Kvm.isPvm() ? 1 : 0, "bool");
        try (Kvm kvm = Kvm.open(); MicroVmRunner runner = new MicroVmRunner(kvm); Bundle bundle = Bundle.open(PROGRAMS)) {
            vmCycle(runner, bundle);
            hostCall(runner, bundle);
            preemption(runner, bundle);
            vcpuBringup(kvm);
            try (MicroVmRunner platform = new MicroVmRunner(kvm, true)) {
                sideBySide(runner, platform, bundle);
            }
            density(runner, bundle);
        }
        return 0;
    }

    static void figure(String name, double value, String unit) {
        System.out.println(String.format(Locale.ROOT, "FIGURE %s %.3f %s", name, value, unit));
    }

    static double percentile(double[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))];
    }

    static double[] sorted(List<Double> values) {
        double[] a = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a;
    }

    /** Create -> the program's first instruction -> exit -> everything released, 1,000 times in a warm JVM. */
    static void vmCycle(MicroVmRunner runner, Bundle bundle) {
        RunRequest exit0 = RunRequest.of(bundle, "exit0");
        for (int i = 0; i < 300; i++) check(runner.run(exit0));
        List<Double> millis = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            long t0 = System.nanoTime();
            check(runner.run(exit0));
            millis.add((System.nanoTime() - t0) / 1e6);
        }
        double[] s = sorted(millis);
        figure("engine.vm_cycle_p50_ms", percentile(s, 0.5), "ms");
        figure("engine.vm_cycle_p99_ms", percentile(s, 0.99), "ms");
    }

    /**
     * What preempting a running VM costs, from which the scheduler's time slice is chosen (docs/decisions.md, decision 29):
     * the same fixed spin runs alone, then while its CPU lease is asked back every 200 us (a kick out of KVM_RUN, the
     * exit, the lease given back and taken again, KVM_RUN entered again). The extra time over the number of preemptions
     * is the cost of one; the time from the kick to the run loop giving the lease back is how long a kicked VM keeps
     * its CPU. Medians of five rounds, alone and preempted in turn.
     */
    static void preemption(MicroVmRunner runner, Bundle bundle) throws InterruptedException {
        RunRequest spin = RunRequest.of(bundle, "spin").withArgs("300");
        spinMillis(runner, spin, CpuLease.DEDICATED); // warm-up
        List<Double> alone = new ArrayList<>(), preempted = new ArrayList<>(), costs = new ArrayList<>();
        List<Double> kickToExit = new ArrayList<>();
        for (int round = 0; round < 5; round++) {
            double a = spinMillis(runner, spin, CpuLease.DEDICATED);
            PeriodicLease lease = new PeriodicLease(200_000);
            double p;
            try {
                p = spinMillis(runner, spin, lease);
            } finally {
                lease.stop();
            }
            alone.add(a);
            preempted.add(p);
            costs.add((p - a) * 1000 / Math.max(1, lease.preemptions));
            for (int i = 0; i < lease.preemptions; i++) kickToExit.add(lease.kickToReleaseNanos[i] / 1e3);
        }
        figure("engine.spin_alone_p50_ms", percentile(sorted(alone), 0.5), "ms");
        figure("engine.spin_preempted_every_200us_p50_ms", percentile(sorted(preempted), 0.5), "ms");
        figure("engine.preemption_cost_p50_us", percentile(sorted(costs), 0.5), "us");
        double[] k = sorted(kickToExit);
        figure("engine.preemption_kick_to_exit_p50_us", percentile(k, 0.5), "us");
        figure("engine.preemption_kick_to_exit_p99_us", percentile(k, 0.99), "us");
    }

    static double spinMillis(MicroVmRunner runner, RunRequest spin, CpuLease lease) {
        try (MicroVm vm = runner.boot(spin)) {
            long t0 = System.nanoTime();
            RunResult r = vm.run(lease);
            long took = System.nanoTime() - t0;
            check(r);
            return took / 1e6;
        }
    }

    /** A CPU lease asked back every {@code periodNanos} by a thread of its own; once given back it is taken again at once. */
    static final class PeriodicLease implements CpuLease {
        final long[] kickToReleaseNanos = new long[1 << 20];
        volatile int preemptions;
        private volatile boolean preempted, stopped;
        private volatile Runnable kick;
        private volatile long kickedAt;
        private final Thread ticker;

        PeriodicLease(long periodNanos) {
            ticker = Thread.ofPlatform().daemon().name("bench-preempt").start(() -> {
                while (!stopped) {
                    java.util.concurrent.locks.LockSupport.parkNanos(periodNanos);
                    Runnable k = kick;
                    if (k != null && !preempted) {
                        kickedAt = System.nanoTime();
                        preempted = true;
                        k.run();
                    }
                }
            });
        }

        void stop() throws InterruptedException {
            stopped = true;
            ticker.join();
        }

        @Override
        public void running(Runnable kick) {
            this.kick = kick;
        }

        @Override
        public boolean preempted() {
            return preempted;
        }

        @Override
        public void release() {
            int n = preemptions;
            if (n < kickToReleaseNanos.length) kickToReleaseNanos[n] = System.nanoTime() - kickedAt;
            preemptions = n + 1;
        }

        @Override
        public boolean acquire(long deadlineNanos) {
            preempted = false;
            return true;
        }
    }

    /** Time between consecutive host calls of a getpid loop, here and in the C anchor. */
    static void hostCall(MicroVmRunner runner, Bundle bundle) throws IOException, InterruptedException {
        int calls = 20000;
        long[] times = new long[calls + 64];
        RunRequest loop = RunRequest.of(bundle, "getpid_loop").withArgs(Integer.toString(calls));
        check(runner.run(loop, times)); // warm-up
        RunResult r = check(runner.run(loop, times));
        int n = (int) Math.min(r.exits().hostCalls(), times.length);
        // The loop's calls are the last `calls` before exit; skip libc's start-up calls.
        List<Double> micros = new ArrayList<>();
        for (int i = n - calls; i < n - 1; i++) micros.add((times[i + 1] - times[i]) / 1e3);
        double[] s = sorted(micros);
        figure("engine.hostcall_p50_us", percentile(s, 0.5), "us");
        figure("engine.hostcall_p99_us", percentile(s, 0.99), "us");

        Path c = Path.of("deploy/src/main/c/hostcall_baseline.c"), bin = Path.of(".flicker/hostcall_baseline");
        Files.createDirectories(bin.getParent());
        exec(List.of("gcc", "-O2", "-o", bin.toString(), c.toString()));
        String[] out = exec(List.of(bin.toString())).trim().split(" ");
        double cP50 = Double.parseDouble(out[0]);
        figure("engine.hostcall_c_baseline_p50_us", cP50, "us");
        figure("engine.hostcall_c_baseline_p99_us", Double.parseDouble(out[1]), "us");
        figure("engine.hostcall_ratio_vs_c", percentile(s, 0.5) / cP50, "x");
    }

    /** vCPU create + configure until all are ready, parallel (one thread each) vs sequential. */
    static void vcpuBringup(Kvm kvm) {
        for (int count : new int[] {1, 2, 4, 8}) {
            double par = bringupMedianMicros(kvm, count, true), seq = bringupMedianMicros(kvm, count, false);
            figure("engine.vcpu_bringup_parallel_" + count + "_us", par, "us");
            figure("engine.vcpu_bringup_sequential_" + count + "_us", seq, "us");
            figure("engine.vcpu_bringup_speedup_" + count, seq / par, "x");
        }
    }

    static double bringupMedianMicros(Kvm kvm, int count, boolean parallel) {
        List<Double> micros = new ArrayList<>();
        var cpuid = kvm.supportedCpuid();
        for (int i = 0; i < 60; i++) {
            try (Vm vm = kvm.createVm()) {
                vm.addMemory(GuestMemory.anonymous(GuestAddress.of(0), 2 << 20));
                long t0 = System.nanoTime();
                vm.createVcpus(count, v -> configure(v, cpuid), parallel);
                if (i >= 10) micros.add((System.nanoTime() - t0) / 1e3);
            }
        }
        return percentile(sorted(micros), 0.5);
    }

    /** What every vCPU of a 64-bit guest needs before it can run: CPUID, long-mode sregs, MSRs, registers. */
    static void configure(Vcpu v, dev.flicker.kvm.Cpuid cpuid) {
        v.setCpuid(cpuid);
        Sregs s = v.getSregs().withSegments(Segment.code64(0x23, 3), Segment.data(0x1b, 3), Segment.tss(0x28, 0, 103))
                .withTables(new DescriptorTable(0x1000, 55), new DescriptorTable(0x2000, 511))
                .withLongMode(0x10000, X86.CR0_PE | X86.CR0_PG | X86.CR0_ET | X86.CR0_NE, X86.CR4_PAE | X86.CR4_OSFXSR,
                        X86.EFER_LME | X86.EFER_LMA | X86.EFER_SCE);
        v.setSregs(s);
        v.setMsrs(new int[] {X86.MSR_STAR, X86.MSR_LSTAR, X86.MSR_SFMASK}, new long[] {0x0010000800000000L, 0x5000, 0x47700});
        v.setRegs(new Regs().set(KvmApi.REG_RIP, 0x400000).set(KvmApi.REG_RFLAGS, 2));
    }

    /** QEMU microvm booting the same image to an immediate exit, vs a VM in this running JVM, vs a fresh flicker process. */
    static void sideBySide(MicroVmRunner runner, MicroVmRunner platform, Bundle bundle) throws IOException, InterruptedException {
        List<String> qemu = List.of("qemu-system-x86_64", "-M", "microvm", "-enable-kvm", "-cpu", "host", "-m", "32M",
                "-nodefaults", "-no-user-config", "-nographic", "-display", "none", "-kernel", IMAGE.toString(),
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> flickerProcess = List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), "dev.flicker.deploy.Main", "run", PROGRAMS.toString(), "exit0");
        List<Double> q = new ArrayList<>(), f = new ArrayList<>(), fr = new ArrayList<>(), p = new ArrayList<>();
        RunRequest exit0 = RunRequest.of(bundle, "exit0");
        for (int i = 0; i < 23; i++) {
            q.add(processMillis(qemu, 1)); // isa-debug-exit with 0 exits with status 1
            p.add(processMillis(flickerProcess, 0));
            Thread.sleep(5); // let the last background teardown finish, as between invocations
            long t0 = System.nanoTime();
            check(platform.run(exit0));
            f.add((System.nanoTime() - t0) / 1e6);
            t0 = System.nanoTime();
            check(runner.run(exit0));
            fr.add((System.nanoTime() - t0) / 1e6);
        }
        double qemuP50 = percentile(sorted(q.subList(3, q.size())), 0.5);
        double vmP50 = percentile(sorted(f.subList(3, f.size())), 0.5);
        double procP50 = percentile(sorted(p.subList(3, p.size())), 0.5);
        figure("engine.qemu_microvm_p50_ms", qemuP50, "ms");
        figure("engine.flicker_vm_p50_ms", vmP50, "ms");
        figure("engine.flicker_vm_with_teardown_p50_ms", percentile(sorted(fr.subList(3, fr.size())), 0.5), "ms");
        figure("engine.flicker_process_p50_ms", procP50, "ms");
        figure("engine.flicker_vm_vs_qemu_ratio", vmP50 / qemuP50, "x");
        figure("engine.flicker_process_vs_qemu_ratio", procP50 / qemuP50, "x");
    }

    static double processMillis(List<String> command, int expectedStatus) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process proc = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        int status = proc.waitFor();
        double ms = (System.nanoTime() - t0) / 1e6;
        if (status != expectedStatus) throw new IllegalStateException(String.join(" ", command) + " exited " + status);
        return ms;
    }

    /** Peak RSS of this JVM with 100 micro VMs alive at once, each holding a 16 MiB touched heap. */
    static void density(MicroVmRunner runner, Bundle bundle) throws Exception {
        long before = statusKib("VmRSS");
        int vms = 100;
        CountDownLatch done = new CountDownLatch(vms);
        List<Thread> threads = new ArrayList<>();
        RunRequest hold = RunRequest.of(bundle, "hold").withArgs("16", "3000").withLimits(Limits.DEFAULT.withMemoryMib(64));
        for (int i = 0; i < vms; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    check(runner.run(hold));
                } finally {
                    done.countDown();
                }
            }));
        }
        long alive = 0;
        while (done.getCount() > 0) { // sample while they run; the figure is the highest RSS seen
            alive = Math.max(alive, statusKib("VmRSS"));
            Thread.sleep(50);
        }
        for (Thread t : threads) t.join();
        figure("engine.rss_before_100_vms_mib", before / 1024.0, "MiB");
        figure("engine.rss_100_vms_mib", alive / 1024.0, "MiB");
        figure("engine.rss_per_vm_mib", (alive - before) / 1024.0 / vms, "MiB");
    }

    static long statusKib(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) return Long.parseLong(line.replaceAll("\\D", ""));
        }
        throw new IllegalStateException(field + " not in /proc/self/status");
    }

    static RunResult check(RunResult r) {
        if (r.outcome() != RunResult.Outcome.EXITED || r.exitStatus() != 0) throw new IllegalStateException("bench run failed: " + r);
        return r;
    }

    static String exec(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
        return out;
    }
}
