package dev.flicker.api;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.MappedSuperclass;

/**
 * What a function runs and its lifecycle state: the columns that {@code $LATEST} ({@link FunctionRecord})
 * and each published version ({@link FunctionVersionRecord}) both have.
 */
@MappedSuperclass
public abstract class FunctionConfig extends PanacheEntityBase {
    public String runtime;
    public String handler;
    public String description;
    @Column(name = "memory_mb")
    public int memoryMb;
    @Column(name = "timeout_s")
    public int timeoutSeconds;
    @Column(name = "environment_json")
    public String environmentJson;
    @Column(name = "code_sha256")
    public String codeSha256;
    @Column(name = "code_size")
    public long codeSize;
    @Column(name = "code_dir")
    public String codeDir;
    @Enumerated(EnumType.STRING)
    public FunctionState state;
    @Column(name = "state_reason")
    public String stateReason;
    @Column(name = "state_reason_code")
    public String stateReasonCode;
    @Column(name = "last_modified")
    public String lastModified;

    /** Copies what runs (code and configuration), not the state. */
    void copyConfigFrom(FunctionConfig from) {
        runtime = from.runtime;
        handler = from.handler;
        description = from.description;
        memoryMb = from.memoryMb;
        timeoutSeconds = from.timeoutSeconds;
        environmentJson = from.environmentJson;
        codeSha256 = from.codeSha256;
        codeSize = from.codeSize;
        codeDir = from.codeDir;
        lastModified = from.lastModified;
    }

    void copyStateFrom(FunctionConfig from) {
        state = from.state;
        stateReason = from.stateReason;
        stateReasonCode = from.stateReasonCode;
    }

    /** True when both run the same code with the same configuration (the description aside). */
    boolean runsLike(FunctionConfig other) {
        return runtime.equals(other.runtime) && handler.equals(other.handler) && memoryMb == other.memoryMb
                && timeoutSeconds == other.timeoutSeconds && environmentJson.equals(other.environmentJson)
                && codeSha256.equals(other.codeSha256);
    }
}
