package dev.flicker.deploy;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVm;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.Layer;
import dev.flicker.kvm.Kvm;
import dev.flicker.lambda.runtime.LambdaRuntime;
import dev.flicker.lambda.runtime.RuntimeApi;
import dev.flicker.lambda.runtime.RuntimeLayers;
import dev.flicker.pool.FunctionVersion;
import dev.flicker.pool.Invocation;
import dev.flicker.pool.MemoryStats;
import dev.flicker.pool.VmPool;
import dev.flicker.snapshots.SnapshotStore;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.services.lambda.model.State;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static dev.flicker.deploy.Bench.figure;
import static dev.flicker.deploy.Bench.percentile;
import static dev.flicker.deploy.Bench.sorted;

/**
 * {@code flicker bench python}: a Python hello handler on the python3.11 runtime (Debian's python3.11 from its layer,
 * which ./flicker bench builds): cold start without a snapshot and the host calls before the first {@code /next},
 * with the vDSO and without; invoke latency over HTTP, a fresh clone of the snapshot each; PSS per live VM among 100
 * clones, and per freshly started VM with the layer's files shared and copied; invocations per second on the host's
 * cores.
 */
final class PythonBench {
    static final LambdaRuntime PYTHON = LambdaRuntime.of("python3.11").orElseThrow();
    static final String HANDLER = """
            import json

            def handler(event, context):
                return {"hello": event.get("name", "world")}
            """;
    static final String EVENT = "{\"name\":\"bench\"}";

    private PythonBench() {}

    static int main(int seconds) throws Exception {
        Path work = Files.createTempDirectory("flicker-bench-python");
        Path code = Files.createDirectories(work.resolve("code"));
        Files.writeString(code.resolve("app.py"), HANDLER);
        try (RuntimeLayers layers = new RuntimeLayers(RuntimeLayers.defaultDirectory())) {
            Layer layer = layers.layer(PYTHON.layer());
            engineFigures(code, layer, work, seconds);
        }
        httpFigures(code, seconds);
        return 0;
    }

    static Map<String, String> env() {
        Map<String, String> env = new HashMap<>(PYTHON.env());
        env.putAll(Map.of("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:" + RuntimeApi.PORT, "_HANDLER", "app.handler",
                "LAMBDA_TASK_ROOT", "/var/task", "AWS_LAMBDA_FUNCTION_NAME", "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"));
        return env;
    }

    static RuntimeApi.Event event() {
        return RuntimeApi.Event.of(EVENT.getBytes(StandardCharsets.UTF_8), "arn:aws:lambda:local:000000000000:function:bench",
                System.currentTimeMillis() + 10_000);
    }

    static Invocation check(Invocation inv) {
        if (!inv.succeeded()) throw new IllegalStateException("bench invocation failed: " + inv.errorType() + " " + inv.result());
        return inv;
    }

    /** Through the engine's Java API: start-up, memory and throughput. */
    static void engineFigures(Path code, Layer layer, Path work, int seconds) throws Exception {
        Limits limits = Limits.DEFAULT.withMemoryMib(128).withTimeoutMillis(10_000);
        try (Kvm kvm = Kvm.open(); MicroVmRunner runner = new MicroVmRunner(kvm, true); Bundle bundle = Bundle.open(code);
             VmPool pool = new VmPool(runner, new SnapshotStore(work.resolve("snapshots")), VmPool.Policy.DEFAULT);
             // A pool that never restores ahead: every lease is a restore, counted where it is asked for.
             VmPool cold = new VmPool(runner, new SnapshotStore(work.resolve("snapshots")), new VmPool.Policy(0, 30_000, 0, 20, 100, 1_000, VmPool.Policy.DEFAULT.precopyMaxPages()))) {
            FunctionVersion fn = new FunctionVersion("python-bench", bundle, PYTHON.program(), PYTHON.args(), env(), limits, layer);
            RunRequest init = new RunRequest(bundle, PYTHON.program(), PYTHON.args(), env(), new byte[0], limits,
                    List.of(RuntimeApi.ENDPOINT), layer);
            figure("python.startup_hostcalls", startupHostCalls(runner, init), "calls");
            runner.setVdsoClocks(false);
            figure("python.startup_hostcalls_no_vdso", startupHostCalls(runner, init), "calls");
            runner.setVdsoClocks(true);

            // Cold start: VM created, the interpreter and the handler imported, the first response in hand.
            List<Double> coldMs = new ArrayList<>();
            for (int i = 0; i < 13; i++) {
                pool.awaitTeardown();
                Invocation inv = check(pool.invokeFresh(fn, event()));
                if (i >= 3) coldMs.add(inv.totalNanos() / 1e6);
            }
            double[] coldStart = sorted(coldMs);
            figure("python.cold_start_ms", percentile(coldStart, 0.5), "ms");
            figure("python.cold_start_p99_ms", percentile(coldStart, 0.99), "ms");

            pool.prepare(fn);
            cold.prepare(fn);
            List<Double> restoreMs = new ArrayList<>(), readyMs = new ArrayList<>(), handlerMs = new ArrayList<>();
            long hostCalls = 0;
            for (int i = 0; i < 220; i++) {
                cold.awaitTeardown();
                long t0 = System.nanoTime();
                Invocation inv = check(cold.invoke(fn, event()));
                if (i < 20) continue;
                restoreMs.add((System.nanoTime() - t0) / 1e6);
                readyMs.add(inv.vmReadyNanos() / 1e6);
                handlerMs.add((inv.deliverNanos() + inv.handlerNanos()) / 1e6);
                hostCalls += inv.result().exits().hostCalls();
            }
            double[] restore = sorted(restoreMs);
            figure("python.engine_restore_invoke_p50_ms", percentile(restore, 0.5), "ms");
            figure("python.engine_restore_invoke_p99_ms", percentile(restore, 0.99), "ms");
            // Where it goes: the restore itself, and the runtime's work from the event to its posted answer.
            figure("python.engine_restore_p50_ms", percentile(sorted(readyMs), 0.5), "ms");
            figure("python.engine_event_to_answer_p50_ms", percentile(sorted(handlerMs), 0.5), "ms");
            figure("python.invoke_hostcalls", hostCalls / (double) restoreMs.size(), "calls");
            figure("python.precopy_pages", cold.precopyPages(fn).cardinality(), "pages");

            figure("python.pss_per_vm_mib", clonesPssPerVmKib(cold, fn, 100) / 1024.0, "MiB");
            figure("python.pss_per_fresh_vm_shared_mib", freshPssPerVmKib(runner, init, 10) / 1024.0, "MiB");
            runner.setShareFiles(false);
            figure("python.pss_per_fresh_vm_copied_mib", freshPssPerVmKib(runner, init, 10) / 1024.0, "MiB");
            runner.setShareFiles(true);

            throughput(pool, fn, seconds);
        }
    }

    /** Host calls from the VM's creation to the runtime's first {@code /next}, where a snapshot is taken. */
    static long startupHostCalls(MicroVmRunner runner, RunRequest init) {
        try (MicroVm vm = runner.boot(init)) {
            RunResult r = vm.run();
            if (r.outcome() != RunResult.Outcome.WAITING_FOR_EVENT) throw new IllegalStateException("init failed: " + r + " " + r.stderrText());
            return r.exits().hostCalls();
        }
    }

    /** {@code n} live clones of the snapshot, each waiting for its event: the process's PSS they add, per clone. */
    static double clonesPssPerVmKib(VmPool pool, FunctionVersion fn, int n) throws InterruptedException {
        SnapshotBench.LiveClones clones = SnapshotBench.LiveClones.measure(pool, fn, n);
        return (clones.with().pssKib() - clones.before().pssKib()) / (double) n;
    }

    /** {@code n} VMs started from scratch to their first {@code /next}: the process's PSS they add, per VM. */
    static double freshPssPerVmKib(MicroVmRunner runner, RunRequest init, int n) throws InterruptedException {
        System.gc();
        Thread.sleep(300);
        MemoryStats before = MemoryStats.read();
        List<MicroVm> live = new ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                MicroVm vm = runner.boot(init);
                live.add(vm);
                if (vm.run().outcome() != RunResult.Outcome.WAITING_FOR_EVENT) throw new IllegalStateException("init failed");
            }
            return (MemoryStats.read().pssKib() - before.pssKib()) / (double) n;
        } finally {
            live.forEach(MicroVm::close);
        }
    }

    /** Invocations per second, a fresh clone each, one caller per core, sustained for {@code seconds}. */
    static void throughput(VmPool pool, FunctionVersion fn, int seconds) throws Exception {
        AtomicLong done = new AtomicLong(), failed = new AtomicLong();
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<Thread> callers = new ArrayList<>();
        for (int t = 0; t < Runtime.getRuntime().availableProcessors(); t++) {
            callers.add(Thread.ofPlatform().start(() -> {
                while (System.nanoTime() < end) {
                    if (pool.invoke(fn, event()).succeeded()) done.incrementAndGet();
                    else failed.incrementAndGet();
                }
            }));
        }
        for (Thread t : callers) t.join();
        figure("python.invocations_per_s", done.get() / (double) seconds, "1/s");
        figure("python.invocation_errors", failed.get(), "invocations");
    }

    /** Over HTTP against the packaged platform, as ./flicker up runs it: wrk at concurrency 1. */
    static void httpFigures(Path code, int seconds) throws Exception {
        try (PackagedPlatform platform = PackagedPlatform.start(Map.of(), List.of())) {
            PlatformClient client = platform.client();
            byte[] zip = FnCommand.zipDirectory(code);
            client.lambda().createFunction(b -> b.functionName("pybench").runtime("python3.11").handler("app.handler")
                    .memorySize(128).timeout(10).code(c -> c.zipFile(SdkBytes.fromByteArray(zip))));
            var settled = client.awaitSettled("pybench", null, Duration.ofSeconds(120));
            if (settled.isEmpty() || settled.get().state() != State.ACTIVE) {
                throw new IllegalStateException("pybench did not become Active: " + settled + " (see " + platform.log() + ")");
            }
            URI invoke = URI.create(client.endpoint() + "/2015-03-31/functions/pybench/invocations");
            Map<String, String> headers = client.signedHeaders(SdkHttpMethod.POST, invoke, Map.of("Content-Type", "application/json"),
                    EVENT.getBytes(StandardCharsets.UTF_8));
            StringBuilder lua = new StringBuilder("wrk.method = \"POST\"\nwrk.body = '" + EVENT + "'\n");
            headers.forEach((k, v) -> lua.append("wrk.headers[\"").append(k).append("\"] = \"").append(v).append("\"\n"));
            Path script = Files.createTempFile("flicker-bench-python", ".lua");
            Files.writeString(script, lua);
            String out = Bench.exec(List.of("wrk", "-t", "1", "-c", "1", "-d", seconds + "s", "--latency", "-s",
                    script.toString(), invoke.toString()));
            figure("python.restore_invoke_p50_ms", ApiBench.millis(out, "50%"), "ms");
            figure("python.restore_invoke_p99_ms", ApiBench.millis(out, "99%"), "ms");
            if (out.contains("Non-2xx")) System.err.println("flicker bench: some invocations failed over HTTP:\n" + out);
        }
    }
}
