package dev.flicker.lambda.runtime;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVm;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.Layer;
import dev.flicker.kvm.Kvm;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The python3.11 runtime in real micro VMs: Debian's unmodified interpreter from the runtime layer
 * (runtimes/python3.11, built by guest-kernel's test build) runs the bootstrap, which imports the handler before its
 * first {@code /next} and answers invocations through the Runtime API on the guest's loopback socket.
 */
@NeedsKvm
class PythonRuntimeTest {
    static final Path LAYERS = Path.of("../guest-kernel/target/runtimes");
    static final LambdaRuntime PYTHON = LambdaRuntime.of("python3.11").orElseThrow();
    static final String ARN = "arn:aws:lambda:local:000000000000:function:py";
    /** How long an invocation may take (its deadline from the event on), scaled to the machine. */
    static final long WINDOW_MILLIS = TestTime.scaledMillis(3000);

    static Kvm kvm;
    static MicroVmRunner runner;
    static RuntimeLayers layers;
    static Layer layer;

    @TempDir
    static Path code;

    @BeforeAll
    static void start() throws IOException {
        kvm = Kvm.open();
        runner = new MicroVmRunner(kvm);
        layers = new RuntimeLayers(LAYERS);
        layer = layers.layer(PYTHON.layer());
        Files.writeString(code.resolve("app.py"), """
                import json, hashlib, _ssl, ssl, logging, os, random, sys, uuid
                import dep
                from pkg.sub import helper
                logger = logging.getLogger()
                STARTED = "imported before the first event"

                def handler(event, context):
                    print("printed", event.get("name"))
                    logger.warning("logged %s", context.aws_request_id)
                    if event.get("fail"):
                        raise ValueError("no " + event["name"])
                    return {
                        "hello": event["name"], "dep": dep.VALUE, "helper": helper(),
                        "sha": hashlib.sha256(b"flicker").hexdigest()[:16], "openssl": ssl.OPENSSL_VERSION.split()[0],
                        "started": STARTED, "function": context.function_name, "memory": context.memory_limit_in_mb,
                        "arn": context.invoked_function_arn, "request": context.aws_request_id,
                        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= event.get("window", 0),
                        "urandom": len(os.urandom(16)), "uuid": uuid.uuid4().version, "random": 0 <= random.random() < 1,
                        "env": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "cwd": os.getcwd(), "exe": sys.executable,
                    }

                def threads(event, context):
                    import threading
                    try:
                        threading.Thread(target=print).start()
                    except RuntimeError as e:
                        return str(e)
                    return "started"
                """);
        Files.writeString(code.resolve("dep.py"), "VALUE = 'a pure-Python dependency from the zip'\n");
        Files.createDirectories(code.resolve("pkg"));
        Files.writeString(code.resolve("pkg/__init__.py"), "");
        Files.writeString(code.resolve("pkg/sub.py"), "def helper():\n    return 'pkg.sub'\n\ndef handler(event, context):\n    return event\n");
    }

    @AfterAll
    static void stop() {
        runner.close();
        layers.close();
        kvm.close();
    }

    static RunRequest request(Bundle bundle, String handler) {
        Map<String, String> env = new HashMap<>(PYTHON.env());
        env.putAll(Map.of("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:" + RuntimeApi.PORT, "_HANDLER", handler,
                "LAMBDA_TASK_ROOT", "/var/task", "AWS_LAMBDA_FUNCTION_NAME", "py", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"));
        return new RunRequest(bundle, PYTHON.program(), PYTHON.args(), env, new byte[0],
                Limits.DEFAULT.withTimeoutMillis(TestTime.scaledMillis(30_000)), List.of(RuntimeApi.ENDPOINT), layer);
    }

    /** Boots the handler's VM, runs its init to the first /next, gives it {@code payload} and runs until it answers. */
    static RunResult invoke(MicroVm vm, String payload) {
        RunResult init = vm.run();
        assertEquals(RunResult.Outcome.WAITING_FOR_EVENT, init.outcome(), () -> init + "\n" + init.stderrText());
        RuntimeApi.deliver(vm, RuntimeApi.Event.of(payload.getBytes(StandardCharsets.UTF_8), ARN, System.currentTimeMillis() + WINDOW_MILLIS));
        return vm.runUntil(RuntimeApi.of(vm)::answered);
    }

    @Test
    void aHandlerReturnsJsonWithItsDependenciesTheStandardLibraryAndLambdasContext() {
        try (Bundle bundle = Bundle.open(code); MicroVm vm = runner.boot(request(bundle, "app.handler"))) {
            RunResult r = invoke(vm, "{\"name\": \"Ada\", \"window\": " + WINDOW_MILLIS + "}");
            assertEquals(RunResult.Outcome.ANSWERED, r.outcome(), () -> r + "\n" + r.stderrText());
            String response = new String(RuntimeApi.of(vm).response(), StandardCharsets.UTF_8);
            for (String field : List.of("\"hello\": \"Ada\"", "\"dep\": \"a pure-Python dependency from the zip\"",
                    "\"helper\": \"pkg.sub\"", "\"sha\": \"e18dff93da444b37\"", "\"openssl\": \"OpenSSL\"",
                    "\"started\": \"imported before the first event\"", "\"function\": \"py\"", "\"memory\": 128",
                    "\"arn\": \"" + ARN + "\"", "\"remaining_ok\": true", "\"urandom\": 16", "\"uuid\": 4", "\"random\": true",
                    "\"env\": \"py\"", "\"cwd\": \"/var/task\"", "\"exe\": \"/usr/bin/python3.11\"")) {
                assertTrue(response.contains(field), () -> field + " is not in " + response);
            }
            assertTrue(r.stdoutText().contains("printed Ada\n"), r.stdoutText());
            assertTrue(r.stdoutText().matches("(?s).*\\[WARNING]\\t\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z\\t[0-9a-f-]{36}\\tlogged [0-9a-f-]{36}\n.*"),
                    r.stdoutText());
            assertEquals(0, r.exits().unknownSyscalls(), r.exits()::toString);
        }
    }

    @Test
    void anExceptionIsLambdasErrorShapeAndItsTracebackGoesToTheLog() {
        try (Bundle bundle = Bundle.open(code); MicroVm vm = runner.boot(request(bundle, "app.handler"))) {
            RunResult r = invoke(vm, "{\"name\": \"Grace\", \"fail\": true}");
            assertEquals(RunResult.Outcome.ANSWERED, r.outcome(), () -> r + "\n" + r.stderrText());
            assertNull(RuntimeApi.of(vm).response());
            assertEquals("Unhandled", RuntimeApi.of(vm).errorType());
            String error = new String(RuntimeApi.of(vm).error(), StandardCharsets.UTF_8);
            assertTrue(error.startsWith("{\"errorMessage\": \"no Grace\", \"errorType\": \"ValueError\", \"requestId\": \""), error);
            assertTrue(error.contains("\"stackTrace\": [\"  File \\\"/var/task/app.py\\\", line 11, in handler\\n"), error);
            assertTrue(r.stderrText().startsWith("[ERROR] ValueError: no Grace\nTraceback (most recent call last):\n"),
                    r.stderrText());
        }
    }

    @Test
    void aHandlerInASubdirectoryIsFoundAndAMissingModuleIsAnInitError() {
        try (Bundle bundle = Bundle.open(code)) {
            try (MicroVm vm = runner.boot(request(bundle, "pkg/sub.handler"))) {
                RunResult r = invoke(vm, "{\"echo\": [1, 2.5, \"three\"]}");
                assertEquals(RunResult.Outcome.ANSWERED, r.outcome(), () -> r + "\n" + r.stderrText());
                assertEquals("{\"echo\": [1, 2.5, \"three\"]}", new String(RuntimeApi.of(vm).response(), StandardCharsets.UTF_8));
            }
            try (MicroVm vm = runner.boot(request(bundle, "missing.handler"))) {
                RunResult init = vm.run();
                assertEquals(RunResult.Outcome.EXITED, init.outcome(), init::toString);
                assertEquals(1, init.exitStatus());
                String error = new String(RuntimeApi.of(vm).initError(), StandardCharsets.UTF_8);
                assertTrue(error.startsWith("{\"errorMessage\": \"Unable to import module 'missing': No module named 'missing'\", "
                        + "\"errorType\": \"Runtime.ImportModuleError\""), error);
            }
        }
    }

    @Test
    void aThreadFailsToStartSayingWhy() {
        try (Bundle bundle = Bundle.open(code); MicroVm vm = runner.boot(request(bundle, "app.threads"))) {
            RunResult r = invoke(vm, "{}");
            assertEquals(RunResult.Outcome.ANSWERED, r.outcome(), () -> r + "\n" + r.stderrText());
            String answer = new String(RuntimeApi.of(vm).response(), StandardCharsets.UTF_8);
            assertTrue(answer.startsWith("\"can't start new thread: ") && answer.contains("one thread"), answer);
        }
    }
}
