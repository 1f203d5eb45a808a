package dev.flicker.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.panache.common.Sort;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.persistence.LockModeType;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The functions this platform knows and their published versions, in PostgreSQL through Hibernate Reactive: each
 * version's code, configuration and {@link FunctionState}, and the settings every version of a function shares.
 * Every method runs on a Vert.x context (a request's, or one made for the work) and never blocks it.
 */
@ApplicationScoped
public class FunctionRegistry {
    static final String REGION = "local", ACCOUNT = "000000000000";
    private static final DateTimeFormatter LAST_MODIFIED = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSxx");
    private static final TypeReference<Map<String, String>> STRING_MAP = new TypeReference<>() {};

    private final ObjectMapper json;

    public FunctionRegistry(ObjectMapper json) {
        this.json = json;
    }

    static String arn(String name) {
        return "arn:aws:lambda:" + REGION + ":" + ACCOUNT + ":function:" + name;
    }

    static String now() {
        return OffsetDateTime.now(ZoneOffset.UTC).format(LAST_MODIFIED);
    }

    static LambdaError notFound(String name) {
        return LambdaError.notFound("Function not found: " + arn(name));
    }

    static LambdaError notFound(FunctionRef ref) {
        return LambdaError.notFound("Function not found: " + ref.arn());
    }

    // ---- reads ----

    /** $LATEST's row, or a 404. */
    public Uni<FunctionRecord> get(String name) {
        return Panache.withSession(() -> FunctionRecord.<FunctionRecord>findById(name))
                .onItem().ifNull().failWith(() -> notFound(name));
    }

    /** The code and configuration {@code ref} names: $LATEST's row or a published version's; a 404 when there is none. */
    public Uni<FunctionConfig> find(FunctionRef ref) {
        if (ref.isLatest()) return get(ref.name()).map(f -> f);
        return Panache.withSession(() -> FunctionVersionRecord.<FunctionVersionRecord>findById(ref.key()))
                .onItem().ifNull().failWith(() -> notFound(ref))
                .map(v -> v);
    }

    public Uni<Boolean> exists(String name) {
        return Panache.withSession(() -> FunctionRecord.<FunctionRecord>findById(name)).map(f -> f != null);
    }

    /** A page of functions ($LATEST) in name order, after {@code marker}. */
    public Uni<List<FunctionRecord>> page(String marker, int maxItems) {
        return Panache.withSession(() -> (marker == null
                ? FunctionRecord.<FunctionRecord>find("order by name")
                : FunctionRecord.<FunctionRecord>find("name > ?1 order by name", marker)).range(0, maxItems - 1).list());
    }

    /** Up to {@code limit} published versions of {@code name} numbered after {@code after}, in order. */
    public Uni<List<FunctionVersionRecord>> versionsAfter(String name, int after, int limit) {
        if (limit == 0) return Uni.createFrom().item(List.of());
        return Panache.withSession(() -> FunctionVersionRecord.<FunctionVersionRecord>find(
                "functionName = ?1 and version > ?2 order by version", name, after).range(0, limit - 1).list());
    }

    // ---- $LATEST: create and update ----

    /** Stores a new function (its state Pending); false when its name was taken meanwhile. */
    public Uni<Boolean> insert(FunctionRecord f) {
        return Panache.withTransaction(() -> FunctionRecord.<FunctionRecord>findById(f.name)
                .chain(existing -> existing != null ? Uni.createFrom().item(false) : f.persist().replaceWith(true)));
    }

    /**
     * Applies {@code change} to $LATEST and makes it Pending, to be prepared again: a 404 when there is no such
     * function, a 409 while it is Pending (an update or its creation is still being prepared). Published versions
     * stay as they are. Returns the row as stored.
     */
    public Uni<FunctionRecord> update(String name, Consumer<FunctionRecord> change) {
        return Panache.withTransaction(() -> FunctionRecord.<FunctionRecord>findById(name, LockModeType.PESSIMISTIC_WRITE)
                .onItem().ifNull().failWith(() -> notFound(name))
                .map(f -> {
                    if (f.state == FunctionState.Pending) {
                        throw LambdaError.conflict("The function " + name + " is being updated; try again when it is Active");
                    }
                    change.accept(f);
                    f.state = FunctionState.Pending;
                    f.stateReason = "The function is being updated.";
                    f.stateReasonCode = "Updating";
                    f.lastModified = now();
                    return f;
                }));
    }

    // ---- published versions ----

    /**
     * An immutable copy of $LATEST as the next version number, Pending until its own snapshot is taken. As in Lambda,
     * nothing is published when the newest version already runs the same code and configuration (that version is
     * the answer), and {@code codeSha256}, when given, must match $LATEST's code. {@code whilePending} lets
     * CreateFunction and UpdateFunctionCode publish what they just stored.
     */
    public Uni<FunctionVersionRecord> publish(String name, String codeSha256, String description, boolean whilePending) {
        return Panache.withTransaction(() -> FunctionRecord.<FunctionRecord>findById(name, LockModeType.PESSIMISTIC_WRITE)
                .onItem().ifNull().failWith(() -> notFound(name))
                .chain(f -> {
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
    }

    // ---- delete ----

    /** Deletes the function with all its versions (ON DELETE CASCADE); false when there was none. */
    public Uni<Boolean> deleteFunction(String name) {
        return Panache.withTransaction(() -> FunctionRecord.delete("name", name)).map(deleted -> deleted > 0);
    }

    /** Deletes one published version; false when there was none. */
    public Uni<Boolean> deleteVersion(FunctionRef ref) {
        return Panache.withTransaction(() -> FunctionVersionRecord.deleteById(ref.key()));
    }

    // ---- settings that hold for every version ----

    public Uni<Void> setMaxRetryAttempts(String name, int attempts) {
        return Panache.withTransaction(() -> FunctionRecord.update("maxRetryAttempts = ?1 where name = ?2", attempts, name))
                .chain(updated -> updated == 0 ? Uni.createFrom().failure(notFound(name)) : Uni.createFrom().voidItem());
    }

    public Uni<Void> setReservedConcurrency(String name, Integer slots) {
        return Panache.withTransaction(() -> FunctionRecord.update("reservedConcurrency = ?1 where name = ?2", slots, name))
                .chain(updated -> updated == 0 ? Uni.createFrom().failure(notFound(name)) : Uni.createFrom().voidItem());
    }

    // ---- states ----

    /** Every stored function ($LATEST) and published version. */
    public record Stored(List<FunctionRecord> functions, List<FunctionVersionRecord> versions) {}

    /**
     * Makes every function and version Pending, as their snapshots are loaded again after a restart (until then they
     * cannot run), and returns them all.
     */
    public Uni<Stored> markAllRestoring() {
        return Panache.withTransaction(() -> FunctionRecord.update("state = ?1, stateReason = ?2, stateReasonCode = ?3",
                        FunctionState.Pending, "The function is being restored.", "Restoring")
                .chain(() -> FunctionVersionRecord.update("state = ?1, stateReason = ?2, stateReasonCode = ?3",
                        FunctionState.Pending, "The function is being restored.", "Restoring"))
                .chain(() -> FunctionRecord.<FunctionRecord>listAll(Sort.by("name")))
                .chain(functions -> FunctionVersionRecord.<FunctionVersionRecord>listAll(Sort.by("qualifiedName"))
                        .map(versions -> new Stored(functions, versions))));
    }

    /**
     * Records how preparing {@code ref} ended ({@code next}: Active, Failed, or Pending with another reason), if it is
     * still the Pending configuration that was prepared (the one last modified at {@code lastModified}): a version
     * updated or deleted meanwhile is left to its successor. True when the state was recorded.
     */
    public Uni<Boolean> settle(FunctionRef ref, String lastModified, FunctionState next, String reason, String reasonCode) {
        if (!FunctionState.Pending.canBecome(next)) throw new IllegalArgumentException("Pending cannot become " + next);
        return Panache.withTransaction(() -> ref.isLatest()
                ? FunctionRecord.update("state = ?1, stateReason = ?2, stateReasonCode = ?3 where name = ?4 and state = ?5 "
                        + "and lastModified = ?6", next, reason, reasonCode, ref.name(), FunctionState.Pending, lastModified)
                : FunctionVersionRecord.update("state = ?1, stateReason = ?2, stateReasonCode = ?3 where qualifiedName = ?4 "
                        + "and state = ?5 and lastModified = ?6", next, reason, reasonCode, ref.key(), FunctionState.Pending,
                        lastModified)).map(updated -> updated > 0);
    }

    // ---- what a client sees ----

    String environmentJson(Map<String, String> env) {
        try {
            return json.writeValueAsString(new TreeMap<>(env));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    Map<String, String> environment(FunctionConfig c) {
        try {
            return json.readValue(c.environmentJson, STRING_MAP);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored environment is not JSON: " + c.environmentJson, e);
        }
    }

    /** Lambda's FunctionConfiguration of {@code ref}, stored as {@code c}. */
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
}
