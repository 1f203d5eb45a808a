package dev.flicker.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command line without a platform or a VM: help on every command, usage errors, and what the fn commands send
 * and print, against a stand-in HTTP server that answers as the platform would.
 */
class CommandLineTest {
    /** A newline, quotes, a backslash, a tab, a carriage return, JSON-looking text and non-ASCII text (one outside the BMP). */
    static final String TRICKY = "line one\nline \"two\"\twith a tab, a backslash \\ and {\"json\": [1]}\r\n é ü 日本 😀 \u2028 end";
    private static final ObjectMapper JSON = new ObjectMapper();

    record Outcome(int status, String out, String err) {
        /** Exactly one line on stderr, nothing on stdout: how every error is told. */
        String oneErrorLine() {
            assertEquals("", out, "stdout of a failure");
            assertTrue(err.endsWith("\n") && err.indexOf('\n') == err.length() - 1, "not one line: [" + err + "]");
            return err.strip();
        }
    }

    static Outcome flicker(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int status = Main.commandLine(env, new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
        return new Outcome(status, out.toString(), err.toString());
    }

    static Outcome flicker(String... args) {
        return flicker(Map.of(), args);
    }

    /** Every command of the tree, the root first. */
    private static List<CommandLine> commands(CommandLine root) {
        List<CommandLine> all = new ArrayList<>(List.of(root));
        for (CommandLine sub : root.getSubcommands().values()) all.addAll(commands(sub));
        return all;
    }

    @Test
    void everyCommandHasHelpThatNamesItsOptions() {
        List<CommandLine> all = commands(Main.commandLine(Map.of(), new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter())));
        assertEquals(List.of("flicker", "flicker run", "flicker fn", "flicker fn create", "flicker fn update", "flicker fn publish",
                "flicker fn invoke", "flicker fn logs", "flicker fn list", "flicker fn versions", "flicker fn delete",
                "flicker bench", "flicker bench engine", "flicker bench snapshot", "flicker bench api", "flicker bench hostile",
                "flicker bench python"),
                all.stream().map(c -> c.getCommandSpec().qualifiedName()).toList());
        for (CommandLine command : all) {
            String name = command.getCommandSpec().qualifiedName();
            List<String> args = new ArrayList<>(List.of(name.split(" "))).subList(1, name.split(" ").length);
            for (String help : List.of("--help", "-h")) {
                List<String> withHelp = new ArrayList<>(args);
                withHelp.add(help);
                Outcome o = flicker(withHelp.toArray(String[]::new));
                assertEquals(0, o.status(), name + " " + help + ": " + o.err());
                assertEquals("", o.err(), name + " " + help);
                assertTrue(o.out().startsWith("Usage: " + name + " "), o.out());
                for (OptionSpec option : command.getCommandSpec().options()) {
                    assertTrue(o.out().contains(option.longestName()), name + " --help does not name " + option.longestName() + ":\n" + o.out());
                    assertTrue(!option.description()[0].isBlank(), name + " " + option.longestName() + " has no description");
                }
                for (PositionalParamSpec p : command.getCommandSpec().positionalParameters()) {
                    assertTrue(o.out().contains(p.paramLabel()), name + " --help does not name " + p.paramLabel() + ":\n" + o.out());
                }
                for (String sub : command.getSubcommands().keySet()) {
                    assertTrue(o.out().contains("  " + sub + " "), name + " --help does not name " + sub + ":\n" + o.out());
                }
            }
        }
    }

    @Test
    void fnCreateHelpShowsItsDefaults() {
        String help = flicker("fn", "create", "--help").out().replaceAll("\\s+", " ");
        for (String option : List.of("--zip=FILE", "--dir=DIR", "--memory=MB", "--timeout=S", "--env=KEY=VALUE", "--description=TEXT",
                "--runtime=RUNTIME", "--handler=HANDLER", "--publish", "--wait-seconds=S")) {
            assertTrue(help.contains(option), option + " not in:\n" + help);
        }
        assertTrue(help.contains("(default: 128)") && help.contains("(default: 3)") && help.contains("default: 60")
                && help.contains("(default: provided.al2023)") && help.contains("(default: bootstrap)"), help);
    }

    @Test
    void usageErrorsAreOneLineWithStatus2(@TempDir Path empty, @TempDir Path code) throws IOException {
        Files.writeString(code.resolve("bootstrap"), "#!/bin/sh\n");
        String dir = code.toString();
        Map<List<String>, String> mistakes = new LinkedHashMap<>();
        mistakes.put(List.of(), "flicker: Missing required subcommand");
        mistakes.put(List.of("frobnicate"), "flicker: Unmatched argument at index 0: 'frobnicate'");
        mistakes.put(List.of("fn"), "flicker fn: Missing required subcommand");
        mistakes.put(List.of("fn", "frobnicate"), "flicker fn: Unmatched argument");
        mistakes.put(List.of("fn", "create"), "flicker fn create: Missing required");
        mistakes.put(List.of("fn", "create", "x"), "(--zip=FILE | --dir=DIR)");
        mistakes.put(List.of("fn", "create", "x", "--zip", "a.zip", "--dir", dir), "--zip=FILE, --dir=DIR are mutually exclusive");
        mistakes.put(List.of("fn", "create", "x", "--dir", empty.toString()), "has no 'bootstrap'");
        mistakes.put(List.of("fn", "create", "x", "--zip", empty.resolve("missing.zip").toString()), "missing.zip is not a file");
        mistakes.put(List.of("fn", "create", "x", "--dir", dir, "--env", "NOVALUE"), "--env takes KEY=VALUE, got 'NOVALUE'");
        mistakes.put(List.of("fn", "create", "x", "--dir", dir, "--env", "=v"), "--env takes KEY=VALUE, got '=v'");
        mistakes.put(List.of("fn", "create", "x", "--dir", dir, "--env", "NO\nVALUE"), "--env takes KEY=VALUE, got 'NO VALUE'");
        mistakes.put(List.of("fn", "create", "x", "--dir", dir, "--memory", "lots"), "'lots' is not an int");
        mistakes.put(List.of("fn", "create", "x", "--dir", dir, "--wait-seconds"), "Missing required parameter for option '--wait-seconds'");
        mistakes.put(List.of("fn", "create", "x", "--dir", dir, "--wait-seconds", "-1"), "--wait-seconds must not be negative, was -1");
        mistakes.put(List.of("fn", "create", "no spaces allowed", "--dir", dir), "'no spaces allowed' is not a function name");
        mistakes.put(List.of("fn", "update", "x"), "(--zip=FILE | --dir=DIR)");
        mistakes.put(List.of("fn", "update", "x", "--dir", dir, "--memory", "256"), "Unknown options: '--memory', '256'");
        mistakes.put(List.of("fn", "publish"), "Missing required parameter: 'NAME'");
        mistakes.put(List.of("fn", "invoke", "fn:prod"), "'prod' is not a version number or $LATEST");
        mistakes.put(List.of("fn", "invoke", "x", "--payload", "{}", "--payload-file", "e.json"), "mutually exclusive");
        mistakes.put(List.of("fn", "invoke", "x", "--payload-file", empty.resolve("e.json").toString()), "e.json is not a file");
        mistakes.put(List.of("fn", "invoke", "x", "--tail"), "Unknown option: '--tail'");
        mistakes.put(List.of("fn", "logs", "x", "--limit", "many"), "'many' is not an int");
        mistakes.put(List.of("fn", "list", "extra"), "Unmatched argument");
        mistakes.put(List.of("fn", "versions"), "Missing required parameter: 'NAME'");
        mistakes.put(List.of("fn", "versions", "x:1"), "'x:1' is not a function name");
        mistakes.put(List.of("fn", "delete", "no spaces allowed"), "'no spaces allowed' is not a function name");
        mistakes.put(List.of("fn", "delete", "x", "y"), "Unmatched argument");
        mistakes.put(List.of("run"), "flicker run: Missing required parameters: 'BUNDLE_DIR', 'PROGRAM'");
        mistakes.put(List.of("run", "--memory-mib", "lots", dir, "bootstrap"), "'lots' is not an int");
        mistakes.put(List.of("run", "--memory-mib", "1", dir, "bootstrap"), "memoryMib must be 4..3072, was 1");
        mistakes.put(List.of("run", "--timeout-ms", "0", dir, "bootstrap"), "timeoutMillis must be positive, was 0");
        mistakes.put(List.of("run", "--bogus", dir, "bootstrap"), "Unknown option: '--bogus'");
        mistakes.put(List.of("bench"), "flicker bench: Missing required subcommand");
        mistakes.put(List.of("bench", "frobnicate"), "Unmatched argument");
        mistakes.put(List.of("bench", "api", "soon"), "'soon' is not an int");
        mistakes.put(List.of("bench", "api", "0"), "SECONDS must be at least 1, was 0");
        mistakes.put(List.of("bench", "hostile", "0"), "SECONDS must be at least 1, was 0");
        mistakes.put(List.of("bench", "python", "0"), "SECONDS must be at least 1, was 0");
        mistakes.put(List.of("bench", "engine", "1"), "Unmatched argument");
        mistakes.forEach((args, expected) -> {
            Outcome o = flicker(args.toArray(String[]::new));
            assertEquals(2, o.status(), args + ": " + o);
            String line = o.oneErrorLine();
            assertTrue(line.startsWith("flicker") && line.contains(expected), args + ": " + line);
            assertTrue(line.endsWith(" --help)"), args + " does not say where the help is: " + line);
        });
        Outcome endpoint = flicker(Map.of("FLICKER_ENDPOINT", "ftp://localhost:9000"), "fn", "list");
        assertEquals(2, endpoint.status(), endpoint.toString());
        assertTrue(endpoint.oneErrorLine().contains("FLICKER_ENDPOINT 'ftp://localhost:9000' is not an http:// or https:// URL"), endpoint.err());
    }

    @Test
    void anUnreachablePlatformIsOneLine() throws IOException {
        int port = PlatformProcess.freePort(); // nothing listens there
        for (String[] args : List.of(new String[] {"fn", "list"}, new String[] {"fn", "logs", "x"}, new String[] {"fn", "invoke", "x"})) {
            Outcome o = flicker(Map.of("FLICKER_ENDPOINT", "http://localhost:" + port), args);
            assertEquals(1, o.status(), o.toString());
            assertEquals("flicker: cannot reach the platform at http://localhost:" + port + ": is ./flicker up running? (FLICKER_ENDPOINT)",
                    o.oneErrorLine());
        }
    }

    /**
     * An answer in Lambda's error shape is one line with its type, status 1, from the SDK's operations and from
     * the signed /admin calls alike; a line break in the platform's message does not make a second line.
     */
    @Test
    void platformErrorsAreOneLineWithTheirLambdaType() throws IOException {
        String missing = "Function not found: arn:aws:lambda:local:000000000000:function:nosuch";
        try (StandIn platform = new StandIn(r -> StandIn.error(404, "ResourceNotFoundException", missing))) {
            for (String[] args : List.of(new String[] {"fn", "invoke", "nosuch"}, new String[] {"fn", "invoke", "nosuch:3", "--async"},
                    new String[] {"fn", "versions", "nosuch"}, new String[] {"fn", "publish", "nosuch"},
                    new String[] {"fn", "delete", "nosuch:1"}, new String[] {"fn", "logs", "nosuch"})) {
                Outcome o = flicker(platform.env(), args);
                assertEquals(1, o.status(), String.join(" ", args) + ": " + o);
                assertEquals("flicker: ResourceNotFoundException: " + missing, o.oneErrorLine(), String.join(" ", args));
            }
        }
        try (StandIn platform = new StandIn(r -> StandIn.error(400, "InvalidParameterValueException", "first line\nsecond\tline"))) {
            for (String[] args : List.of(new String[] {"fn", "list"}, new String[] {"fn", "logs", "x"})) {
                Outcome o = flicker(platform.env(), args);
                assertEquals(1, o.status(), o.toString());
                assertEquals("flicker: InvalidParameterValueException: first line second line", o.oneErrorLine());
            }
        }
        try (StandIn platform = new StandIn(r -> new StandIn.Answer(502, Map.of("Content-Type", "text/html"), "<html>\n<h1>Bad gateway</h1>\n</html>"))) {
            for (String[] args : List.of(new String[] {"fn", "list"}, new String[] {"fn", "logs", "x"})) {
                Outcome o = flicker(platform.env(), args);
                assertEquals(1, o.status(), o.toString());
                assertTrue(o.oneErrorLine().startsWith("flicker: "), o.err());
                assertTrue(o.err().contains("502"), o.err());
            }
        }
    }

    /**
     * What create and publish send is Lambda's JSON with the text exactly as given (newline, quotes, backslash, tab,
     * non-ASCII), and what they print is the platform's configuration as JSON; every call is signed for service
     * lambda in region local.
     */
    @Test
    void textIsSentAndPrintedExactly(@TempDir Path code) throws IOException {
        Files.writeString(code.resolve("bootstrap"), "#!/bin/sh\n");
        Map<String, String> variables = new LinkedHashMap<>();
        variables.put("GREETING", TRICKY);
        variables.put("EQUALS", "a=b=c");
        variables.put("EMPTY", "");
        List<JsonNode> created = new CopyOnWriteArrayList<>();
        try (StandIn platform = new StandIn(r -> {
            if (r.method().equals("POST") && r.path().equals("/2015-03-31/functions")) {
                created.add(r.json());
                return StandIn.json(201, configuration(r.json(), "Pending", "$LATEST"));
            }
            if (r.method().equals("POST") && r.path().equals("/2015-03-31/functions/tricky/versions")) {
                created.add(r.json());
                ObjectNode v = configuration(created.getFirst(), "Pending", "1");
                v.put("Description", r.json().path("Description").asText());
                return StandIn.json(201, v);
            }
            if (r.method().equals("GET") && r.path().equals("/2015-03-31/functions/tricky/configuration")) {
                ObjectNode c = configuration(created.getFirst(), "Active", r.query() == null ? "$LATEST" : r.query().replace("Qualifier=", ""));
                if (created.size() > 1) c.put("Description", created.get(1).path("Description").asText());
                return StandIn.json(200, c);
            }
            return StandIn.error(404, "ResourceNotFoundException", "not here: " + r.method() + " " + r.path());
        })) {
            List<String> args = new ArrayList<>(List.of("fn", "create", "tricky", "--dir", code.toString(), "--memory", "256", "--timeout", "7",
                    "--description", TRICKY, "--runtime", "provided.al2", "--handler", "my.handler"));
            variables.forEach((k, v) -> args.addAll(List.of("--env", k + "=" + v)));
            Outcome create = flicker(platform.env(), args.toArray(String[]::new));
            assertEquals(0, create.status(), create.toString());
            JsonNode sent = created.getFirst();
            assertEquals("tricky", sent.path("FunctionName").asText());
            assertEquals(TRICKY, sent.path("Description").asText());
            assertEquals(variables, JSON.convertValue(sent.path("Environment").path("Variables"), Map.class));
            assertEquals(256, sent.path("MemorySize").asInt());
            assertEquals(7, sent.path("Timeout").asInt());
            assertEquals("provided.al2", sent.path("Runtime").asText());
            assertEquals("my.handler", sent.path("Handler").asText());
            assertTrue(sent.path("Code").path("ZipFile").asText().length() > 0, sent.toString());

            assertTrue(create.out().endsWith("\n") && create.out().indexOf('\n') == create.out().length() - 1, "one line of JSON: " + create.out());
            JsonNode printed = JSON.readTree(create.out());
            assertEquals(TRICKY, printed.path("Description").asText());
            assertEquals(variables, JSON.convertValue(printed.path("Environment").path("Variables"), Map.class));
            assertEquals("Active", printed.path("State").asText());
            assertEquals(256, printed.path("MemorySize").asInt());

            Outcome publish = flicker(platform.env(), "fn", "publish", "tricky", "--description", TRICKY);
            assertEquals(0, publish.status(), publish.toString());
            assertEquals(TRICKY, created.get(1).path("Description").asText());
            assertEquals(TRICKY, JSON.readTree(publish.out()).path("Description").asText());
            assertEquals("1", JSON.readTree(publish.out()).path("Version").asText());
            assertTrue(publish.err().contains("published tricky:1"), publish.err());

            for (StandIn.Request r : platform.requests) {
                String auth = r.headers().getOrDefault("Authorization", "");
                assertTrue(auth.matches("AWS4-HMAC-SHA256 Credential=flicker/\\d{8}/local/lambda/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}"),
                        r.method() + " " + r.path() + ": " + auth);
            }
        }
    }

    @Test
    void waitingEndsWithOneLine(@TempDir Path code) throws IOException {
        Files.writeString(code.resolve("bootstrap"), "#!/bin/sh\n");
        ObjectNode pending = JSON.createObjectNode().put("FunctionName", "slow").put("State", "Pending");
        try (StandIn platform = new StandIn(r -> StandIn.json(r.method().equals("POST") ? 201 : 200, pending))) {
            Outcome o = flicker(platform.env(), "fn", "create", "slow", "--dir", code.toString(), "--wait-seconds", "1");
            assertEquals(1, o.status(), o.toString());
            assertTrue(o.err().endsWith("flicker: slow is still Pending after 1 s\n"), o.err());
        }
        ObjectNode failed = JSON.createObjectNode().put("FunctionName", "bad").put("State", "Failed")
                .put("StateReason", "Runtime exited with status 1: no\nbootstrap");
        try (StandIn platform = new StandIn(r -> StandIn.json(r.method().equals("POST") ? 201 : 200, failed))) {
            Outcome o = flicker(platform.env(), "fn", "create", "bad", "--dir", code.toString());
            assertEquals(1, o.status(), o.toString());
            assertTrue(o.err().endsWith("flicker: bad is Failed: Runtime exited with status 1: no bootstrap\n"), o.err());
            assertEquals("Failed", JSON.readTree(o.out()).path("State").asText());
        }
    }

    private static ObjectNode configuration(JsonNode create, String state, String version) {
        ObjectNode c = JSON.createObjectNode();
        for (String field : List.of("FunctionName", "Runtime", "Handler", "MemorySize", "Timeout", "Description", "Environment")) {
            if (create.has(field)) c.set(field, create.get(field));
        }
        c.put("FunctionArn", "arn:aws:lambda:local:000000000000:function:" + create.path("FunctionName").asText()
                + (version.equals("$LATEST") ? "" : ":" + version));
        c.put("Version", version);
        c.put("State", state);
        return c;
    }

    /** An HTTP server on loopback that records each request and answers as {@code answer} says. */
    static final class StandIn implements AutoCloseable {
        record Request(String method, String path, String query, Map<String, String> headers, byte[] body) {
            JsonNode json() {
                try {
                    return JSON.readTree(body);
                } catch (IOException e) {
                    throw new AssertionError("not JSON: " + new String(body, StandardCharsets.UTF_8), e);
                }
            }
        }

        record Answer(int status, Map<String, String> headers, String body) {}

        final List<Request> requests = new CopyOnWriteArrayList<>();
        private final HttpServer server;

        StandIn(Function<Request, Answer> answer) throws IOException {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", exchange -> handle(exchange, answer));
            server.start();
        }

        private void handle(HttpExchange exchange, Function<Request, Answer> answer) throws IOException {
            try (exchange) {
                Map<String, String> headers = new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
                exchange.getRequestHeaders().forEach((k, v) -> headers.put(k, String.join(",", v)));
                Request request = new Request(exchange.getRequestMethod(), exchange.getRequestURI().getPath(),
                        exchange.getRequestURI().getQuery(), headers, exchange.getRequestBody().readAllBytes());
                requests.add(request);
                Answer a = answer.apply(request);
                a.headers().forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
                byte[] body = a.body().getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(a.status(), body.length == 0 ? -1 : body.length);
                if (body.length > 0) exchange.getResponseBody().write(body);
            }
        }

        Map<String, String> env() {
            return Map.of("FLICKER_ENDPOINT", "http://localhost:" + server.getAddress().getPort());
        }

        static Answer json(int status, JsonNode body) {
            return new Answer(status, Map.of("Content-Type", "application/json"), body.toString());
        }

        /** Lambda's error shape, as the platform's LambdaError answers. */
        static Answer error(int status, String type, String message) {
            ObjectNode body = JSON.createObjectNode().put("Type", "User").put("message", message);
            return new Answer(status, Map.of("Content-Type", "application/json", "X-Amzn-ErrorType", type), body.toString());
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }
}
