package dev.flicker.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flicker.lambda.runtime.LambdaRuntime;
import dev.flicker.scheduler.Admission;
import dev.flicker.scheduler.Invoked;
import dev.flicker.scheduler.Scheduler;
import io.quarkus.vertx.VertxContextSupport;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/**
 * Lambda's function operations, over the {@link FunctionRegistry} (what is stored), the {@link CodeStore} (the code)
 * and {@link Preparation} (each version's snapshot, on the scheduler); invocations run through the {@link Scheduler}.
 * Each operation is a {@link Uni} that runs on the request's Vert.x context and never blocks it: what blocks (reading a
 * zip, unpacking it, opening code, running a VM) runs on a worker thread ({@link #blocking}).
 */
@ApplicationScoped
public class Functions {
    private static final Set<String> RESERVED_ENV = Set.of("AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT",
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "LAMBDA_RUNTIME_DIR");

    private final Scheduler scheduler;
    private final CodeStore codeStore;
    private final FunctionRegistry registry;
    private final Preparation preparation;
    private final ObjectMapper json;
    private final Invocations invocations;

    public Functions(Scheduler scheduler, CodeStore codeStore, FunctionRegistry registry, Preparation preparation,
                     ObjectMapper json, Invocations invocations) {
        this.scheduler = scheduler;
        this.codeStore = codeStore;
        this.registry = registry;
        this.preparation = preparation;
        this.json = json;
        this.invocations = invocations;
    }

    /** Runs {@code work}, which blocks, on a worker thread; its outcome comes back on the caller's Vert.x context. */
    static <T> Uni<T> blocking(Callable<T> work) {
        return VertxContextSupport.executeBlocking(work);
    }

    // ---- $LATEST: create and update ----

    /** A CreateFunction request that passed validation, its zip received. */
    private record NewFunction(Model.CreateFunctionRequest request, int memoryMb, int timeoutSeconds, String environmentJson) {
        String name() {
            return request.functionName();
        }
    }

    /**
     * CreateFunction: reads the request (its zip decoded into the code store as the JSON is parsed), validates it,
     * stores the code, records the function as Pending and prepares its snapshot in the background. With
     * {@code Publish}, version 1 is published at once and its configuration is the answer.
     */
    public Uni<Model.FunctionConfiguration> create(byte[] body) {
        return blocking(codeStore::newUpload).chain(zip -> createFrom(body, zip).eventually(() -> blocking(() -> {
            zip.close();
            return null;
        })));
    }

    private Uni<Model.FunctionConfiguration> createFrom(byte[] body, CodeStore.Upload zip) {
        return blocking(() -> validate(JsonBody.readWithZip(json, stream(body), List.of("Code", "ZipFile"), zip,
                        Model.CreateFunctionRequest.class), zip))
                // A name that is taken is refused before its zip is unpacked (a create racing for it is caught below).
                .call(n -> registry.exists(n.name()).invoke(taken -> {
                    if (taken) throw nameTaken(n.name());
                }))
                .chain(n -> blocking(() -> storeCode(n.request().runtime(), zip))
                        .chain(code -> {
                            FunctionRecord f = record(n, code);
                            return registry.insert(f).eventually(code::close).map(created -> created ? f : null);
                        })
                        // A create refused after its code was stored leaves code that nothing may use.
                        .onItemOrFailure().invoke((f, failure) -> {
                            if (f == null) codeStore.collectGarbage();
                        })
                        .chain(f -> {
                            if (f == null) throw nameTaken(n.name());
                            return prepared(FunctionRef.latest(f.name), f);
                        })
                        .chain(latest -> Boolean.TRUE.equals(n.request().publish())
                                ? publish(n.name(), null, null, true) : Uni.createFrom().item(latest)));
    }

    private static InputStream stream(byte[] body) {
        return new ByteArrayInputStream(body == null ? new byte[0] : body);
    }

    private NewFunction validate(Model.CreateFunctionRequest r, CodeStore.Upload zip) {
        if (r == null) throw LambdaError.invalid("the request body is empty");
        if (!FunctionRef.validName(r.functionName())) {
            throw LambdaError.invalid("FunctionName must be 1 to 64 letters, digits, '-' or '_'");
        }
        validateRuntime(r.runtime());
        int memory = validateMemory(r.memorySize() == null ? 128 : r.memorySize());
        int timeout = validateTimeout(r.timeout() == null ? 3 : r.timeout());
        if (!zip.received()) throw LambdaError.invalid("Code.ZipFile is required");
        validateText(r.description(), r.handler());
        return new NewFunction(r, memory, timeout, registry.environmentJson(validateEnvironment(r.environment())));
    }

    private static FunctionRecord record(NewFunction n, CodeStore.Stored code) {
        Model.CreateFunctionRequest r = n.request();
        FunctionRecord f = new FunctionRecord();
        f.name = r.functionName();
        f.runtime = r.runtime();
        f.handler = r.handler() == null ? "" : r.handler();
        f.description = r.description() == null ? "" : r.description();
        f.memoryMb = n.memoryMb();
        f.timeoutSeconds = n.timeoutSeconds();
        f.environmentJson = n.environmentJson();
        f.codeSha256 = code.sha256Base64();
        f.codeSize = code.zipBytes();
        f.codeDir = code.directory().toString();
        f.state = FunctionState.Pending;
        f.stateReason = "The function is being created.";
        f.stateReasonCode = "Creating";
        f.lastModified = FunctionRegistry.now();
        return f;
    }

    private static LambdaError nameTaken(String name) {
        return LambdaError.conflict("Function already exist: " + name);
    }

    /** Unpacks the zip into the code store (blocking); the code stays pinned until the returned handle is closed. */
    private CodeStore.Stored storeCode(String runtime, CodeStore.Upload zip) {
        CodeStore.Stored code = codeStore.store(zip);
        try {
            requireBootstrap(runtime, code);
            return code;
        } catch (RuntimeException e) {
            code.close();
            throw e;
        }
    }

    private static void validateRuntime(String runtime) {
        if (runtime == null || LambdaRuntime.of(runtime).isEmpty()) {
            throw LambdaError.invalid("Runtime '" + runtime + "' is not supported; use one of " + String.join(", ", LambdaRuntime.names()));
        }
    }

    /** A custom runtime ({@code provided}) runs the zip's own {@code bootstrap}: a zip without one is refused. */
    private static void requireBootstrap(String runtime, CodeStore.Stored code) {
        if (LambdaRuntime.of(runtime).map(LambdaRuntime::needsBootstrap).orElse(false)
                && !Files.isRegularFile(code.directory().resolve("bootstrap"), LinkOption.NOFOLLOW_LINKS)) {
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

    /**
     * UpdateFunctionCode of {@code name} ({@code {"ZipFile": base64, "Publish": bool}}): new code for $LATEST, a new
     * snapshot; Pending until it is taken. With {@code Publish}, a new version too.
     */
    public Uni<Model.FunctionConfiguration> updateCode(String name, byte[] body) {
        return blocking(codeStore::newUpload).chain(zip -> updateCodeFrom(name, body, zip).eventually(() -> blocking(() -> {
            zip.close();
            return null;
        })));
    }

    private Uni<Model.FunctionConfiguration> updateCodeFrom(String name, byte[] body, CodeStore.Upload zip) {
        return blocking(() -> {
            Model.UpdateCodeRequest r = JsonBody.readWithZip(json, stream(body), List.of("ZipFile"), zip, Model.UpdateCodeRequest.class);
            if (!zip.received()) throw LambdaError.invalid("ZipFile is required");
            return r;
        }).chain(r -> registry.get(name) // 404 before the zip is unpacked
                .chain(f -> blocking(() -> storeCode(f.runtime, zip)))
                .chain(code -> update(name, f -> {
                    f.codeSha256 = code.sha256Base64();
                    f.codeSize = code.zipBytes();
                    f.codeDir = code.directory().toString();
                }).eventually(code::close))
                .eventually(codeStore::collectGarbage) // the code it replaced, or this one when the update was refused
                .chain(latest -> Boolean.TRUE.equals(r.publish()) ? publish(name, null, null, true) : Uni.createFrom().item(latest)));
    }

    /** UpdateFunctionConfiguration: the fields given change, the others stay; a new snapshot is taken. */
    public Uni<Model.FunctionConfiguration> updateConfiguration(String name, Model.UpdateConfigurationRequest r) {
        if (r == null) throw LambdaError.invalid("the request body is empty");
        if (r.runtime() != null) validateRuntime(r.runtime());
        if (r.memorySize() != null) validateMemory(r.memorySize());
        if (r.timeout() != null) validateTimeout(r.timeout());
        validateText(r.description(), r.handler());
        String envJson = r.environment() == null ? null : registry.environmentJson(validateEnvironment(r.environment()));
        return update(name, f -> {
            if (r.runtime() != null) f.runtime = r.runtime();
            if (r.handler() != null) f.handler = r.handler();
            if (r.memorySize() != null) f.memoryMb = r.memorySize();
            if (r.timeout() != null) f.timeoutSeconds = r.timeout();
            if (r.description() != null) f.description = r.description();
            if (envJson != null) f.environmentJson = envJson;
        });
    }

    /** Applies {@code change} to $LATEST, which is Pending from then on, and prepares its new snapshot. */
    private Uni<Model.FunctionConfiguration> update(String name, Consumer<FunctionRecord> change) {
        return registry.update(name, change).chain(f -> prepared(FunctionRef.latest(name), f));
    }

    /** Prepares {@code ref}'s snapshot in the background (deploying it opens its code: a worker's job); its configuration. */
    private Uni<Model.FunctionConfiguration> prepared(FunctionRef ref, FunctionConfig c) {
        return blocking(() -> {
            preparation.prepare(ref, c);
            return registry.configuration(ref, c);
        });
    }

    // ---- published versions ----

    /** PublishVersion ({@link FunctionRegistry#publish}); a new version's snapshot is prepared in the background. */
    public Uni<Model.FunctionConfiguration> publish(String name, String codeSha256, String description, boolean whilePending) {
        validateDescription(description);
        return registry.publish(name, codeSha256, description, whilePending).chain(v -> {
            FunctionRef ref = Preparation.versionRef(v);
            return scheduler.isDeployed(ref.key()) ? Uni.createFrom().item(registry.configuration(ref, v)) : prepared(ref, v);
        });
    }

    /** ListVersionsByFunction: $LATEST, then the published versions in order, a page after {@code marker}. */
    public Uni<Model.ListVersionsResponse> listVersions(String name, String marker, int maxItems) {
        return registry.get(name).chain(f -> {
            int after = 0;
            if (marker != null) {
                try {
                    after = Integer.parseInt(marker);
                } catch (NumberFormatException e) {
                    throw LambdaError.invalid("Marker '" + marker + "' is not one this API returned");
                }
            }
            List<Model.FunctionConfiguration> page = new ArrayList<>();
            if (marker == null) page.add(registry.configuration(FunctionRef.latest(name), f));
            return registry.versionsAfter(name, after, maxItems - page.size()).map(versions -> {
                versions.forEach(v -> page.add(registry.configuration(Preparation.versionRef(v), v)));
                String next = page.size() == maxItems ? (versions.isEmpty() ? "0" : Integer.toString(versions.getLast().version)) : null;
                return new Model.ListVersionsResponse(page, next);
            });
        });
    }

    // ---- reads ----

    /** The configuration of {@code ref}, or a 404. */
    public Uni<Model.FunctionConfiguration> configuration(FunctionRef ref) {
        return registry.find(ref).map(c -> registry.configuration(ref, c));
    }

    /** A page of functions ($LATEST) in name order, after {@code marker}. */
    public Uni<Model.ListFunctionsResponse> list(String marker, int maxItems) {
        return registry.page(marker, maxItems).map(page -> new Model.ListFunctionsResponse(
                page.stream().map(f -> registry.configuration(FunctionRef.latest(f.name), f)).toList(),
                page.size() == maxItems ? page.getLast().name : null));
    }

    /** DeleteFunction: the whole function with every version, or with a qualifier, one published version. */
    public Uni<Void> delete(FunctionRef ref) {
        if (!ref.isLatest()) {
            return registry.deleteVersion(ref).invoke(deleted -> {
                if (!deleted) throw FunctionRegistry.notFound(ref);
                scheduler.remove(ref.key());
                codeStore.collectGarbage();
            }).replaceWithVoid();
        }
        return registry.deleteFunction(ref.name()).invoke(deleted -> {
            if (!deleted) throw FunctionRegistry.notFound(ref);
            scheduler.reserve(ref.name(), null);
            scheduler.removeFunction(ref.name());
            codeStore.collectGarbage();
        }).replaceWithVoid();
    }

    // ---- settings that hold for every version ----

    public Uni<Integer> maxRetryAttempts(String name) {
        return registry.get(name).map(f -> f.maxRetryAttempts);
    }

    /** Sets how often a failed Event invocation of {@code name} is retried before it becomes a dead letter. */
    public Uni<Void> setMaxRetryAttempts(String name, int attempts) {
        if (attempts < 0 || attempts > 100) throw LambdaError.invalid("MaximumRetryAttempts must be between 0 and 100");
        return registry.setMaxRetryAttempts(name, attempts);
    }

    public Uni<Integer> reservedConcurrency(String name) {
        return registry.get(name).map(f -> f.reservedConcurrency);
    }

    /** Sets or (with null) removes {@code name}'s reserved concurrency, shared by all its versions. */
    public Uni<Void> reserveConcurrency(String name, Integer slots) {
        return registry.get(name).chain(f -> {
            try {
                scheduler.reserve(name, slots);
            } catch (IllegalArgumentException e) {
                throw LambdaError.invalid(e.getMessage());
            }
            return registry.setReservedConcurrency(name, slots);
        });
    }

    // ---- invoking ----

    /**
     * Runs one invocation of {@code ref} through the scheduler (admission, a run slot, its own VM, on a worker thread)
     * and records it with the time it waited since {@code acceptedNanos} ({@link System#nanoTime}, when the request was
     * accepted). Only a version that is not ready touches the database here (to say why).
     */
    public Uni<Invoked> invoke(FunctionRef ref, String requestId, byte[] payload, long acceptedNanos) {
        return Functions.<Invoked>blocking(() -> {
                    Invoked inv = scheduler.invoke(ref.key(), new Scheduler.Request(requestId, payload, ref.arn(), traceId(), acceptedNanos));
                    invocations.record(requestId, ref, inv);
                    return inv;
                })
                .onFailure(e -> e instanceof RuntimeException && !(e instanceof LambdaError))
                .recoverWithUni(e -> refusal(ref, (RuntimeException) e).onItem().transformToUni(Uni.createFrom()::failure));
    }

    /** {@link #refusal(FunctionRef, RuntimeException, FunctionState, String)}, with the version's state as stored. */
    private Uni<RuntimeException> refusal(FunctionRef ref, RuntimeException e) {
        if (!(e instanceof Scheduler.HostCannotRun || e instanceof Scheduler.NotReady)) {
            return Uni.createFrom().item(refusal(ref, e, null, null));
        }
        return registry.find(ref).map(c -> refusal(ref, e, c.state, c.stateReason));
    }

    /**
     * Lambda's error for an invocation of {@code ref} that the scheduler did not run: 404 when the function or version
     * does not exist ({@code state} null), 502 on a host that cannot run functions, 409 with its state when it is not
     * ready, 429 past a concurrency limit. Anything else is a fault, returned as it is. Only the first two need the
     * version's stored {@code state} and {@code stateReason}.
     */
    static RuntimeException refusal(FunctionRef ref, RuntimeException e, FunctionState state, String stateReason) {
        return switch (e) {
            case Scheduler.HostCannotRun h -> state == null ? FunctionRegistry.notFound(ref) : Scheduling.cannotRunError(h.getMessage());
            case Scheduler.NotReady n -> state == null ? FunctionRegistry.notFound(ref)
                    : LambdaError.conflict("The operation cannot be performed at this time. The function is currently in the "
                            + "following state: " + state + (stateReason == null ? "" : " (" + stateReason + ")"));
            case Admission.TooManyRequests t -> LambdaError.throttled(t.reason(), t.getMessage());
            case Scheduler.Stopping s -> new LambdaError(500, "ServiceException", "The platform is stopping.");
            default -> e;
        };
    }

    /**
     * Checks that {@code ref} exists (a 404) and that this host can run it (otherwise Lambda's error shape and the
     * reason): before an Event invocation is accepted, so that none is queued here.
     */
    public Uni<Void> requireRunnable(FunctionRef ref) {
        return registry.find(ref).invoke(c -> {
            if (scheduler.cannotRunFunctions() != null) throw Scheduling.cannotRunError(scheduler.cannotRunFunctions());
        }).replaceWithVoid();
    }

    /** Checks that {@code ref} exists (a 404). */
    public Uni<Void> requireExists(FunctionRef ref) {
        return registry.find(ref).replaceWithVoid();
    }

    static String traceId() {
        String hex = java.util.UUID.randomUUID().toString().replace("-", "");
        return "Root=1-" + Long.toHexString(System.currentTimeMillis() / 1000) + "-" + hex.substring(0, 24) + ";Sampled=0";
    }
}
