package dev.flicker.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flicker.lambda.runtime.LambdaRuntime;
import dev.flicker.lambda.runtime.RuntimeApi;
import dev.flicker.scheduler.Admission;
import dev.flicker.scheduler.FunctionSpec;
import dev.flicker.scheduler.Invoked;
import dev.flicker.scheduler.Scheduler;
import io.quarkus.panache.common.Sort;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.persistence.LockModeType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The functions this platform knows, their published versions and their lifecycle, stored in PostgreSQL.
 * {@code $LATEST} and every published version each have their own snapshot: a version is {@code Pending}
 * while it is prepared, then {@code Active} (or {@code Failed} with the reason). Everything that runs goes through
 * the {@link Scheduler}: each version is deployed there under its {@link FunctionRef#key()}. Request threads block
 * (they run VMs); database work goes through {@link Db}.
 */
@ApplicationScoped
public class Functions {
    private static final Logger LOG = Logger.getLogger(Functions.class);
    private static final Set<String> RESERVED_ENV = Set.of("AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT",
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "LAMBDA_RUNTIME_DIR");
    private static final DateTimeFormatter LAST_MODIFIED = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSxx");
    private static final TypeReference<Map<String, String>> STRING_MAP = new TypeReference<>() {};
    static final String REGION = "local", ACCOUNT = "000000000000";

    private final Scheduler scheduler;
    private final CodeStore codeStore;
    private final ObjectMapper json;
    private final Invocations invocations;

    public Functions(Scheduler scheduler, CodeStore codeStore, ObjectMapper json, Invocations invocations) {
        this.scheduler = scheduler;
        this.codeStore = codeStore;
        this.json = json;
        this.invocations = invocations;
    }

    static String arn(String name) {
        return "arn:aws:lambda:" + REGION + ":" + ACCOUNT + ":function:" + name;
    }

    /** After a restart, every stored function and version gets its runtime back; snapshots are read from disk, not taken again. */
    void onStart(@Observes StartupEvent event) {
        List<FunctionRecord> all = Db.read(() -> FunctionRecord.<FunctionRecord>listAll(Sort.by("name")));
        List<FunctionVersionRecord> versions = Db.read(() -> FunctionVersionRecord.<FunctionVersionRecord>listAll(Sort.by("qualifiedName")));
        for (FunctionRecord f : all) {
            if (f.reservedConcurrency != null) scheduler.reserve(f.name, f.reservedConcurrency);
            restore(FunctionRef.latest(f.name), f);
        }
        for (FunctionVersionRecord v : versions) restore(versionRef(v), v);
        if (!all.isEmpty()) LOG.infof("restored %d functions and %d published versions", all.size(), versions.size());
    }

    private void restore(FunctionRef ref, FunctionConfig c) {
        // Until its snapshot is loaded again, the version cannot run: invocations get a retryable 409.
        setState(ref, FunctionState.Pending, "The function is being restored.", "Restoring");
        startPreparing(ref, c);
    }

    private static FunctionRef versionRef(FunctionVersionRecord v) {
        return new FunctionRef(v.functionName, Integer.toString(v.version));
    }

    // ---- $LATEST: create and update ----

    /**
     * Validates, stores the code, records the function as Pending and prepares its snapshot in the background.
     * With {@code Publish}, version 1 is published at once and its configuration is the answer.
     */
    public Model.FunctionConfiguration create(Model.CreateFunctionRequest r, CodeStore.Upload zip) {
        if (r == null) throw LambdaError.invalid("the request body is empty");
        if (!FunctionRef.validName(r.functionName())) {
            throw LambdaError.invalid("FunctionName must be 1 to 64 letters, digits, '-' or '_'");
        }
        validateRuntime(r.runtime());
        int memory = validateMemory(r.memorySize() == null ? 128 : r.memorySize());
        int timeout = validateTimeout(r.timeout() == null ? 3 : r.timeout());
        if (!zip.received()) throw LambdaError.invalid("Code.ZipFile is required");
        validateText(r.description(), r.handler());
        String envJson = environmentJson(validateEnvironment(r.environment()));
        // A name that is taken is refused before its zip is unpacked (a create racing for it is caught below).
        if (Db.read(() -> FunctionRecord.<FunctionRecord>findById(r.functionName())) != null) throw nameTaken(r.functionName());
        FunctionRecord f = new FunctionRecord();
        boolean created = false;
        try (CodeStore.Stored code = codeStore.store(zip)) {
            requireBootstrap(r.runtime(), code);
            f.name = r.functionName();
            f.runtime = r.runtime();
            f.handler = r.handler() == null ? "" : r.handler();
            f.description = r.description() == null ? "" : r.description();
            f.memoryMb = memory;
            f.timeoutSeconds = timeout;
            f.environmentJson = envJson;
            f.codeSha256 = code.sha256Base64();
            f.codeSize = code.zipBytes();
            f.codeDir = code.directory().toString();
            f.state = FunctionState.Pending;
            f.stateReason = "The function is being created.";
            f.stateReasonCode = "Creating";
            f.lastModified = now();
            created = Db.tx(() -> FunctionRecord.<FunctionRecord>findById(f.name)
                    .chain(existing -> existing != null ? Uni.createFrom().item(false) : f.persist().replaceWith(true)));
        } finally {
            if (!created) codeStore.collectGarbage(); // its code may be used by nothing now
        }
        if (!created) throw nameTaken(f.name);
        FunctionRef ref = FunctionRef.latest(f.name);
        startPreparing(ref, f);
        if (Boolean.TRUE.equals(r.publish())) return publish(f.name, null, null, true);
        return configuration(ref, f);
    }

    private static LambdaError nameTaken(String name) {
        return LambdaError.conflict("Function already exist: " + name);
    }

    private static void validateRuntime(String runtime) {
        if (runtime == null || LambdaRuntime.of(runtime).isEmpty()) {
            throw LambdaError.invalid("Runtime '" + runtime + "' is not supported; use one of " + String.join(", ", LambdaRuntime.names()));
        }
    }

    /** A custom runtime ({@code provided}) runs the zip's own {@code bootstrap}: a zip without one is refused. */
    private static void requireBootstrap(String runtime, CodeStore.Stored code) {
        if (LambdaRuntime.of(runtime).map(LambdaRuntime::needsBootstrap).orElse(false)
                && !Files.isRegularFile(code.directory().resolve("bootstrap"), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw LambdaError.invalid("the zip has no 'bootstrap' at its top level: a provided runtime needs one");
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
        validateDescription(description);
        if (handler != null && handler.length() > 128) throw LambdaError.invalid("Handler is longer than 128 characters");
        // Lambda's pattern for Handler is [^\s]+: no spaces, no control characters.
        if (handler != null && (handler.chars().anyMatch(Character::isWhitespace) || Params.hasControlCharacters(handler, false))) {
            throw LambdaError.invalid("Handler must not contain spaces or control characters");
        }
    }

    private static void validateDescription(String description) {
        if (description != null && description.length() > 256) throw LambdaError.invalid("Description is longer than 256 characters");
        Params.text("Description", description);
    }

    private static Map<String, String> validateEnvironment(Model.Environment environment) {
        Map<String, String> userEnv = environment == null || environment.variables() == null ? Map.of() : environment.variables();
        for (String key : userEnv.keySet()) {
            if (RESERVED_ENV.contains(key)) throw LambdaError.invalid("Environment variable " + key + " is reserved");
            if (!key.matches("[a-zA-Z][a-zA-Z0-9_]*")) throw LambdaError.invalid("Environment variable name '" + key + "' is not valid");
            String value = userEnv.get(key);
            if (value == null) throw LambdaError.invalid("Environment variable " + key + " has no value (null)");
            // A process's environment is C strings: a NUL would cut the value short in the function.
            if (value.indexOf('\0') >= 0) throw LambdaError.invalid("Environment variable " + key + " contains a NUL character");
        }
        return userEnv;
    }

    private String environmentJson(Map<String, String> env) {
        try {
            return json.writeValueAsString(new TreeMap<>(env));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private Map<String, String> environment(FunctionConfig c) {
        try {
            return json.readValue(c.environmentJson, STRING_MAP);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored environment is not JSON: " + c.environmentJson, e);
        }
    }

    private static String now() {
        return OffsetDateTime.now(ZoneOffset.UTC).format(LAST_MODIFIED);
    }

    /** UpdateFunctionCode: new code for $LATEST, a new snapshot; Pending until it is taken. With {@code publish}, a new version too. */
    public Model.FunctionConfiguration updateCode(String name, CodeStore.Upload zip, boolean publish) {
        if (!zip.received()) throw LambdaError.invalid("ZipFile is required");
        String runtime = get(name).runtime; // 404 before the zip is unpacked
        Model.FunctionConfiguration latest;
        try (CodeStore.Stored code = codeStore.store(zip)) {
            requireBootstrap(runtime, code);
            latest = reconfigure(name, f -> {
                f.codeSha256 = code.sha256Base64();
                f.codeSize = code.zipBytes();
                f.codeDir = code.directory().toString();
            });
        } finally {
            codeStore.collectGarbage(); // the code it replaced, or this one when the update was refused
        }
        return publish ? publish(name, null, null, true) : latest;
    }

    /** UpdateFunctionConfiguration: the fields given change, the others stay; a new snapshot is taken. */
    public Model.FunctionConfiguration updateConfiguration(String name, Model.UpdateConfigurationRequest r) {
        if (r == null) throw LambdaError.invalid("the request body is empty");
        if (r.runtime() != null) validateRuntime(r.runtime());
        if (r.memorySize() != null) validateMemory(r.memorySize());
        if (r.timeout() != null) validateTimeout(r.timeout());
        validateText(r.description(), r.handler());
        String envJson = r.environment() == null ? null : environmentJson(validateEnvironment(r.environment()));
        return reconfigure(name, f -> {
            if (r.runtime() != null) f.runtime = r.runtime();
            if (r.handler() != null) f.handler = r.handler();
            if (r.memorySize() != null) f.memoryMb = r.memorySize();
            if (r.timeout() != null) f.timeoutSeconds = r.timeout();
            if (r.description() != null) f.description = r.description();
            if (envJson != null) f.environmentJson = envJson;
        });
    }

    /** Applies {@code change} to $LATEST, marks it Pending and prepares its new snapshot. Published versions stay as they are. */
    private Model.FunctionConfiguration reconfigure(String name, Consumer<FunctionRecord> change) {
        FunctionRecord f = get(name);
        if (f.state == FunctionState.Pending) throw LambdaError.conflict("The function " + name + " is being updated; try again when it is Active");
        change.accept(f);
        f.state = FunctionState.Pending;
        f.stateReason = "The function is being updated.";
        f.stateReasonCode = "Updating";
        f.lastModified = now();
        Db.tx(() -> FunctionRecord.<FunctionRecord>findById(name).chain(stored -> {
            if (stored == null) return Uni.createFrom().failure(LambdaError.notFound("Function not found: " + arn(name)));
            stored.copyConfigFrom(f);
            stored.copyStateFrom(f);
            return Uni.createFrom().item(stored);
        }));
        FunctionRef ref = FunctionRef.latest(name);
        startPreparing(ref, f);
        return configuration(ref, f);
    }

    // ---- published versions ----

    /**
     * PublishVersion: an immutable copy of $LATEST as the next version number, with its own snapshot. As in
     * Lambda, nothing is published when the newest version already runs the same code and configuration
     * (that version is the answer), and {@code codeSha256}, when given, must match $LATEST's code.
     * {@code whilePending} lets CreateFunction and UpdateFunctionCode publish what they just stored.
     */
    public Model.FunctionConfiguration publish(String name, String codeSha256, String description, boolean whilePending) {
        validateDescription(description);
        FunctionVersionRecord published = Db.tx(() -> FunctionRecord.<FunctionRecord>findById(name, LockModeType.PESSIMISTIC_WRITE)
                .chain(f -> {
                    if (f == null) return Uni.createFrom().failure(LambdaError.notFound("Function not found: " + arn(name)));
                    if (!whilePending && f.state == FunctionState.Pending) {
                        return Uni.createFrom().failure(LambdaError.conflict("The operation cannot be performed at this time. "
                                + "An update is in progress for resource: " + arn(name)));
                    }
                    if (codeSha256 != null && !codeSha256.equals(f.codeSha256)) {
                        return Uni.createFrom().failure(LambdaError.invalid("CodeSha256 (" + codeSha256 + ") is different from "
                                + "the current CodeSha256 in $LATEST (" + f.codeSha256 + "). Try again with the current CodeSha256."));
                    }
                    return FunctionVersionRecord.<FunctionVersionRecord>find("functionName = ?1 order by version desc", name)
                            .firstResult().chain(newest -> {
                                if (newest != null && newest.runsLike(f)) return Uni.createFrom().item(newest);
                                FunctionVersionRecord v = new FunctionVersionRecord();
                                v.copyConfigFrom(f);
                                if (description != null) v.description = description;
                                f.lastVersion++;
                                v.functionName = name;
                                v.version = f.lastVersion;
                                v.qualifiedName = name + ":" + v.version;
                                v.state = FunctionState.Pending;
                                v.stateReason = "The version is being created.";
                                v.stateReasonCode = "Creating";
                                v.lastModified = now();
                                return v.persist().replaceWith(v);
                            });
                }));
        FunctionRef ref = versionRef(published);
        if (!scheduler.isDeployed(ref.key())) startPreparing(ref, published);
        return configuration(ref, published);
    }

    /** ListVersionsByFunction: $LATEST, then the published versions in order, a page after {@code marker}. */
    public Model.ListVersionsResponse listVersions(String name, String marker, int maxItems) {
        FunctionRecord f = get(name);
        int after = 0;
        if (marker != null) {
            try {
                after = Integer.parseInt(marker);
            } catch (NumberFormatException e) {
                throw LambdaError.invalid("Marker '" + marker + "' is not one this API returned");
            }
        }
        List<Model.FunctionConfiguration> page = new ArrayList<>();
        if (marker == null) page.add(configuration(FunctionRef.latest(name), f));
        int from = after;
        int want = maxItems - page.size();
        List<FunctionVersionRecord> versions = want == 0 ? List.of() : Db.read(() -> FunctionVersionRecord.<FunctionVersionRecord>find(
                "functionName = ?1 and version > ?2 order by version", name, from).range(0, want - 1).list());
        versions.forEach(v -> page.add(configuration(versionRef(v), v)));
        String next = page.size() == maxItems ? (versions.isEmpty() ? "0" : Integer.toString(versions.getLast().version)) : null;
        return new Model.ListVersionsResponse(page, next);
    }

    // ---- reads ----

    /** $LATEST's row. */
    public FunctionRecord get(String name) {
        FunctionRecord f = Db.read(() -> FunctionRecord.<FunctionRecord>findById(name));
        if (f == null) throw LambdaError.notFound("Function not found: " + arn(name));
        return f;
    }

    /** The code and configuration {@code ref} names: $LATEST's row or a published version's. */
    public FunctionConfig find(FunctionRef ref) {
        if (ref.isLatest()) return get(ref.name());
        FunctionVersionRecord v = Db.read(() -> FunctionVersionRecord.<FunctionVersionRecord>findById(ref.key()));
        if (v == null) throw LambdaError.notFound("Function not found: " + ref.arn());
        return v;
    }

    public Model.FunctionConfiguration configuration(FunctionRef ref, FunctionConfig c) {
        Map<String, String> userEnv = environment(c);
        // As on Lambda, a failed create or update says why in LastUpdateStatusReason too.
        boolean failed = c.state == FunctionState.Failed;
        return new Model.FunctionConfiguration(ref.name(), ref.arn(), c.runtime, c.handler, c.codeSize, c.description,
                c.timeoutSeconds, c.memoryMb, c.lastModified, c.codeSha256, ref.qualifier(), c.state.name(), c.stateReason,
                c.stateReasonCode, c.state.lastUpdateStatus().name(), failed ? c.stateReason : null,
                failed ? c.stateReasonCode : null, userEnv.isEmpty() ? null : new Model.Environment(userEnv), "Zip",
                List.of("x86_64"));
    }

    /** A page of functions ($LATEST) in name order, after {@code marker}. */
    public Model.ListFunctionsResponse list(String marker, int maxItems) {
        List<FunctionRecord> page = Db.read(() -> (marker == null
                ? FunctionRecord.<FunctionRecord>find("order by name")
                : FunctionRecord.<FunctionRecord>find("name > ?1 order by name", marker)).range(0, maxItems - 1).list());
        String next = page.size() == maxItems ? page.getLast().name : null;
        return new Model.ListFunctionsResponse(page.stream().map(f -> configuration(FunctionRef.latest(f.name), f)).toList(), next);
    }

    /** DeleteFunction: the whole function with every version, or with a qualifier, one published version. */
    public void delete(FunctionRef ref) {
        if (!ref.isLatest()) {
            long deleted = Db.tx(() -> FunctionVersionRecord.deleteById(ref.key()).map(d -> d ? 1L : 0L));
            if (deleted == 0) throw LambdaError.notFound("Function not found: " + ref.arn());
            scheduler.remove(ref.key());
            codeStore.collectGarbage();
            return;
        }
        long deleted = Db.tx(() -> FunctionRecord.delete("name", ref.name())); // versions go with it (ON DELETE CASCADE)
        if (deleted == 0) throw LambdaError.notFound("Function not found: " + arn(ref.name()));
        scheduler.reserve(ref.name(), null);
        scheduler.removeFunction(ref.name());
        codeStore.collectGarbage();
    }

    // ---- settings that hold for every version ----

    public int maxRetryAttempts(String name) {
        return get(name).maxRetryAttempts;
    }

    /** Sets how often a failed Event invocation of {@code name} is retried before it becomes a dead letter. */
    public void setMaxRetryAttempts(String name, int attempts) {
        if (attempts < 0 || attempts > 100) throw LambdaError.invalid("MaximumRetryAttempts must be between 0 and 100");
        get(name);
        Db.tx(() -> FunctionRecord.update("maxRetryAttempts = ?1 where name = ?2", attempts, name));
    }

    /** Sets or (with null) removes {@code name}'s reserved concurrency, shared by all its versions. */
    public void reserveConcurrency(String name, Integer slots) {
        get(name);
        try {
            scheduler.reserve(name, slots);
        } catch (IllegalArgumentException e) {
            throw LambdaError.invalid(e.getMessage());
        }
        Db.tx(() -> FunctionRecord.update("reservedConcurrency = ?1 where name = ?2", slots, name));
    }

    // ---- invoking ----

    /**
     * Runs one invocation of {@code ref} through the scheduler (admission, a run slot, its own VM) and records it with
     * the time it waited since {@code acceptedNanos} ({@link System#nanoTime}, when the request was accepted). Only a
     * version that is not ready touches the database here (to say why).
     */
    public Invoked invoke(FunctionRef ref, String requestId, byte[] payload, long acceptedNanos) {
        Invoked inv;
        try {
            inv = scheduler.invoke(ref.key(), new Scheduler.Request(requestId, payload, ref.arn(), traceId(), acceptedNanos));
        } catch (RuntimeException e) {
            throw refusal(ref, e);
        }
        invocations.record(requestId, ref, inv);
        return inv;
    }

    /**
     * Lambda's error for an invocation of {@code ref} that the scheduler did not run: 404 when the function or version
     * does not exist, 502 on a host that cannot run functions, 409 with its state when it is not ready, 429 past a
     * concurrency limit. Anything else is a fault, returned as it is.
     */
    RuntimeException refusal(FunctionRef ref, RuntimeException e) {
        return switch (e) {
            case Scheduler.HostCannotRun h -> {
                find(ref); // 404 when it does not exist
                yield Scheduling.cannotRunError(h.getMessage());
            }
            case Scheduler.NotReady n -> {
                FunctionConfig c = find(ref); // 404 when it does not exist
                yield LambdaError.conflict("The operation cannot be performed at this time. The function is currently in the "
                        + "following state: " + c.state + (c.stateReason == null ? "" : " (" + c.stateReason + ")"));
            }
            case Admission.TooManyRequests t -> LambdaError.throttled(t.reason(), t.getMessage());
            case Scheduler.Stopping s -> new LambdaError(500, "ServiceException", "The platform is stopping.");
            default -> e;
        };
    }

    /**
     * Refuses an invocation of {@code ref} (404 when it does not exist) on a host that cannot run functions, with
     * Lambda's error shape and the reason: before an Event invocation is accepted, too, so that none is queued here.
     */
    public void requireHostCanRun(FunctionRef ref) {
        if (scheduler.cannotRunFunctions() == null) return;
        find(ref);
        throw Scheduling.cannotRunError(scheduler.cannotRunFunctions());
    }

    static String traceId() {
        String hex = java.util.UUID.randomUUID().toString().replace("-", "");
        return "Root=1-" + Long.toHexString(System.currentTimeMillis() / 1000) + "-" + hex.substring(0, 24) + ";Sampled=0";
    }

    // ---- snapshots ----

    /** The environment Lambda gives a runtime, the limits, and a version key that changes with anything that runs. */
    private FunctionSpec spec(FunctionRef ref, FunctionConfig c) {
        Map<String, String> env = new TreeMap<>(environment(c));
        env.put("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:" + RuntimeApi.PORT);
        env.put("_HANDLER", c.handler);
        env.put("LAMBDA_TASK_ROOT", "/var/task");
        env.put("AWS_LAMBDA_FUNCTION_NAME", ref.name());
        env.put("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", Integer.toString(c.memoryMb));
        env.put("AWS_LAMBDA_FUNCTION_VERSION", ref.qualifier());
        env.put("AWS_REGION", REGION);
        env.put("AWS_DEFAULT_REGION", REGION);
        env.put("PATH", "/var/task:/usr/bin:/bin");
        env.put("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + ref.name());
        env.put("AWS_LAMBDA_LOG_STREAM_NAME", "flicker/[" + ref.qualifier() + "]" + ref.name());
        env.put("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
        // What the runtime starts (the zip's bootstrap, or python3.11 from its layer) and what it adds to Lambda's.
        LambdaRuntime launch = LambdaRuntime.of(c.runtime).orElseThrow(() -> new IllegalStateException("unknown runtime " + c.runtime));
        env.putAll(launch.env());
        // The layer's own id (which changes with its content) is added to the key by the scheduler, which opens it.
        String runs = c.codeSha256 + "|" + launch.name();
        String key = ref.name() + "-" + versionHash(runs, c.memoryMb, c.timeoutSeconds, env);
        return new FunctionSpec(ref.name(), key, codeStore.directory(c.codeDir), launch.program(), launch.args(), launch.layer(),
                env, c.memoryMb, c.timeoutSeconds * 1000L);
    }

    /**
     * Deploys {@code ref} from its stored configuration {@code c} (which says Pending), replacing what ran before; the
     * scheduler prepares its snapshot. Whatever goes wrong on the way, the version ends Active or Failed: never Pending
     * for good, which would refuse every later update with a 409.
     */
    private void startPreparing(FunctionRef ref, FunctionConfig c) {
        FunctionSpec spec;
        try {
            spec = spec(ref, c);
        } catch (RuntimeException e) {
            LOG.warnf(e, "function %s cannot be set up", ref.key());
            scheduler.remove(ref.key()); // what ran before no longer matches the stored configuration
            settle(ref, null, new Scheduler.Prepared.Failed("The function cannot be set up: " + e.getMessage()));
            return;
        }
        scheduler.deploy(ref.key(), spec, (deployment, outcome) -> settle(ref, deployment, outcome));
    }

    /**
     * Records how preparing {@code ref} ended: Active, or Failed with the reason (made one safe line: a guest's stderr in
     * it may hold NUL, which PostgreSQL refuses), or still Pending on a host that cannot run functions. A database fault
     * is retried for a while. {@code deployment} is what was prepared (null when nothing could be set up): when it was
     * replaced meanwhile, its successor settles the state instead. It runs only once Active is recorded.
     */
    private void settle(FunctionRef ref, Scheduler.Deployment deployment, Scheduler.Prepared outcome) {
        if (outcome instanceof Scheduler.Prepared.CannotRunHere cannot) {
            // Nothing is wrong with the function: this host cannot run any. It stays Pending, saying why, and is
            // prepared when the platform starts on a host with KVM.
            setState(ref, FunctionState.Pending, GuestText.line("This host cannot run functions: " + cannot.reason()), "Creating");
            return;
        }
        String reason = outcome instanceof Scheduler.Prepared.Failed failed ? GuestText.line(failed.reason()) : null;
        for (int attempt = 1; ; attempt++) {
            if (deployment != null && !deployment.current()) return;
            try {
                if (reason == null) {
                    setState(ref, FunctionState.Active, null, null);
                    deployment.activate();
                    LOG.infof("function %s is Active", ref.key());
                } else {
                    setState(ref, FunctionState.Failed, reason, "InvalidRuntime");
                    LOG.warnf("function %s failed: %s", ref.key(), reason);
                }
                return;
            } catch (RuntimeException e) {
                if (attempt == 5) {
                    LOG.errorf(e, "cannot record the state of %s; the platform tries again at its next start", ref.key());
                    return;
                }
                try {
                    Thread.sleep(1000L * attempt);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void setState(FunctionRef ref, FunctionState state, String reason, String reasonCode) {
        if (ref.isLatest()) {
            Db.tx(() -> FunctionRecord.update("state = ?1, stateReason = ?2, stateReasonCode = ?3 where name = ?4",
                    state, reason, reasonCode, ref.name()));
        } else {
            Db.tx(() -> FunctionVersionRecord.update("state = ?1, stateReason = ?2, stateReasonCode = ?3 where qualifiedName = ?4",
                    state, reason, reasonCode, ref.key()));
        }
    }

    private static String versionHash(String codeSha, int memory, int timeout, Map<String, String> env) {
        return Sha256.hex(Sha256.of(codeSha + "|" + memory + "|" + timeout + "|" + env)).substring(0, 16);
    }
}
