package dev.flicker.api;

import dev.flicker.guest.Limits;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.pool.FunctionVersion;
import dev.flicker.pool.Invocation;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;

/**
 * The functions this platform knows and their lifecycle: a created function is {@code Pending} while its
 * snapshot is prepared, then {@code Active} (or {@code Failed} with the reason). Kept in memory for now;
 * persistence in PostgreSQL is the next step of the control-plane issue.
 */
@ApplicationScoped
public class Functions {
    private static final Logger LOG = Logger.getLogger(Functions.class);
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");
    private static final Set<String> RUNTIMES = Set.of("provided", "provided.al2", "provided.al2023");
    private static final Set<String> RESERVED_ENV = Set.of("AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT",
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "LAMBDA_RUNTIME_DIR");
    static final String REGION = "local", ACCOUNT = "000000000000";

    /** One function: its configuration, its code and where its lifecycle stands. */
    static final class Function {
        final String name;
        final Model.CreateFunctionRequest request;
        final CodeStore.Stored code;
        final String lastModified;
        final Bundle bundle;
        final FunctionVersion version;
        volatile String state = "Pending";
        volatile String stateReason = "The function is being created.";
        volatile String stateReasonCode = "Creating";

        Function(String name, Model.CreateFunctionRequest request, CodeStore.Stored code, Bundle bundle, FunctionVersion version) {
            this.name = name;
            this.request = request;
            this.code = code;
            this.bundle = bundle;
            this.version = version;
            this.lastModified = OffsetDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSxx"));
        }

        int memoryMb() {
            return version.limits().memoryMib();
        }

        int timeoutSeconds() {
            return (int) (version.limits().timeoutMillis() / 1000);
        }
    }

    private final Engine engine;
    private final CodeStore codeStore;
    private final ConcurrentSkipListMap<String, Function> functions = new ConcurrentSkipListMap<>();
    private final ExecutorService preparer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "function-prepare");
        t.setDaemon(true);
        return t;
    });

    public Functions(Engine engine, CodeStore codeStore) {
        this.engine = engine;
        this.codeStore = codeStore;
    }

    static String arn(String name) {
        return "arn:aws:lambda:" + REGION + ":" + ACCOUNT + ":function:" + name;
    }

    /** Validates, stores the code, registers the function as Pending and prepares its snapshot in the background. */
    public Model.FunctionConfiguration create(Model.CreateFunctionRequest r) {
        if (r == null) throw LambdaError.invalid("the request body is empty");
        if (r.functionName() == null || !NAME.matcher(r.functionName()).matches()) {
            throw LambdaError.invalid("FunctionName must be 1 to 64 letters, digits, '-' or '_'");
        }
        if (r.runtime() == null || !RUNTIMES.contains(r.runtime())) {
            throw LambdaError.invalid("Runtime '" + r.runtime() + "' is not supported; use provided, provided.al2 or provided.al2023");
        }
        int memory = r.memorySize() == null ? 128 : r.memorySize();
        if (memory < 128 || memory > 3072) throw LambdaError.invalid("MemorySize must be between 128 and 3072 MB, was " + memory);
        int timeout = r.timeout() == null ? 3 : r.timeout();
        if (timeout < 1 || timeout > 900) throw LambdaError.invalid("Timeout must be between 1 and 900 seconds, was " + timeout);
        if (r.code() == null || r.code().zipFile() == null) throw LambdaError.invalid("Code.ZipFile is required");
        Map<String, String> userEnv = r.environment() == null || r.environment().variables() == null ? Map.of()
                : r.environment().variables();
        for (String key : userEnv.keySet()) {
            if (RESERVED_ENV.contains(key)) throw LambdaError.invalid("Environment variable " + key + " is reserved");
            if (!key.matches("[a-zA-Z][a-zA-Z0-9_]*")) throw LambdaError.invalid("Environment variable name '" + key + "' is not valid");
        }
        byte[] zip;
        try {
            zip = Base64.getDecoder().decode(r.code().zipFile());
        } catch (IllegalArgumentException e) {
            throw LambdaError.invalid("Code.ZipFile is not valid base64: " + e.getMessage());
        }
        if (functions.containsKey(r.functionName())) throw LambdaError.conflict("Function already exist: " + r.functionName());
        CodeStore.Stored code = codeStore.store(zip);
        Map<String, String> env = new TreeMap<>(userEnv);
        env.put("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        env.put("_HANDLER", r.handler() == null ? "" : r.handler());
        env.put("LAMBDA_TASK_ROOT", "/var/task");
        env.put("AWS_LAMBDA_FUNCTION_NAME", r.functionName());
        env.put("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", Integer.toString(memory));
        env.put("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        env.put("AWS_REGION", REGION);
        env.put("AWS_DEFAULT_REGION", REGION);
        env.put("PATH", "/var/task:/usr/bin:/bin");
        Limits limits = Limits.DEFAULT.withMemoryMib(memory).withTimeoutMillis(timeout * 1000L);
        String key = r.functionName() + "-" + versionHash(code.sha256Base64(), memory, timeout, env);
        Bundle bundle = Bundle.open(code.directory());
        FunctionVersion version = new FunctionVersion(key, bundle, "bootstrap", List.of(), env, limits);
        Function f = new Function(r.functionName(), r, code, bundle, version);
        if (functions.putIfAbsent(f.name, f) != null) {
            bundle.close();
            throw LambdaError.conflict("Function already exist: " + r.functionName());
        }
        preparer.execute(() -> prepare(f));
        return configuration(f);
    }

    private void prepare(Function f) {
        try {
            engine.pool().prepare(f.version);
            f.stateReason = null;
            f.stateReasonCode = null;
            f.state = "Active";
            LOG.infof("function %s is Active", f.name);
        } catch (RuntimeException e) {
            f.stateReason = "The function did not initialise: " + e.getMessage();
            f.stateReasonCode = "InvalidRuntime";
            f.state = "Failed";
            LOG.warnf("function %s failed: %s", f.name, e.getMessage());
        }
    }

    private static String versionHash(String codeSha, int memory, int timeout, Map<String, String> env) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update((codeSha + "|" + memory + "|" + timeout + "|" + env).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d.digest()).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    public Function get(String name) {
        Function f = functions.get(name);
        if (f == null) throw LambdaError.notFound("Function not found: " + arn(name));
        return f;
    }

    public Model.FunctionConfiguration configuration(Function f) {
        Map<String, String> userEnv = f.request.environment() == null ? null : f.request.environment().variables();
        return new Model.FunctionConfiguration(f.name, arn(f.name), f.request.runtime(), f.request.handler(),
                f.code.zipBytes(), f.request.description() == null ? "" : f.request.description(), f.timeoutSeconds(),
                f.memoryMb(), f.lastModified, f.code.sha256Base64(), "$LATEST", f.state, f.stateReason,
                f.stateReasonCode, f.state.equals("Pending") ? "InProgress" : "Successful",
                userEnv == null ? null : new Model.Environment(userEnv), "Zip", List.of("x86_64"));
    }

    /** A page of functions in name order, after {@code marker}. */
    public Model.ListFunctionsResponse list(String marker, int maxItems) {
        var tail = marker == null ? functions : functions.tailMap(marker, false);
        List<Function> page = tail.values().stream().limit(maxItems).toList();
        String next = page.size() == maxItems && tail.size() > maxItems ? page.getLast().name : null;
        return new Model.ListFunctionsResponse(page.stream().map(this::configuration).toList(), next);
    }

    public void delete(String name) {
        Function f = functions.remove(name);
        if (f == null) throw LambdaError.notFound("Function not found: " + arn(name));
        preparer.execute(() -> {
            engine.pool().remove(f.version);
            f.bundle.close();
        });
    }

    /** Runs one invocation in its own VM. */
    public Invocation invoke(String name, byte[] payload) {
        Function f = get(name);
        if (!f.state.equals("Active")) {
            throw LambdaError.conflict("The operation cannot be performed at this time. The function is currently in the following state: "
                    + f.state + (f.stateReason == null ? "" : " (" + f.stateReason + ")"));
        }
        return engine.pool().invoke(f.version, payload);
    }
}
