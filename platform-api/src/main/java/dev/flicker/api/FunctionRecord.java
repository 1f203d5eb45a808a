package dev.flicker.api;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** A function as stored in PostgreSQL (table {@code functions}, see db/migration). */
@Entity
@Table(name = "functions")
public class FunctionRecord extends PanacheEntityBase {
    @Id
    public String name;
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
    public String state;
    @Column(name = "state_reason")
    public String stateReason;
    @Column(name = "state_reason_code")
    public String stateReasonCode;
    @Column(name = "last_modified")
    public String lastModified;
    @Column(name = "reserved_concurrency")
    public Integer reservedConcurrency;
    @Column(name = "max_retry_attempts")
    public int maxRetryAttempts = 2;
}
