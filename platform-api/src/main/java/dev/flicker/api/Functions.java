package dev.flicker.api;

import dev.flicker.guest.Limits;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.pool.FunctionVersion;
import dev.flicker.pool.Invocation;
import jakarta.enterprise.context.ApplicationScoped;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.panache.common.Sort;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;
import dev.flicker.guest.runtime.RuntimeApi;
import dev.flicker.scheduler.Admission;

import java.nio.file.Files;
import java.nio.file.Path;

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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;

/**
 * The functions this platform knows and their lifecycle, stored in PostgreSQL: a created function is
 * {@code Pending} while its snapshot is prepared, then {@code Active} (or {@code Failed} with the reason).
 * Request threads block (they run VMs); database work goes through {@link Db}.
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

    /**
     * What running a function needs besides its row: its code bundle, its pool version, and whether its
     * snapshot is ready. Kept in memory so that the invoke path never waits for the database.
     */
    static final class Runtime {
        final Bundle bundle;
        final FunctionVersion version;
        volatile boolean active;

        Runtime(Bundle bundle, FunctionVersion version) {
            this.bundle = bundle;
            this.version = version;
        }

        Bundle bundle() {
            return bundle;
        }

        FunctionVersion version() {
            return version;
        }
    }

    private final Engine engine;
    private final CodeStore codeStore;
    private final ObjectMapper json;
    private final Map<String, Runtime> runtimes = new ConcurrentHashMap<>();
    private final ExecutorService preparer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "function-prepare");
        t.setDaemon(true);
        return t;
    });

    private final Admission admission;
    /**
     * VMs that run at once: one per core. Admitted invocations beyond it wait their turn in arrival order.
     * vCPUs are CPU-bound, and the KVM ioctls of one process contend across threads (BENCHMARKS.md), so
     * more VMs running than cores makes every invocation slower without finishing more of them.
     */
    private final java.util.concurrent.Semaphore runSlots =
            new java.util.concurrent.Semaphore(java.lang.Runtime.getRuntime().availableProcessors(), true);
    private final Invocations invocations;

    public Functions(Engine engine, CodeStore codeStore, ObjectMapper json, Invocations invocations,
                     @ConfigProperty(name = "flicker.max-concurrency") int maxConcurrency) {
        this.engine = engine;
        this.codeStore = codeStore;
        this.json = json;
        this.invocations = invocations;
        this.admission = new Admission(maxConcurrency);
    }

    /** The admission this platform runs invocations through; read by the operator overview. */
    public Admission admission() {
        return admission;
    }

    static String arn(String name) {
        return "arn:aws:lambda:" + REGION + ":" + ACCOUNT + ":function:" + name;
    }

    /** After a restart, every stored function gets its runtime back; its snapshot is read from disk, not taken again. */
    void onStart(@Observes StartupEvent event) {
        List<FunctionRecord> all = Db.read(() -> FunctionRecord.<FunctionRecord>listAll(Sort.by("name")));
        for (FunctionRecord f : all) {
            if (!Files.isDirectory(Path.of(f.codeDir))) {
                setState(f.name, "Failed", "The function's code is gone from " + f.codeDir, "InvalidCode");
                continue;
            }
            Runtime rt = runtime(f);
            runtimes.put(f.name, rt);
            if (f.reservedConcurrency != null) admission.reserve(f.name, f.reservedConcurrency);
            // Until its snapshot is loaded again, the function cannot run: invocations get a retryable 409.
            setState(f.name, "Pending", "The function is being restored.", "Restoring");
            preparer.execute(() -> prepare(f.name, rt));
        }
        if (!all.isEmpty()) LOG.infof("restored %d functions", all.size());
    }

    /** Validates, stores the code, records the function as Pending and prepares its snapshot in the background. */
    public Model.FunctionConfiguration create(Model.CreateFunctionRequest r) {
        if (r == null) throw LambdaError.invalid("the request body is empty");
        if (r.functionName() == null || !NAME.matcher(r.functionName()).matches()) {
            throw LambdaError.invalid("FunctionName must be 1 to 64 letters, digits, '-' or '_'");
        }
        validateRuntime(r.runtime());
        int memory = validateMemory(r.memorySize() == null ? 128 : r.memorySize());
        int timeout = validateTimeout(r.timeout() == null ? 3 : r.timeout());
        if (r.code() == null || r.code().zipFile() == null) throw LambdaError.invalid("Code.ZipFile is required");
        validateText(r.description(), r.handler());
        Map<String, String> userEnv = validateEnvironment(r.environment());
        CodeStore.Stored code = codeStore.store(decodeZip(r.code().zipFile(), "Code.ZipFile"));
        FunctionRecord f = new FunctionRecord();
        f.name = r.functionName();
        f.runtime = r.runtime();
        f.handler = r.handler() == null ? "" : r.handler();
        f.description = r.description() == null ? "" : r.description();
        f.memoryMb = memory;
        f.timeoutSeconds = timeout;
        try {
            f.environmentJson = json.writeValueAsString(new TreeMap<>(userEnv));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        f.codeSha256 = code.sha256Base64();
        f.codeSize = code.zipBytes();
        f.codeDir = code.directory().toString();
        f.state = "Pending";
        f.stateReason = "The function is being created.";
        f.stateReasonCode = "Creating";
        f.lastModified = OffsetDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSxx"));
        boolean created = Db.tx(() -> FunctionRecord.<FunctionRecord>findById(f.name)
                .chain(existing -> existing != null ? Uni.createFrom().item(false) : f.persist().replaceWith(true)));
        if (!created) throw LambdaError.conflict("Function already exist: " + f.name);
        Runtime rt = runtime(f);
        runtimes.put(f.name, rt);
        preparer.execute(() -> prepare(f.name, rt));
        return configuration(f);
    }

    private static void validateRuntime(String runtime) {
        if (runtime == null || !RUNTIMES.contains(runtime)) {
            throw LambdaError.invalid("Runtime '" + runtime + "' is not supported; use provided, provided.al2 or provided.al2023");
        }
    }

    private static int validateMemory(int memory) {
        if (memory < 128 || memory > 3072) throw LambdaError.invalid("MemorySize must be between 128 and 3072 MB, was " + memory);
        return memory;
    }

    private static int validateTimeout(int timeout) {
        if (timeout < 1 || timeout > 900) throw LambdaError.invalid("Timeout must be between 1 and 900 seconds, was " + timeout);
        return timeout;
    }

    private static void validateText(String description, String handler) {
        if (description != null && description.length() > 256) throw LambdaError.invalid("Description is longer than 256 characters");
        if (handler != null && handler.length() > 128) throw LambdaError.invalid("Handler is longer than 128 characters");
    }

    private static Map<String, String> validateEnvironment(Model.Environment environment) {
        Map<String, String> userEnv = environment == null || environment.variables() == null ? Map.of() : environment.variables();
        for (String key : userEnv.keySet()) {
            if (RESERVED_ENV.contains(key)) throw LambdaError.invalid("Environment variable " + key + " is reserved");
            if (!key.matches("[a-zA-Z][a-zA-Z0-9_]*")) throw LambdaError.invalid("Environment variable name '" + key + "' is not valid");
        }
        return userEnv;
    }

    private static byte[] decodeZip(String base64, String field) {
        try {
            return Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw LambdaError.invalid(field + " is not valid base64: " + e.getMessage());
        }
    }

    /** UpdateFunctionCode: new code, a new snapshot; Pending until it is taken. */
    public Model.FunctionConfiguration updateCode(String name, String zipBase64) {
        if (zipBase64 == null) throw LambdaError.invalid("ZipFile is required");
        CodeStore.Stored code = codeStore.store(decodeZip(zipBase64, "ZipFile"));
        return reconfigure(name, f -> {
            f.codeSha256 = code.sha256Base64();
            f.codeSize = code.zipBytes();
            f.codeDir = code.directory().toString();
        });
    }

    /** UpdateFunctionConfiguration: the fields given change, the others stay; a new snapshot is taken. */
    public Model.FunctionConfiguration updateConfiguration(String name, Model.UpdateConfigurationRequest r) {
        if (r == null) throw LambdaError.invalid("the request body is empty");
        if (r.runtime() != null) validateRuntime(r.runtime());
        if (r.memorySize() != null) validateMemory(r.memorySize());
        if (r.timeout() != null) validateTimeout(r.timeout());
        validateText(r.description(), r.handler());
        Map<String, String> env = r.environment() == null ? null : validateEnvironment(r.environment());
        String envJson;
        try {
            envJson = env == null ? null : json.writeValueAsString(new TreeMap<>(env));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return reconfigure(name, f -> {
            if (r.runtime() != null) f.runtime = r.runtime();
            if (r.handler() != null) f.handler = r.handler();
            if (r.memorySize() != null) f.memoryMb = r.memorySize();
            if (r.timeout() != null) f.timeoutSeconds = r.timeout();
            if (r.description() != null) f.description = r.description();
            if (envJson != null) f.environmentJson = envJson;
        });
    }

    /** Applies {@code change} to the stored function, marks it Pending and prepares its new snapshot. */
    private Model.FunctionConfiguration reconfigure(String name, java.util.function.Consumer<FunctionRecord> change) {
        FunctionRecord f = get(name);
        if (f.state.equals("Pending")) throw LambdaError.conflict("The function " + name + " is being updated; try again when it is Active");
        change.accept(f);
        f.state = "Pending";
        f.stateReason = "The function is being updated.";
        f.stateReasonCode = "Updating";
        f.lastModified = OffsetDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSxx"));
        Db.tx(() -> FunctionRecord.<FunctionRecord>findById(name).chain(stored -> {
            if (stored == null) return Uni.createFrom().failure(LambdaError.notFound("Function not found: " + arn(name)));
            stored.codeSha256 = f.codeSha256;
            stored.codeSize = f.codeSize;
            stored.codeDir = f.codeDir;
            stored.runtime = f.runtime;
            stored.handler = f.handler;
            stored.memoryMb = f.memoryMb;
            stored.timeoutSeconds = f.timeoutSeconds;
            stored.description = f.description;
            stored.environmentJson = f.environmentJson;
            stored.state = f.state;
            stored.stateReason = f.stateReason;
            stored.stateReasonCode = f.stateReasonCode;
            stored.lastModified = f.lastModified;
            return Uni.createFrom().item(stored);
        }));
        Runtime rt = runtime(f);
        Runtime old = runtimes.put(name, rt);
        preparer.execute(() -> {
            if (old != null && !old.version().key().equals(rt.version().key())) {
                engine.pool().remove(old.version());
                old.bundle().close();
            }
            prepare(name, rt);
        });
        return configuration(f);
    }

    private Runtime runtime(FunctionRecord f) {
        Map<String, String> env;
        try {
            env = new TreeMap<>(json.readValue(f.environmentJson, new com.fasterxml.jackson.core.type.TypeReference<Map<String, String>>() {}));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("stored environment of " + f.name + " is not JSON", e);
        }
        env.put("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        env.put("_HANDLER", f.handler);
        env.put("LAMBDA_TASK_ROOT", "/var/task");
        env.put("AWS_LAMBDA_FUNCTION_NAME", f.name);
        env.put("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", Integer.toString(f.memoryMb));
        env.put("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        env.put("AWS_REGION", REGION);
        env.put("AWS_DEFAULT_REGION", REGION);
        env.put("PATH", "/var/task:/usr/bin:/bin");
        Limits limits = Limits.DEFAULT.withMemoryMib(f.memoryMb).withTimeoutMillis(f.timeoutSeconds * 1000L);
        String key = f.name + "-" + versionHash(f.codeSha256, f.memoryMb, f.timeoutSeconds, env);
        Bundle bundle = Bundle.open(Path.of(f.codeDir));
        return new Runtime(bundle, new FunctionVersion(key, bundle, "bootstrap", List.of(), env, limits));
    }

    private void prepare(String name, Runtime rt) {
        if (runtimes.get(name) != rt) return; // deleted meanwhile
        try {
            engine.pool().prepare(rt.version());
            rt.active = true;
            setState(name, "Active", null, null);
            LOG.infof("function %s is Active", name);
        } catch (RuntimeException e) {
            setState(name, "Failed", "The function did not initialise: " + e.getMessage(), "InvalidRuntime");
            LOG.warnf("function %s failed: %s", name, e.getMessage());
        }
    }

    private void setState(String name, String state, String reason, String reasonCode) {
        Db.tx(() -> FunctionRecord.update("state = ?1, stateReason = ?2, stateReasonCode = ?3 where name = ?4",
                state, reason, reasonCode, name));
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

    public FunctionRecord get(String name) {
        FunctionRecord f = Db.read(() -> FunctionRecord.<FunctionRecord>findById(name));
        if (f == null) throw LambdaError.notFound("Function not found: " + arn(name));
        return f;
    }

    public Model.FunctionConfiguration configuration(FunctionRecord f) {
        Map<String, String> userEnv;
        try {
            userEnv = json.readValue(f.environmentJson, new com.fasterxml.jackson.core.type.TypeReference<Map<String, String>>() {});
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return new Model.FunctionConfiguration(f.name, arn(f.name), f.runtime, f.handler, f.codeSize, f.description,
                f.timeoutSeconds, f.memoryMb, f.lastModified, f.codeSha256, "$LATEST", f.state, f.stateReason,
                f.stateReasonCode, f.state.equals("Pending") ? "InProgress" : "Successful",
                userEnv.isEmpty() ? null : new Model.Environment(userEnv), "Zip", List.of("x86_64"));
    }

    /** A page of functions in name order, after {@code marker}. */
    public Model.ListFunctionsResponse list(String marker, int maxItems) {
        List<FunctionRecord> page = Db.read(() -> (marker == null
                ? FunctionRecord.<FunctionRecord>find("order by name")
                : FunctionRecord.<FunctionRecord>find("name > ?1 order by name", marker)).range(0, maxItems).list());
        String next = page.size() == maxItems ? page.getLast().name : null;
        return new Model.ListFunctionsResponse(page.stream().map(this::configuration).toList(), next);
    }

    public void delete(String name) {
        long deleted = Db.tx(() -> FunctionRecord.delete("name", name));
        if (deleted == 0) throw LambdaError.notFound("Function not found: " + arn(name));
        admission.reserve(name, null);
        Runtime rt = runtimes.remove(name);
        if (rt != null) {
            preparer.execute(() -> {
                engine.pool().remove(rt.version());
                rt.bundle().close();
            });
        }
    }

    public int timeoutSeconds(String name) {
        return get(name).timeoutSeconds;
    }

    public int maxRetryAttempts(String name) {
        return get(name).maxRetryAttempts;
    }

    /** Sets how often a failed Event invocation of {@code name} is retried before it becomes a dead letter. */
    public void setMaxRetryAttempts(String name, int attempts) {
        if (attempts < 0 || attempts > 100) throw LambdaError.invalid("MaximumRetryAttempts must be between 0 and 100");
        get(name);
        Db.tx(() -> FunctionRecord.update("maxRetryAttempts = ?1 where name = ?2", attempts, name));
    }

    /** Sets or (with null) removes {@code name}'s reserved concurrency. */
    public void reserveConcurrency(String name, Integer slots) {
        get(name);
        try {
            admission.reserve(name, slots);
        } catch (IllegalArgumentException e) {
            throw LambdaError.invalid(e.getMessage());
        }
        Db.tx(() -> FunctionRecord.update("reservedConcurrency = ?1 where name = ?2", slots, name));
    }

    /**
     * Runs one invocation in its own VM, within the concurrency limits, and records it. Only a function that
     * is not ready touches the database here (to say why).
     */
    public Invocation invoke(String name, String requestId, byte[] payload) {
        Runtime rt = runtimes.get(name);
        if (rt == null || !rt.active) {
            FunctionRecord f = get(name); // 404 when it does not exist
            throw LambdaError.conflict("The operation cannot be performed at this time. The function is currently in the following state: "
                    + f.state + (f.stateReason == null ? "" : " (" + f.stateReason + ")"));
        }
        var limits = rt.version().limits();
        Invocation inv;
        try (Admission.Permit permit = admission.admit(name)) {
            runSlots.acquire();
            try {
                inv = engine.pool().invoke(rt.version(), new RuntimeApi.Event(payload, requestId,
                        System.currentTimeMillis() + limits.timeoutMillis(), arn(name), traceId()));
            } finally {
                runSlots.release();
            }
        } catch (Admission.TooManyRequests e) {
            throw LambdaError.throttled(e.reason(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LambdaError(500, "ServiceException", "interrupted while waiting to run");
        }
        invocations.record(requestId, name, limits.memoryMib(), inv);
        return inv;
    }

    private static String traceId() {
        String hex = java.util.UUID.randomUUID().toString().replace("-", "");
        return "Root=1-" + Long.toHexString(System.currentTimeMillis() / 1000) + "-" + hex.substring(0, 24) + ";Sampled=0";
    }
}
