package dev.flicker.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.SdkPojo;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.lambda.LambdaClient;
import software.amazon.awssdk.services.lambda.model.FunctionConfiguration;
import software.amazon.awssdk.services.lambda.model.GetFunctionConfigurationResponse;
import software.amazon.awssdk.services.lambda.model.InvocationType;
import software.amazon.awssdk.services.lambda.model.InvokeResponse;
import software.amazon.awssdk.services.lambda.model.LogType;
import software.amazon.awssdk.services.lambda.model.State;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * {@code flicker fn create|update|publish|invoke|logs|list|versions|delete}: the command-line client of a running
 * platform. It is a Lambda client like any other, the AWS SDK's {@link LambdaClient} (see {@link PlatformClient});
 * the endpoint and credentials come from {@code FLICKER_ENDPOINT}, {@code FLICKER_ACCESS_KEY_ID} and
 * {@code FLICKER_SECRET_ACCESS_KEY}. Answers are printed as Lambda's JSON on stdout; progress and errors go to
 * stderr, an error as one line with Lambda's error type.
 */
@Command(name = "fn", synopsisSubcommandLabel = "COMMAND",
        subcommands = {FnCommand.Create.class, FnCommand.Update.class, FnCommand.Publish.class, FnCommand.Invoke.class,
                FnCommand.Logs.class, FnCommand.ListFunctions.class, FnCommand.Versions.class, FnCommand.Delete.class},
        description = {"The client of a running platform: deploy, invoke and inspect functions.",
                "Endpoint: FLICKER_ENDPOINT (default " + PlatformClient.DEFAULT_ENDPOINT + "); key: FLICKER_ACCESS_KEY_ID and "
                        + "FLICKER_SECRET_ACCESS_KEY (the platform's defaults otherwise).",
                "Exit status: 0 done, 1 refused or failed (one line with Lambda's error type), 2 a usage error."})
final class FnCommand {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Lambda's function names as the platform takes them; a version is a published number or $LATEST. */
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");
    private static final Pattern VERSION = Pattern.compile("[1-9][0-9]{0,8}|\\$LATEST");

    @ParentCommand
    Main main;

    /** A function name, or NAME:VERSION where a command takes one version. */
    record FunctionRef(String name, String qualifier) {
        @Override
        public String toString() {
            return qualifier == null ? name : name + ":" + qualifier;
        }
    }

    static String checkedName(String s) {
        if (!NAME.matcher(s).matches()) throw new TypeConversionException("'" + s + "' is not a function name (letters, digits, - and _)");
        return s;
    }

    static final class NameConverter implements ITypeConverter<String> {
        @Override
        public String convert(String s) {
            return checkedName(s);
        }
    }

    static final class QualifiedConverter implements ITypeConverter<FunctionRef> {
        @Override
        public FunctionRef convert(String s) {
            int colon = s.indexOf(':');
            if (colon < 0) return new FunctionRef(checkedName(s), null);
            String version = s.substring(colon + 1);
            if (!VERSION.matcher(version).matches()) throw new TypeConversionException("'" + version + "' is not a version number or $LATEST");
            return new FunctionRef(checkedName(s.substring(0, colon)), version);
        }
    }

    /**
     * What every subcommand shares: the platform's client, stdout and stderr, and one way to report what went
     * wrong. A refusal of the platform is one line with Lambda's error type and status 1.
     */
    abstract static class Action implements Callable<Integer> {
        @ParentCommand
        FnCommand fn;
        @Spec
        CommandSpec spec;
        PrintWriter out;
        PrintWriter err;

        abstract int run(PlatformClient client) throws IOException, InterruptedException;

        @Override
        public final Integer call() throws IOException, InterruptedException {
            out = spec.commandLine().getOut();
            err = spec.commandLine().getErr();
            PlatformClient client;
            try {
                client = PlatformClient.fromEnvironment(fn.main.env);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage(), e);
            }
            try (client) {
                return run(client);
            } catch (AwsServiceException e) {
                String type = e.awsErrorDetails() == null || e.awsErrorDetails().errorCode() == null
                        ? "HTTP " + e.statusCode() : e.awsErrorDetails().errorCode();
                String message = e.awsErrorDetails() == null || e.awsErrorDetails().errorMessage() == null
                        ? e.getMessage() : e.awsErrorDetails().errorMessage();
                return fail(type + ": " + message);
            } catch (SdkClientException | IOException e) {
                if (unreachable(e)) return fail("cannot reach the platform at " + client.endpoint() + ": is ./flicker up running? (FLICKER_ENDPOINT)");
                // The SDK's messages say what failed; a file's (AccessDeniedException: PATH) need their type.
                return fail(e instanceof SdkClientException ? e.getMessage() : e.getClass().getSimpleName() + ": " + e.getMessage());
            } finally {
                out.flush();
                err.flush();
            }
        }

        private static boolean unreachable(Throwable e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof ConnectException || t instanceof UnknownHostException) return true;
            }
            return false;
        }

        /** One line on stderr, status 1. */
        int fail(String problem) {
            err.println("flicker: " + Main.oneLine(problem));
            return 1;
        }

        ParameterException usage(String problem) {
            return new ParameterException(spec.commandLine(), problem);
        }

        /** Lambda's JSON of an SDK answer, or any JSON, on one line of stdout. */
        void print(JsonNode json) throws IOException {
            out.println(JSON.writeValueAsString(json));
        }

        void print(SdkPojo answer) throws IOException {
            print(ModelJson.of(answer));
        }

        /** Waits until {@code ref} leaves Pending and prints its configuration: 0 when it is Active. */
        int awaitActive(PlatformClient client, FunctionRef ref, Duration limit) throws IOException, InterruptedException {
            Optional<GetFunctionConfigurationResponse> settled = client.awaitSettled(ref.name(), ref.qualifier(), limit);
            if (settled.isEmpty()) return fail(ref + " is still Pending after " + limit.toSeconds() + " s");
            GetFunctionConfigurationResponse conf = settled.get();
            print(conf);
            if (conf.state() == State.ACTIVE) return 0;
            return fail(ref + " is " + conf.stateAsString() + (conf.stateReason() == null ? "" : ": " + conf.stateReason()));
        }
    }

    /** --zip FILE or --dir DIR, exactly one. */
    static final class CodeSource {
        @Option(names = "--zip", paramLabel = "FILE", required = true,
                description = "A zip of the function's code: 'bootstrap' at its top for a provided runtime, .py files for python3.11.")
        Path zip;
        @Option(names = "--dir", paramLabel = "DIR", required = true, description = "A directory of the function's code, zipped for the upload.")
        Path dir;

        /** The zip to upload; a directory for a provided runtime ({@code bootstrapRequired}) must hold its 'bootstrap'. */
        byte[] read(Action action, boolean bootstrapRequired) throws IOException {
            if (zip != null) {
                if (!Files.isRegularFile(zip)) throw action.usage(zip + " is not a file");
                return Files.readAllBytes(zip);
            }
            if (!Files.isDirectory(dir)) throw action.usage(dir + " is not a directory");
            if (bootstrapRequired && !Files.isRegularFile(dir.resolve("bootstrap"))) {
                throw action.usage(dir + " has no 'bootstrap' (a provided runtime needs one)");
            }
            return zipDirectory(dir);
        }
    }

    /** --wait-seconds, for the commands that wait for a snapshot. */
    static final class Wait {
        @Option(names = "--wait-seconds", paramLabel = "S", defaultValue = "60",
                description = "How long to wait for the function to leave Pending (its snapshot taken); default: ${DEFAULT-VALUE}.")
        int seconds;

        /** Checked before anything is sent, so that a mistake here leaves nothing half done. */
        Duration limit(Action action) {
            if (seconds < 0) throw action.usage("--wait-seconds must not be negative, was " + seconds);
            return Duration.ofSeconds(seconds);
        }
    }

    @Command(name = "create", description = "Create a function (CreateFunction) and wait until it is Active; prints its configuration.")
    static final class Create extends Action {
        @Parameters(index = "0", paramLabel = "NAME", converter = NameConverter.class, description = "The function's name.")
        String name;
        @ArgGroup(exclusive = true, multiplicity = "1")
        CodeSource code;
        @Option(names = "--memory", paramLabel = "MB", defaultValue = "128", description = "Memory in MB, 128 to 3072 (default: ${DEFAULT-VALUE}).")
        int memoryMb;
        @Option(names = "--timeout", paramLabel = "S", defaultValue = "3", description = "Timeout in seconds, 1 to 900 (default: ${DEFAULT-VALUE}).")
        int timeoutSeconds;
        @Option(names = "--env", paramLabel = "KEY=VALUE", description = "An environment variable; repeat for more.")
        List<String> env = new ArrayList<>();
        @Option(names = "--description", paramLabel = "TEXT", description = "The function's description.")
        String description;
        @Option(names = "--runtime", paramLabel = "RUNTIME", defaultValue = "provided.al2023",
                description = "provided, provided.al2, provided.al2023 or python3.11 (default: ${DEFAULT-VALUE}).")
        String runtime;
        @Option(names = "--handler", paramLabel = "HANDLER", defaultValue = "bootstrap",
                description = "The handler, passed to the runtime as _HANDLER: module.function for python3.11 (default: ${DEFAULT-VALUE}).")
        String handler;
        @Option(names = "--publish", description = "Publish version 1 as well, and wait for it.")
        boolean publish;
        @Mixin
        Wait await;

        @Override
        int run(PlatformClient client) throws IOException, InterruptedException {
            Duration wait = await.limit(this);
            Map<String, String> variables = variables(env);
            byte[] zip = code.read(this, runtime.startsWith("provided"));
            err.printf("flicker: uploading %s (%,d KB)...%n", name, (zip.length + 1023) / 1024);
            err.flush();
            var created = client.lambda().createFunction(b -> {
                b.functionName(name).runtime(runtime).handler(handler).memorySize(memoryMb).timeout(timeoutSeconds)
                        .description(description).publish(publish).code(c -> c.zipFile(SdkBytes.fromByteArray(zip)));
                if (!variables.isEmpty()) b.environment(e -> e.variables(variables));
            });
            err.println("flicker: uploaded; waiting for the snapshot...");
            return awaitActive(client, new FunctionRef(name, publish ? created.version() : null), wait);
        }

        /** KEY=VALUE, split at the first '=': the value is everything after it, byte for byte. */
        private Map<String, String> variables(List<String> pairs) {
            Map<String, String> out = new LinkedHashMap<>();
            for (String kv : pairs) {
                int eq = kv.indexOf('=');
                if (eq <= 0) throw usage("--env takes KEY=VALUE, got '" + Main.oneLine(kv) + "'");
                out.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
            return out;
        }
    }

    @Command(name = "update", description = "Replace the function's code (UpdateFunctionCode) and wait until it is Active again; prints its configuration.")
    static final class Update extends Action {
        @Parameters(index = "0", paramLabel = "NAME", converter = NameConverter.class, description = "The function's name.")
        String name;
        @ArgGroup(exclusive = true, multiplicity = "1")
        CodeSource code;
        @Mixin
        Wait await;

        @Override
        int run(PlatformClient client) throws IOException, InterruptedException {
            Duration wait = await.limit(this);
            byte[] zip = code.read(this, false); // the platform checks the code against the function's runtime
            err.printf("flicker: uploading %s (%,d KB)...%n", name, (zip.length + 1023) / 1024);
            err.flush();
            client.lambda().updateFunctionCode(b -> b.functionName(name).zipFile(SdkBytes.fromByteArray(zip)));
            err.println("flicker: uploaded; waiting for the snapshot...");
            return awaitActive(client, new FunctionRef(name, null), wait);
        }
    }

    @Command(name = "publish", description = "Publish a version of $LATEST (PublishVersion) and wait for its own snapshot; prints its configuration.")
    static final class Publish extends Action {
        @Parameters(index = "0", paramLabel = "NAME", converter = NameConverter.class, description = "The function's name.")
        String name;
        @Option(names = "--description", paramLabel = "TEXT", description = "The version's description.")
        String description;
        @Mixin
        Wait await;

        @Override
        int run(PlatformClient client) throws IOException, InterruptedException {
            Duration wait = await.limit(this);
            String version = client.lambda().publishVersion(b -> b.functionName(name).description(description)).version();
            err.println("flicker: published " + name + ":" + version + "; waiting for its snapshot...");
            return awaitActive(client, new FunctionRef(name, version), wait);
        }
    }

    @Command(name = "invoke", description = {"Invoke a function (Invoke) and print its answer.",
            "Exit status 1 when the function reports an error (its answer is printed all the same)."})
    static final class Invoke extends Action {
        @Parameters(index = "0", paramLabel = "NAME[:VERSION]", converter = QualifiedConverter.class,
                description = "The function, or one published version of it.")
        FunctionRef ref;
        @ArgGroup(exclusive = true)
        Payload payload = new Payload();
        @Option(names = "--async", description = "Queue the invocation (InvocationType Event) and print its request id.")
        boolean async;
        @Option(names = "--logs", description = "Print the last 4 KB of the function's output on stderr (LogType Tail).")
        boolean logs;

        static final class Payload {
            @Option(names = "--payload", paramLabel = "JSON", description = "The event (default: {}).")
            String text;
            @Option(names = "--payload-file", paramLabel = "FILE", description = "A file that holds the event.")
            Path file;
        }

        @Override
        int run(PlatformClient client) throws IOException {
            byte[] event;
            if (payload.file != null) {
                if (!Files.isRegularFile(payload.file)) throw usage(payload.file + " is not a file");
                event = Files.readAllBytes(payload.file);
            } else {
                event = (payload.text == null ? "{}" : payload.text).getBytes(StandardCharsets.UTF_8);
            }
            InvokeResponse r = client.lambda().invoke(b -> b.functionName(ref.name()).qualifier(ref.qualifier())
                    .payload(SdkBytes.fromByteArray(event))
                    .invocationType(async ? InvocationType.EVENT : InvocationType.REQUEST_RESPONSE)
                    .logType(logs ? LogType.TAIL : LogType.NONE));
            if (r.logResult() != null) {
                err.print(new String(Base64.getDecoder().decode(r.logResult()), StandardCharsets.UTF_8));
                err.flush();
            }
            if (async) {
                out.println("queued as " + r.responseMetadata().requestId());
                return 0;
            }
            String answer = r.payload() == null ? "" : r.payload().asUtf8String();
            if (!answer.isEmpty()) out.println(answer);
            return r.functionError() == null ? 0 : 1;
        }
    }

    @Command(name = "logs", description = "Print the function's invocation records, newest first: status, start path, phase timings, output tail.")
    static final class Logs extends Action {
        @Parameters(index = "0", paramLabel = "NAME", converter = NameConverter.class, description = "The function's name.")
        String name;
        @Option(names = "--limit", paramLabel = "N", defaultValue = "20", description = "How many records, 1 to 1000 (default: ${DEFAULT-VALUE}).")
        int limit;

        @Override
        int run(PlatformClient client) throws IOException {
            // Not in Lambda's API: the platform's own /admin/invocations, which takes a SigV4 signature.
            print(client.getJson("/admin/invocations", Map.of("function", name, "limit", Integer.toString(limit))));
            return 0;
        }
    }

    @Command(name = "list", description = "List the functions (ListFunctions, every page).")
    static final class ListFunctions extends Action {
        @Override
        int run(PlatformClient client) throws IOException {
            print(listOf("Functions", client.lambda().listFunctionsPaginator().functions().stream()));
            return 0;
        }
    }

    @Command(name = "versions", description = "List the function's versions, $LATEST first (ListVersionsByFunction, every page).")
    static final class Versions extends Action {
        @Parameters(index = "0", paramLabel = "NAME", converter = NameConverter.class, description = "The function's name.")
        String name;

        @Override
        int run(PlatformClient client) throws IOException {
            print(listOf("Versions", client.lambda().listVersionsByFunctionPaginator(b -> b.functionName(name)).versions().stream()));
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete a function with all its versions, or NAME:VERSION for one version (DeleteFunction).")
    static final class Delete extends Action {
        @Parameters(index = "0", paramLabel = "NAME[:VERSION]", converter = QualifiedConverter.class,
                description = "The function, or one published version of it.")
        FunctionRef ref;

        @Override
        int run(PlatformClient client) {
            client.lambda().deleteFunction(b -> b.functionName(ref.name()).qualifier(ref.qualifier()));
            return 0;
        }
    }

    /** {@code {"Functions": [...]}}, as one page of Lambda's list would be, with every page in it. */
    private static ObjectNode listOf(String field, Stream<FunctionConfiguration> items) {
        ObjectNode list = JSON.createObjectNode();
        var array = list.putArray(field);
        items.forEach(c -> array.add(ModelJson.of(c)));
        return list;
    }

    /** The files under {@code dir} as a zip, in name order, with paths relative to it. */
    static byte[] zipDirectory(Path dir) throws IOException {
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
}
