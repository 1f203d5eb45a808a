package dev.flicker.guest.python;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.flicker.guest.NativeCommand;
import dev.flicker.kvm.Sha256;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The python3.11 runtime's bootstrap (runtimes/python3.11/bootstrap.py, installed in the layer at
 * /var/runtime/bootstrap.py), run natively by the layer's interpreter against a fake Runtime API: the handler from
 * _HANDLER, Lambda's context, JSON in and out, Lambda's error shapes on /error and /init/error.
 */
class PythonBootstrapTest {
    /** One request the bootstrap made. */
    record Call(String method, String path, String errorType, String body) {}

    HttpServer api;
    final Queue<String> events = new ArrayDeque<>();
    final List<Call> calls = new CopyOnWriteArrayList<>();
    int served;

    @BeforeEach
    void startApi() throws IOException {
        api = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        api.createContext("/2018-06-01/runtime/", this::handle);
        api.start();
    }

    @AfterEach
    void stopApi() {
        api.stop(0);
    }

    /** GET /next hands out the queued events, then 410 (the bootstrap exits when the Runtime API fails); POSTs get 202. */
    void handle(HttpExchange exchange) throws IOException {
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        String path = exchange.getRequestURI().getPath();
        calls.add(new Call(exchange.getRequestMethod(), path,
                exchange.getRequestHeaders().getFirst("Lambda-Runtime-Function-Error-Type"), body));
        if (path.endsWith("/invocation/next")) {
            String event;
            synchronized (events) {
                event = events.poll();
            }
            if (event == null) {
                exchange.sendResponseHeaders(410, -1);
            } else {
                served++;
                var headers = exchange.getResponseHeaders();
                headers.add("Lambda-Runtime-Aws-Request-Id", "req-" + served);
                headers.add("Lambda-Runtime-Deadline-Ms", Long.toString(System.currentTimeMillis() + 30_000));
                headers.add("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:local:000000000000:function:fn");
                headers.add("Lambda-Runtime-Trace-Id", "Root=1-trace-" + served);
                byte[] bytes = event.getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(200, bytes.length);
                exchange.getResponseBody().write(bytes);
            }
        } else {
            exchange.sendResponseHeaders(202, -1);
        }
        exchange.close();
    }

    NativeCommand.Result runBootstrap(Path taskRoot, String handler, String... queued) {
        synchronized (events) {
            events.addAll(List.of(queued));
        }
        Map<String, String> env = new HashMap<>(Map.of(
                "AWS_LAMBDA_RUNTIME_API", "127.0.0.1:" + api.getAddress().getPort(),
                "_HANDLER", handler,
                "LAMBDA_TASK_ROOT", taskRoot.toAbsolutePath().toString(),
                "AWS_LAMBDA_FUNCTION_NAME", "fn",
                "AWS_LAMBDA_FUNCTION_VERSION", "7",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256",
                "AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fn",
                "AWS_LAMBDA_LOG_STREAM_NAME", "stream-1"));
        return PythonLayer.python(env, PythonLayer.root().resolve("var/runtime/bootstrap.py").toString());
    }

    List<Call> posts() {
        return calls.stream().filter(c -> c.method().equals("POST")).toList();
    }

    @Test
    void answersEachEventWithTheHandlersJsonAndLambdasContext(@TempDir Path task) throws IOException {
        Files.writeString(task.resolve("app.py"), """
                import logging, os
                def handler(event, context):
                    print("hello from", event["name"])
                    logging.getLogger().warning("a warning")
                    remaining = context.get_remaining_time_in_millis()
                    return {"echo": event, "request_id": context.aws_request_id, "function_name": context.function_name,
                            "version": context.function_version, "arn": context.invoked_function_arn,
                            "memory": context.memory_limit_in_mb, "group": context.log_group_name,
                            "stream": context.log_stream_name, "remaining_ok": 20000 < remaining <= 30000,
                            "trace": os.environ["_X_AMZN_TRACE_ID"]}
                """);
        NativeCommand.Result r = runBootstrap(task, "app.handler", "{\"name\":\"Ada\"}", "{\"name\":\"Grace\"}");
        assertEquals(1, r.exitStatus(), "the bootstrap exits when /next fails after the last event\n" + r);
        assertEquals(List.of(
                new Call("POST", "/2018-06-01/runtime/invocation/req-1/response", null, "{\"echo\": {\"name\": \"Ada\"}, "
                        + "\"request_id\": \"req-1\", \"function_name\": \"fn\", \"version\": \"7\", "
                        + "\"arn\": \"arn:aws:lambda:local:000000000000:function:fn\", \"memory\": 256, \"group\": \"/aws/lambda/fn\", "
                        + "\"stream\": \"stream-1\", \"remaining_ok\": true, \"trace\": \"Root=1-trace-1\"}"),
                new Call("POST", "/2018-06-01/runtime/invocation/req-2/response", null, "{\"echo\": {\"name\": \"Grace\"}, "
                        + "\"request_id\": \"req-2\", \"function_name\": \"fn\", \"version\": \"7\", "
                        + "\"arn\": \"arn:aws:lambda:local:000000000000:function:fn\", \"memory\": 256, \"group\": \"/aws/lambda/fn\", "
                        + "\"stream\": \"stream-1\", \"remaining_ok\": true, \"trace\": \"Root=1-trace-2\"}")), posts());
        assertEquals(3, calls.stream().filter(c -> c.path().endsWith("/invocation/next")).count());
        assertTrue(r.output().contains("hello from Ada\n"), r::toString);
        assertTrue(r.output().matches("(?s).*\\[WARNING]\\t\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\treq-2\\ta warning\n.*"), r::toString);
    }

    @Test
    void aSixMegabyteEventArrivesWhole(@TempDir Path task) throws IOException {
        Files.writeString(task.resolve("app.py"), """
                import hashlib
                def handler(event, context):
                    return {"length": len(event["data"]), "sha256": hashlib.sha256(event["data"].encode()).hexdigest()}
                """);
        String data = "0123456789abcdef".repeat(6 * 1024 * 1024 / 16 - 16);
        NativeCommand.Result r = runBootstrap(task, "app.handler", "{\"data\":\"" + data + "\"}", "{\"data\":\"small\"}");
        assertEquals(1, r.exitStatus(), r::toString);
        assertEquals(List.of("{\"length\": " + data.length() + ", \"sha256\": \"" + Sha256.hex(data.getBytes(StandardCharsets.US_ASCII)) + "\"}",
                "{\"length\": 5, \"sha256\": \"" + Sha256.hex("small".getBytes(StandardCharsets.US_ASCII)) + "\"}"),
                posts().stream().map(Call::body).toList(), "both events whole, the second after the first on one connection");
    }

    @Test
    void anExceptionIsPostedToErrorInLambdasShape(@TempDir Path task) throws IOException {
        Files.writeString(task.resolve("app.py"), """
                def handler(event, context):
                    raise ValueError("bad input: " + event["name"])
                """);
        NativeCommand.Result r = runBootstrap(task, "app.handler", "{\"name\":\"Ada\"}");
        List<Call> posts = posts();
        assertEquals(1, posts.size(), posts::toString);
        Call error = posts.getFirst();
        assertEquals("/2018-06-01/runtime/invocation/req-1/error", error.path());
        assertEquals("Unhandled", error.errorType());
        // One frame, the handler's: the bootstrap's own frames are left out, as on Lambda.
        String body = error.body();
        assertTrue(body.startsWith("{\"errorMessage\": \"bad input: Ada\", \"errorType\": \"ValueError\", "
                + "\"requestId\": \"req-1\", \"stackTrace\": [\"  File \\\""), body);
        assertTrue(body.endsWith("/app.py\\\", line 2, in handler\\n    raise ValueError(\\\"bad input: \\\" + "
                + "event[\\\"name\\\"])\\n\"]}"), body);
        assertEquals(1, body.split("  File ", -1).length - 1, body);
        assertTrue(r.output().contains("[ERROR] ValueError: bad input: Ada\nTraceback (most recent call last):\n"), r::toString);
    }

    @Test
    void aHandlerModuleThatCannotBeImportedIsAnInitError(@TempDir Path task) {
        NativeCommand.Result r = runBootstrap(task, "missing.handler", "{}");
        assertEquals(1, r.exitStatus(), r::toString);
        assertEquals(List.of(new Call("POST", "/2018-06-01/runtime/init/error", "Runtime.ImportModuleError",
                        "{\"errorMessage\": \"Unable to import module 'missing': No module named 'missing'\", "
                                + "\"errorType\": \"Runtime.ImportModuleError\", \"requestId\": \"\", \"stackTrace\": []}")),
                calls, "no event is asked for after an init error");
        assertTrue(r.output().contains("[ERROR] Runtime.ImportModuleError: Unable to import module 'missing': No module named 'missing'\n"
                + "Traceback (most recent call last):\n"), r::toString);
    }

    @Test
    void otherInitErrorsHaveLambdasTypes(@TempDir Path task) throws IOException {
        Files.writeString(task.resolve("app.py"), "def handler(event, context):\n    return 1\n");
        Files.writeString(task.resolve("broken.py"), "def handler(event, context)\n    return 1\n");
        assertEquals("Runtime.HandlerNotFound", initErrorType(task, "app.nothing"));
        assertEquals("Runtime.MalformedHandlerName", initErrorType(task, "app"));
        assertEquals("Runtime.UserCodeSyntaxError", initErrorType(task, "broken.handler"));
    }

    String initErrorType(Path task, String handler) {
        calls.clear();
        NativeCommand.Result r = runBootstrap(task, handler);
        assertEquals(1, r.exitStatus(), r::toString);
        assertEquals(1, calls.size(), calls::toString);
        assertEquals("/2018-06-01/runtime/init/error", calls.getFirst().path());
        return calls.getFirst().errorType();
    }

    /** Handlers in sub-directories ("dir/module.func") and packages ("pkg.module.func"), and a dependency from the task root. */
    @Test
    void handlersInSubDirectoriesAndPackagesImportFromTheTaskRoot(@TempDir Path task) throws IOException {
        Files.createDirectories(task.resolve("src/api"));
        Files.createDirectories(task.resolve("vendored"));
        Files.writeString(task.resolve("vendored/__init__.py"), "def shout(s):\n    return s.upper()\n");
        Files.writeString(task.resolve("src/api/handlers.py"), """
                import vendored
                def hello(event, context):
                    return vendored.shout(event["name"])
                """);
        runBootstrap(task, "src/api/handlers.hello", "{\"name\":\"ada\"}");
        runBootstrap(task, "src.api.handlers.hello", "{\"name\":\"grace\"}");
        assertEquals(List.of("\"ADA\"", "\"GRACE\""), posts().stream().map(Call::body).toList());
    }

    @Test
    void aResultThatIsNotJsonIsAMarshalError(@TempDir Path task) throws IOException {
        Files.writeString(task.resolve("app.py"), "def handler(event, context):\n    return {1, 2}\n");
        runBootstrap(task, "app.handler", "{}");
        List<Call> posts = posts();
        assertEquals(1, posts.size(), posts::toString);
        assertEquals("/2018-06-01/runtime/invocation/req-1/error", posts.getFirst().path());
        assertEquals("Runtime.MarshalError", posts.getFirst().errorType());
        assertEquals("{\"errorMessage\": \"Unable to marshal response: Object of type set is not JSON serializable\", "
                + "\"errorType\": \"Runtime.MarshalError\", \"requestId\": \"req-1\", \"stackTrace\": []}", posts.getFirst().body());
    }
}
