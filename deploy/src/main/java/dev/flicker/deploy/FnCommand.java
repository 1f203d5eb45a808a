package dev.flicker.deploy;


import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * {@code flicker fn create|update|publish|invoke|logs|list|versions|delete}: the command-line client of a running platform.
 * It speaks the same Lambda REST API as an AWS SDK, signed with SigV4. The endpoint and credentials come from
 * {@code FLICKER_ENDPOINT}, {@code FLICKER_ACCESS_KEY_ID} and {@code FLICKER_SECRET_ACCESS_KEY}.
 */
public final class FnCommand {
    static final String USAGE = """
            usage: flicker fn create NAME (--zip FILE | --dir DIR) [--memory MB] [--timeout S] [--env K=V]...
                   flicker fn update NAME (--zip FILE | --dir DIR)
                   flicker fn publish NAME [--description TEXT]
                   flicker fn invoke NAME[:VERSION] [--payload JSON | --payload-file FILE] [--async] [--logs]
                   flicker fn logs NAME [--limit N]
                   flicker fn list
                   flicker fn versions NAME
                   flicker fn delete NAME[:VERSION]""";

    private final PlatformClient client;
    private final PrintStream out;
    private final PrintStream err;

    FnCommand(Map<String, String> env, PrintStream out, PrintStream err) {
        this.client = PlatformClient.fromEnvironment(env);
        this.out = out;
        this.err = err;
    }

    public static int main(String[] args) {
        return new FnCommand(System.getenv(), System.out, System.err).run(args);
    }

    /** Usage problems exit 2, refused or failed calls 1, success 0. */
    int run(String[] args) {
        if (args.length == 0) return usage("missing a subcommand");
        try {
            return switch (args[0]) {
                case "create" -> create(args, false);
                case "update" -> create(args, true);
                case "publish" -> publish(args);
                case "invoke" -> invoke(args);
                case "logs" -> logs(args);
                case "list" -> print(call("GET", "/2015-03-31/functions", null, Map.of()));
                case "versions" -> args.length == 2 ? print(call("GET", "/2015-03-31/functions/" + name(args[1]) + "/versions", null, Map.of()))
                        : usage("versions takes one function name");
                case "delete" -> args.length == 2 ? print(call("DELETE", "/2015-03-31/functions/" + qualifiedName(args[1]), null, Map.of()))
                        : usage("delete takes one function name, or NAME:VERSION for one version");
                default -> usage("unknown subcommand '" + args[0] + "'");
            };
        } catch (UsageError e) {
            return usage(e.getMessage());
        } catch (ConnectException e) {
            err.println("flicker: cannot reach the platform at " + client.endpoint() + ": is ./flicker up running? (FLICKER_ENDPOINT)");
            return 1;
        } catch (IOException e) {
            err.println("flicker: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private static final class UsageError extends RuntimeException {
        UsageError(String message) {
            super(message);
        }
    }

    private int usage(String problem) {
        err.println("flicker fn: " + problem);
        err.println(USAGE);
        return 2;
    }

    private static String name(String s) {
        if (!s.matches("[a-zA-Z0-9_-]{1,64}")) throw new UsageError("'" + s + "' is not a function name (letters, digits, - and _)");
        return s;
    }

    /** NAME or NAME:VERSION (a published version number, or $LATEST). */
    private static String qualifiedName(String s) {
        int colon = s.indexOf(':');
        if (colon < 0) return name(s);
        String version = s.substring(colon + 1);
        if (!version.matches("[1-9][0-9]{0,8}|\\$LATEST")) throw new UsageError("'" + version + "' is not a version number or $LATEST");
        return name(s.substring(0, colon)) + ":" + version;
    }

    /** Options after the positional NAME: --flag value, repeatable ones collected in order. */
    private static Map<String, List<String>> options(String[] args, int from, List<String> known, List<String> switches) {
        Map<String, List<String>> opts = new LinkedHashMap<>();
        for (int i = from; i < args.length; i++) {
            String a = args[i];
            if (switches.contains(a)) {
                opts.computeIfAbsent(a, k -> new ArrayList<>()).add("true");
            } else if (known.contains(a)) {
                if (i + 1 >= args.length) throw new UsageError("missing a value after " + a);
                opts.computeIfAbsent(a, k -> new ArrayList<>()).add(args[++i]);
            } else {
                throw new UsageError("unknown option '" + a + "'");
            }
        }
        return opts;
    }

    private int create(String[] args, boolean update) throws IOException, InterruptedException {
        if (args.length < 2) throw new UsageError((update ? "update" : "create") + " needs a function name");
        String fn = name(args[1]);
        var opts = options(args, 2, List.of("--zip", "--dir", "--memory", "--timeout", "--env"), List.of());
        byte[] zip;
        if (opts.containsKey("--zip") == opts.containsKey("--dir")) throw new UsageError("give exactly one of --zip and --dir");
        if (opts.containsKey("--zip")) {
            Path file = Path.of(opts.get("--zip").getFirst());
            if (!Files.isRegularFile(file)) throw new UsageError(file + " is not a file");
            zip = Files.readAllBytes(file);
        } else {
            zip = zipDirectory(Path.of(opts.get("--dir").getFirst()));
        }
        err.printf("flicker: uploading %s (%,d KB)...%n", fn, (zip.length + 1023) / 1024);
        String code = Base64.getEncoder().encodeToString(zip);
        HttpResponse<String> r;
        if (update) {
            if (opts.size() > 1) throw new UsageError("update takes only --zip or --dir");
            r = call("PUT", "/2015-03-31/functions/" + fn + "/code", "{\"ZipFile\":\"" + code + "\"}", Map.of());
        } else {
            StringBuilder env = new StringBuilder();
            for (String kv : opts.getOrDefault("--env", List.of())) {
                int eq = kv.indexOf('=');
                if (eq <= 0) throw new UsageError("--env takes KEY=VALUE, got '" + kv + "'");
                env.append(env.isEmpty() ? "" : ",").append(json(kv.substring(0, eq))).append(':').append(json(kv.substring(eq + 1)));
            }
            String body = "{\"FunctionName\":" + json(fn) + ",\"Runtime\":\"provided.al2023\",\"Handler\":\"bootstrap\""
                    + ",\"MemorySize\":" + intOption(opts, "--memory", 128) + ",\"Timeout\":" + intOption(opts, "--timeout", 3)
                    + ",\"Environment\":{\"Variables\":{" + env + "}},\"Code\":{\"ZipFile\":\"" + code + "\"}}";
            r = call("POST", "/2015-03-31/functions", body, Map.of());
        }
        if (r.statusCode() >= 300) return print(r);
        err.println("flicker: uploaded; waiting for the snapshot...");
        return awaitActive(fn);
    }

    /** PublishVersion, then waits until the version's own snapshot is taken. */
    private int publish(String[] args) throws IOException, InterruptedException {
        if (args.length < 2) throw new UsageError("publish needs a function name");
        String fn = name(args[1]);
        var opts = options(args, 2, List.of("--description"), List.of());
        String body = opts.containsKey("--description") ? "{\"Description\":" + json(opts.get("--description").getFirst()) + "}" : "{}";
        HttpResponse<String> r = call("POST", "/2015-03-31/functions/" + fn + "/versions", body, Map.of());
        if (r.statusCode() >= 300) return print(r);
        String version = r.body().replaceAll(".*\"Version\":\"([^\"]*)\".*", "$1");
        err.println("flicker: published " + fn + ":" + version + "; waiting for its snapshot...");
        return awaitActive(fn + ":" + version);
    }

    /** Polls the configuration of {@code fn} (NAME or NAME:VERSION) until it leaves Pending; prints it. */
    private int awaitActive(String fn) throws IOException, InterruptedException {
        for (int i = 0; i < 600; i++) {
            HttpResponse<String> conf = call("GET", "/2015-03-31/functions/" + fn + "/configuration", null, Map.of());
            String body = conf.body();
            if (body.contains("\"State\":\"Active\"")) {
                out.println(body);
                return 0;
            }
            if (body.contains("\"State\":\"Failed\"")) {
                err.println("flicker: " + fn + " failed to initialise");
                out.println(body);
                return 1;
            }
            Thread.sleep(100);
        }
        err.println("flicker: " + fn + " is still Pending after 60 s");
        return 1;
    }

    private static int intOption(Map<String, List<String>> opts, String name, int fallback) {
        if (!opts.containsKey(name)) return fallback;
        try {
            return Integer.parseInt(opts.get(name).getFirst());
        } catch (NumberFormatException e) {
            throw new UsageError(name + " takes a whole number");
        }
    }

    private int invoke(String[] args) throws IOException, InterruptedException {
        if (args.length < 2) throw new UsageError("invoke needs a function name");
        String fn = qualifiedName(args[1]);
        var opts = options(args, 2, List.of("--payload", "--payload-file"), List.of("--async", "--logs"));
        String payload = opts.containsKey("--payload-file")
                ? Files.readString(Path.of(opts.get("--payload-file").getFirst()))
                : opts.getOrDefault("--payload", List.of("{}")).getFirst();
        Map<String, String> headers = new LinkedHashMap<>();
        if (opts.containsKey("--async")) headers.put("X-Amz-Invocation-Type", "Event");
        if (opts.containsKey("--logs")) headers.put("X-Amz-Log-Type", "Tail");
        HttpResponse<String> r = call("POST", "/2015-03-31/functions/" + fn + "/invocations", payload, headers);
        r.headers().firstValue("X-Amz-Log-Result").ifPresent(logs ->
                err.print(new String(Base64.getDecoder().decode(logs), StandardCharsets.UTF_8)));
        if (r.statusCode() == 202) {
            out.println("queued as " + r.headers().firstValue("X-Amzn-RequestId").orElse("?"));
            return 0;
        }
        int status = print(r);
        return status == 0 && r.headers().firstValue("X-Amz-Function-Error").isPresent() ? 1 : status;
    }

    private int logs(String[] args) throws IOException, InterruptedException {
        if (args.length < 2) throw new UsageError("logs needs a function name");
        String fn = name(args[1]);
        var opts = options(args, 2, List.of("--limit"), List.of());
        int limit = intOption(opts, "--limit", 20);
        return print(call("GET", "/admin/invocations?function=" + URLEncoder.encode(fn, StandardCharsets.UTF_8) + "&limit=" + limit,
                null, Map.of()));
    }

    /** Prints the body (errors to stderr with their Lambda type); returns the exit status. */
    private int print(HttpResponse<String> r) {
        if (r.statusCode() < 300) {
            if (!r.body().isEmpty()) out.println(r.body());
            return 0;
        }
        String type = r.headers().firstValue("X-Amzn-ErrorType").orElse("HTTP " + r.statusCode());
        err.println("flicker: " + type + ": " + r.body().replaceAll(".*\"message\":\"([^\"]*)\".*", "$1"));
        return 1;
    }

    private HttpResponse<String> call(String method, String pathAndQuery, String body, Map<String, String> headers)
            throws IOException, InterruptedException {
        return client.call(method, pathAndQuery, body, headers);
    }

    static byte[] zipDirectory(Path dir) throws IOException {
        if (!Files.isRegularFile(dir.resolve("bootstrap"))) throw new UsageError(dir + " has no 'bootstrap'");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes); Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.filter(Files::isRegularFile).sorted().toList()) {
                zip.putNextEntry(new ZipEntry(dir.relativize(p).toString()));
                zip.write(Files.readAllBytes(p));
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    private static String json(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
