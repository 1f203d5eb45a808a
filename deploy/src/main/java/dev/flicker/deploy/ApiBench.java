package dev.flicker.deploy;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.kvm.Kvm;
import dev.flicker.lambda.runtime.RuntimeApi;
import dev.flicker.pool.FunctionVersion;
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
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.flicker.deploy.Bench.figure;
import static dev.flicker.deploy.Bench.percentile;
import static dev.flicker.deploy.Bench.sorted;

/**
 * {@code flicker bench api}: Invoke over HTTP on loopback against the packaged platform, driven by wrk (a load
 * generator that is not Flicker's code) at concurrency 1, 8 and 64; and, in the same run, the same function
 * through the engine's Java API, to show what the control plane adds.
 */
final class ApiBench {
    static final Path CODE = Path.of("guest-kernel/target/test-programs/c-runtime");
    static final String EVENT = "{\"name\":\"bench\"}";

    private ApiBench() {}

    static int main(int seconds) throws Exception {
        if (!Files.exists(CODE.resolve("bootstrap"))) {
            throw new IllegalStateException(CODE.resolve("bootstrap") + " is missing: run ./flicker bench from the checkout (it builds it)");
        }
        Path data = Files.createTempDirectory("flicker-bench-api");
        try (PackagedPlatform platform = PackagedPlatform.start(Map.of("FLICKER_MAX_CONCURRENCY", "128"), List.of())) {
            PlatformClient client = platform.client();
            byte[] zip = FnCommand.zipDirectory(CODE);
            client.lambda().createFunction(b -> b.functionName("bench").runtime("provided.al2023").handler("h").memorySize(128).timeout(3)
                    .code(c -> c.zipFile(SdkBytes.fromByteArray(zip))));
            var settled = client.awaitSettled("bench", null, Duration.ofSeconds(60));
            if (settled.isEmpty() || settled.get().state() != State.ACTIVE) throw new IllegalStateException("bench did not become Active: " + settled);
            URI invoke = URI.create(client.endpoint() + "/2015-03-31/functions/bench/invocations");
            Path script = data.resolve("invoke.lua");
            long errors = 0;
            double c1p50 = 0, c64rps = 0;
            for (int connections : new int[] {1, 8, 64}) {
                // Signed once: a SigV4 signature stays valid for 15 minutes, longer than each run.
                Map<String, String> headers = client.signedHeaders(SdkHttpMethod.POST, invoke, Map.of("Content-Type", "application/json"),
                        EVENT.getBytes(StandardCharsets.UTF_8));
                StringBuilder lua = new StringBuilder("wrk.method = \"POST\"\nwrk.body = '" + EVENT + "'\n");
                headers.forEach((k, v) -> lua.append("wrk.headers[\"").append(k).append("\"] = \"").append(v).append("\"\n"));
                Files.writeString(script, lua);
                ThreadCpu cpuBefore = ThreadCpu.of(platform.pid());
                String out = Bench.exec(List.of("wrk", "-t", Integer.toString(Math.min(2, connections)), "-c", Integer.toString(connections),
                        "-d", seconds + "s", "--latency", "-s", script.toString(), invoke.toString()));
                ThreadCpu cpu = ThreadCpu.of(platform.pid()).minus(cpuBefore);
                double p50 = millis(out, "50%"), p99 = millis(out, "99%");
                double rps = Double.parseDouble(match(out, "Requests/sec:\\s+([0-9.]+)"));
                long non2xx = Long.parseLong(matchOr(out, "Non-2xx or 3xx responses:\\s+(\\d+)", "0"));
                long socket = 0;
                Matcher m = Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)").matcher(out);
                if (m.find()) for (int g = 1; g <= 4; g++) socket += Long.parseLong(m.group(g));
                errors += non2xx + socket;
                figure("api.invoke_c" + connections + "_p50_ms", p50, "ms");
                figure("api.invoke_c" + connections + "_p99_ms", p99, "ms");
                figure("api.invocations_per_s_c" + connections, rps, "1/s");
                long requests = Long.parseLong(match(out, "(\\d+) requests in"));
                figure("api.cpu_ms_per_invoke_c" + connections, cpu.totalMillis() / requests, "ms");
                System.out.print("where the platform's CPU went at " + connections + " connections (" + requests + " invocations):\n"
                        + cpu.table(requests));
                if (connections == 64) c64rps = rps;
                if (connections == 1) {
                    c1p50 = p50;
                    figure("api.invoke_p50_ms", p50, "ms");
                    figure("api.invoke_p99_ms", p99, "ms");
                }
            }
            figure("api.errors", errors, "responses");
            Engine engine = engineFigures(seconds);
            figure("api.engine_invoke_p50_ms", engine.invokeP50Ms(), "ms");
            figure("api.overhead_p50_ms", c1p50 - engine.invokeP50Ms(), "ms");
            figure("api.engine_invocations_per_s_c64", engine.invocationsPerSecondC64(), "1/s");
            figure("api.engine_ratio_c64", c64rps / engine.invocationsPerSecondC64(), "x");
        }
        return 0;
    }

    /** What the engine alone does with the same function: {@link #engineFigures}. */
    record Engine(double invokeP50Ms, double invocationsPerSecondC64) {}

    /**
     * The same function through the engine's Java API, the host's run slots not involved: one caller (restore from
     * its snapshot, invoke, release: the p50, and the host calls per invocation), then 64 callers at once for
     * {@code seconds}, each invocation a fresh clone: what the HTTP figures at as many connections are measured against.
     */
    private static Engine engineFigures(int seconds) throws Exception {
        Path store = Files.createTempDirectory("flicker-bench-api-engine");
        try (Kvm kvm = Kvm.open(); MicroVmRunner runner = new MicroVmRunner(kvm, true); Bundle bundle = Bundle.open(CODE);
             VmPool pool = new VmPool(runner, new SnapshotStore(store), VmPool.Policy.DEFAULT)) {
            FunctionVersion fn = new FunctionVersion("bench", bundle, "bootstrap", List.of(),
                    Map.of("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"), Limits.DEFAULT.withMemoryMib(128).withTimeoutMillis(3000));
            pool.prepare(fn);
            List<Double> ms = new ArrayList<>();
            long hostCalls = 0;
            for (int i = 0; i < 1200; i++) {
                long t0 = System.nanoTime();
                var inv = pool.invoke(fn, event());
                if (inv.errorType() != null) throw new IllegalStateException("engine invoke failed: " + inv.result());
                if (i < 200) continue;
                ms.add((System.nanoTime() - t0) / 1e6);
                hostCalls += inv.result().exits().hostCalls(); // from the event delivered to the answer posted
            }
            figure("pool.hostcalls_per_invoke", hostCalls / (double) ms.size(), "calls");

            AtomicLong done = new AtomicLong(), failed = new AtomicLong();
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            List<Thread> callers = new ArrayList<>();
            for (int t = 0; t < 64; t++) {
                callers.add(Thread.ofPlatform().start(() -> {
                    while (System.nanoTime() < end) (pool.invoke(fn, event()).errorType() == null ? done : failed).incrementAndGet();
                }));
            }
            for (Thread t : callers) t.join();
            if (failed.get() > 0) System.err.println("flicker bench: " + failed.get() + " engine invocations failed");
            return new Engine(percentile(sorted(ms), 0.5), done.get() / (double) seconds);
        }
    }

    private static RuntimeApi.Event event() {
        return RuntimeApi.Event.of(EVENT.getBytes(StandardCharsets.UTF_8), "arn:aws:lambda:local:000000000000:function:bench",
                System.currentTimeMillis() + 3000);
    }

    /** A wrk latency percentile line ("50%    1.23ms") in milliseconds. */
    static double millis(String wrkOutput, String percentile) {
        Matcher m = Pattern.compile("\\s" + Pattern.quote(percentile) + "\\s+([0-9.]+)(us|ms|s)").matcher(wrkOutput);
        if (!m.find()) throw new IllegalStateException("no " + percentile + " latency in wrk's output:\n" + wrkOutput);
        double v = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> v / 1000;
            case "s" -> v * 1000;
            default -> v;
        };
    }

    private static String match(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        if (!m.find()) throw new IllegalStateException("'" + regex + "' not in wrk's output:\n" + text);
        return m.group(1);
    }

    private static String matchOr(String text, String regex, String fallback) {
        Matcher m = Pattern.compile(regex).matcher(text);
        return m.find() ? m.group(1) : fallback;
    }
}
