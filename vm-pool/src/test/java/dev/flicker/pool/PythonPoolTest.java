package dev.flicker.pool;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.kernel.Clocks;
import dev.flicker.kvm.Kvm;
import dev.flicker.lambda.runtime.LambdaRuntime;
import dev.flicker.lambda.runtime.RuntimeApi;
import dev.flicker.lambda.runtime.RuntimeLayers;
import dev.flicker.snapshots.SnapshotStore;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A python3.11 function snapshotted at its first {@code /next}, with its handler imported, and invoked from fresh
 * clones: each clone has randomness of its own and the host's time, not the snapshot's.
 */
@NeedsKvm
class PythonPoolTest {
    static final LambdaRuntime PYTHON = LambdaRuntime.of("python3.11").orElseThrow();
    /** What the time read after a restore may differ from the host's by (the bound). */
    static final long CLOCK_TOLERANCE_NANOS = 50_000_000;
    static final Pattern ANSWER = Pattern.compile(
            "\\{\"urandom\": \"([0-9a-f]{32})\", \"uuid\": \"([0-9a-f-]{36})\", \"random\": ([0-9.e-]+), \"time_ns\": (\\d+), \"imported\": (\\d+)}");

    @Test
    void clonesOfAPythonSnapshotAnswerWithRandomnessOfTheirOwnAndTheHostsTime(@TempDir Path dir) throws Exception {
        Path code = Files.createDirectories(dir.resolve("code"));
        Files.writeString(code.resolve("app.py"), """
                import json, os, random, time, uuid
                IMPORTED = time.time_ns()

                def handler(event, context):
                    return {"urandom": os.urandom(16).hex(), "uuid": str(uuid.uuid4()), "random": random.random(),
                            "time_ns": time.time_ns(), "imported": IMPORTED}
                """);
        Map<String, String> env = new HashMap<>(PYTHON.env());
        env.putAll(Map.of("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001", "_HANDLER", "app.handler", "LAMBDA_TASK_ROOT", "/var/task"));
        try (Kvm kvm = Kvm.open(); MicroVmRunner runner = new MicroVmRunner(kvm);
             RuntimeLayers layers = new RuntimeLayers(Path.of("../guest-kernel/target/runtimes"));
             Bundle bundle = Bundle.open(code);
             VmPool pool = new VmPool(runner, new SnapshotStore(dir.resolve("snapshots")), VmPool.Policy.DEFAULT)) {
            FunctionVersion fn = new FunctionVersion("py-clones", bundle, PYTHON.program(), PYTHON.args(), env,
                    Limits.DEFAULT.withTimeoutMillis(TestTime.scaledMillis(30_000)), layers.layer(PYTHON.layer()));
            pool.prepare(fn);
            Thread.sleep(300); // the clones run well after the snapshot: they must not live in its past
            Set<String> urandoms = new HashSet<>(), uuids = new HashSet<>(), randoms = new HashSet<>();
            for (int i = 0; i < 3; i++) {
                long before = Clocks.realtimeNanos();
                Invocation inv = pool.invoke(fn, RuntimeApi.Event.of("{}".getBytes(StandardCharsets.UTF_8),
                        "arn:aws:lambda:local:000000000000:function:py-clones", System.currentTimeMillis() + TestTime.scaledMillis(30_000)));
                long after = Clocks.realtimeNanos();
                String answer = new String(inv.response(), StandardCharsets.UTF_8);
                assertTrue(inv.succeeded(), () -> inv.errorType() + " " + answer + " " + inv.result().stderrText());
                assertTrue(inv.startPath() != StartPath.FRESH_START, "a clone of the snapshot");
                Matcher m = ANSWER.matcher(answer);
                assertTrue(m.matches(), answer);
                urandoms.add(m.group(1));
                uuids.add(m.group(2));
                randoms.add(m.group(3));
                long time = Long.parseLong(m.group(4)), imported = Long.parseLong(m.group(5));
                assertTrue(time >= before - CLOCK_TOLERANCE_NANOS && time <= after + CLOCK_TOLERANCE_NANOS,
                        () -> "time.time_ns() " + time + " is not the host's [" + before + ", " + after + "]");
                assertTrue(time - imported >= 300_000_000L, "the module was imported before the snapshot, the handler ran after");
                assertEquals(0, inv.initNanos(), "no init: the handler module came imported in the snapshot");
            }
            assertEquals(3, urandoms.size(), "os.urandom differs between clones: " + urandoms);
            assertEquals(3, uuids.size(), "uuid.uuid4() differs between clones: " + uuids);
            assertEquals(3, randoms.size(), "random.random() differs between clones: " + randoms);
        }
    }
}
