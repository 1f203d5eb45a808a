package dev.flicker.api;

import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.lambda.LambdaClient;
import software.amazon.awssdk.services.lambda.model.InvokeResponse;
import software.amazon.awssdk.services.lambda.model.LogType;
import software.amazon.awssdk.services.lambda.model.Runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Python functions through the HTTP API and the AWS SDK, on real micro VMs: {@code Runtime: python3.11},
 * {@code Handler: app.handler}, a zip of {@code .py} files; Debian's python3.11 from the runtime layer that
 * guest-kernel's test build makes ({@code %test.flicker.runtimes-dir}).
 */
@QuarkusTest
class PythonFunctionsTest {
    static final String APP = """
            import base64, collections, csv, dataclasses, datetime, decimal, gzip, hashlib, hmac, io, itertools, json
            import logging, os, re, sqlite3, sys, time, typing, urllib.parse, uuid, zlib, zoneinfo
            from lib.greeting import greet

            logger = logging.getLogger()

            @dataclasses.dataclass
            class Point:
                x: int
                y: int

            def stdlib():
                db = sqlite3.connect("/tmp/db.sqlite")
                db.execute("create table t (x integer)")
                db.executemany("insert into t values (?)", [(1,), (2,), (3,)])
                db.commit()
                rows = io.StringIO()
                csv.writer(rows).writerow(["a", 1])
                berlin = zoneinfo.ZoneInfo("Europe/Berlin")
                summer = datetime.datetime(2024, 7, 1, 12, tzinfo=berlin)
                return {
                    "json": json.loads('{"a": [1]}'), "re": re.findall(r"\\d+", "a1b22"),
                    "zoneinfo": summer.utcoffset().total_seconds(), "sha256": hashlib.sha256(b"x").hexdigest()[:12],
                    "hmac": hmac.new(b"k", b"m", "sha256").hexdigest()[:12], "base64": base64.b64encode(b"fl").decode(),
                    "zlib": zlib.decompress(zlib.compress(b"z" * 100)).count(b"z"),
                    "gzip": gzip.decompress(gzip.compress(b"g")).decode(),
                    "decimal": str(decimal.Decimal("1.1") + decimal.Decimal("2.2")),
                    "urllib": urllib.parse.parse_qs("a=1&b=2")["b"], "csv": rows.getvalue().strip(),
                    "sqlite": db.execute("select sum(x) from t").fetchone()[0],
                    "dataclass": dataclasses.asdict(Point(1, 2)), "typing": typing.get_type_hints(Point)["x"].__name__,
                    "collections": collections.Counter("aab").most_common(1)[0][0],
                    "itertools": list(itertools.accumulate([1, 2, 3])),
                }

            def hostile():
                tried = {}
                for path in ["/proc/self/maps", "/proc/self/environ", "/etc/passwd", "/etc/shadow"]:
                    try:
                        open(path).read()
                        tried[path] = "read"
                    except OSError as e:
                        tried[path] = type(e).__name__
                try:
                    os.fork()
                    tried["fork"] = "forked"
                except OSError as e:
                    tried["fork"] = e.errno
                import ctypes
                libc = ctypes.CDLL(None, use_errno=True)
                libc.syscall.restype = ctypes.c_long
                tried["syscall_getpid"] = libc.syscall(39)
                tried["syscall_kill"] = libc.syscall(62, 1, 9)
                tried["syscall_reboot"] = libc.syscall(169, 0, 0, 0, 0)
                tried["syscall_9999"] = libc.syscall(9999, 1, 2, 3)
                try:
                    open("/var/task/app.py", "a")
                except OSError as e:
                    tried["write_task"] = e.errno
                return tried

            def handler(event, context):
                action = event.get("action")
                print("printed", action)
                logger.warning("logged %s", action)
                if action == "fail":
                    raise KeyError("no such thing")
                if action == "stdlib":
                    return stdlib()
                if action == "tmp":
                    mine = f"/tmp/{uuid.uuid4()}"
                    with open(mine, "w") as f:
                        f.write("private")
                    return sorted(os.listdir("/tmp"))
                if action == "memory":
                    blobs = []
                    try:
                        while len(blobs) < 3:
                            blobs.append(bytearray(100 * 1024 * 1024))
                        return "allocated 300 MiB"
                    except MemoryError:
                        return f"MemoryError after {len(blobs)} x 100 MiB"
                if action == "sleep":  # past the Timeout, whatever it is (scaled in the emulated host)
                    time.sleep(context.get_remaining_time_in_millis() / 1000 + 5)
                if action == "hostile":
                    return hostile()
                return {"greeting": greet(event.get("name", "world")), "request": context.aws_request_id,
                        "function": context.function_name, "version": context.function_version,
                        "log_group": context.log_group_name, "region": os.environ["AWS_REGION"]}
            """;

    static String zip;

    @BeforeAll
    static void zip() throws IOException {
        FunctionsResourceTest.zip(); // the signing filter, once per JVM
        zip = Base64.getEncoder().encodeToString(FunctionsResourceTest.zipOf(Map.of(
                "app.py", APP.getBytes(StandardCharsets.UTF_8),
                "lib/__init__.py", new byte[0],
                "lib/greeting.py", "def greet(name):\n    return f'hello, {name}'\n".getBytes(StandardCharsets.UTF_8))));
    }

    /** Creates the function with a Timeout of {@code timeoutSeconds}, scaled with the machine (the emulated host's is slow). */
    static void create(String name, String handler, int timeoutSeconds) {
        long timeout = Math.min(900, TestTime.scaled(Duration.ofSeconds(timeoutSeconds)).toSeconds());
        given().contentType(ContentType.JSON).body("{\"FunctionName\":\"" + name + "\",\"Runtime\":\"python3.11\",\"Handler\":\""
                        + handler + "\",\"Timeout\":" + timeout + ",\"Code\":{\"ZipFile\":\"" + zip + "\"}}")
                .post("/2015-03-31/functions").then().statusCode(201).body("Runtime", equalTo("python3.11"));
    }

    static Response invoke(String name, String payload) {
        return given().header("X-Amz-Log-Type", "Tail").body(payload).post("/2015-03-31/functions/" + name + "/invocations");
    }

    static String logs(Response r) {
        return new String(Base64.getDecoder().decode(r.header("X-Amz-Log-Result")), StandardCharsets.UTF_8);
    }

    @NeedsKvm
    @Test
    void aPythonFunctionAnswersFailsAndUsesTheStandardLibraryOverHttp() {
        create("py", "app.handler", 3);
        assertEquals("Active", FunctionsResourceTest.awaitStateSettled("py"));

        Response ok = invoke("py", "{\"name\": \"Ada\"}");
        ok.then().statusCode(200).body("greeting", equalTo("hello, Ada")).body("function", equalTo("py"))
                .body("version", equalTo("$LATEST")).body("log_group", equalTo("/aws/lambda/py")).body("region", equalTo("local"));
        assertEquals(null, ok.header("X-Amz-Function-Error"));
        String logs = logs(ok), id = ok.header("X-Amzn-RequestId");
        assertTrue(logs.contains("printed None\n") && logs.contains("\tlogged None\n"), logs);
        assertTrue(logs.startsWith("START RequestId: " + id + " Version: $LATEST\n"), logs);
        assertTrue(logs.matches("(?s).*\nEND RequestId: " + id + "\nREPORT RequestId: " + id
                + "\tDuration: [0-9.]+ ms\tBilled Duration: \\d+ ms\tMemory Size: 128 MB\t\n"), logs);

        Response failed = invoke("py", "{\"action\": \"fail\"}");
        failed.then().statusCode(200).header("X-Amz-Function-Error", "Unhandled").body("errorType", equalTo("KeyError"))
                .body("errorMessage", equalTo("'no such thing'")).body("stackTrace[0]", containsString("app.py"));
        assertTrue(logs(failed).contains("[ERROR] KeyError: 'no such thing'\nTraceback (most recent call last):"), logs(failed));

        invoke("py", "{\"action\": \"stdlib\"}").then().statusCode(200)
                .body("json.a[0]", equalTo(1)).body("re[1]", equalTo("22")).body("zoneinfo", equalTo(7200.0f))
                .body("sha256", equalTo("2d711642b726")).body("hmac", equalTo("b60090e30522"))
                .body("base64", equalTo("Zmw=")).body("zlib", equalTo(100)).body("gzip", equalTo("g"))
                .body("decimal", equalTo("3.3")).body("urllib[0]", equalTo("2")).body("csv", equalTo("a,1"))
                .body("sqlite", equalTo(6)).body("dataclass.y", equalTo(2)).body("typing", equalTo("int"))
                .body("collections", equalTo("a")).body("itertools[2]", equalTo(6));

        // Every invocation runs in a fresh clone: its /tmp holds only what it wrote itself.
        String first = invoke("py", "{\"action\": \"tmp\"}").then().statusCode(200).extract().asString();
        String second = invoke("py", "{\"action\": \"tmp\"}").then().statusCode(200).extract().asString();
        assertTrue(first.matches("\\[\"[0-9a-f-]{36}\"]"), first);
        assertNotEquals(first, second);

        // The layer's files count nothing against the 128 MB: one 100 MiB allocation fits, the next is a MemoryError.
        invoke("py", "{\"action\": \"memory\"}").then().statusCode(200).body(equalTo("\"MemoryError after 1 x 100 MiB\""));

        invoke("py", "{\"action\": \"hostile\"}").then().statusCode(200)
                .body("'/proc/self/maps'", equalTo("FileNotFoundError")).body("'/proc/self/environ'", equalTo("FileNotFoundError"))
                .body("'/etc/passwd'", equalTo("FileNotFoundError")).body("'/etc/shadow'", equalTo("FileNotFoundError"))
                .body("fork", equalTo(38)).body("syscall_getpid", equalTo(1)).body("syscall_kill", equalTo(-1))
                .body("syscall_reboot", equalTo(-1)).body("syscall_9999", equalTo(-1)).body("write_task", equalTo(30));

        Response slow = invoke("py", "{\"action\": \"sleep\"}");
        slow.then().statusCode(200).header("X-Amz-Function-Error", "Unhandled").body("errorType", equalTo("Sandbox.Timedout"));

        given().delete("/2015-03-31/functions/py").then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void aHandlerThatDoesNotImportFailsTheFunctionWithTheImportError() {
        create("py-broken", "missing.handler", 3);
        assertEquals("Failed", FunctionsResourceTest.awaitStateSettled("py-broken"));
        given().get("/2015-03-31/functions/py-broken").then().statusCode(200)
                .body("Configuration.StateReason", containsString("Runtime.ImportModuleError"))
                .body("Configuration.StateReason", containsString("Unable to import module 'missing'"));
        given().delete("/2015-03-31/functions/py-broken").then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void theAwsSdkDeploysAndInvokesAPythonFunction() throws IOException {
        try (LambdaClient lambda = AuthAndSdkTest.client(SigV4Filter.KEY, SigV4Filter.SECRET)) {
            lambda.createFunction(b -> b.functionName("py-sdk").runtime(Runtime.PYTHON3_11).handler("app.handler")
                    .code(c -> c.zipFile(SdkBytes.fromByteArray(Base64.getDecoder().decode(zip)))));
            assertEquals("Active", FunctionsResourceTest.awaitStateSettled("py-sdk"));
            InvokeResponse r = lambda.invoke(b -> b.functionName("py-sdk").logType(LogType.TAIL)
                    .payload(SdkBytes.fromUtf8String("{\"name\": \"SDK\"}")));
            assertTrue(r.payload().asUtf8String().contains("\"greeting\": \"hello, SDK\""), r.payload().asUtf8String());
            assertTrue(new String(Base64.getDecoder().decode(r.logResult()), StandardCharsets.UTF_8).contains("printed None"));
            lambda.deleteFunction(b -> b.functionName("py-sdk"));
        }
    }
}
