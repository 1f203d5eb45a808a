package dev.flicker.api;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/**
 * A function as stored in PostgreSQL (table {@code functions}, see db/migration): its {@code $LATEST} code
 * and configuration, and the settings that hold for all its versions.
 */
@Entity
@Table(name = "functions")
public class FunctionRecord extends FunctionConfig {
    @Id
    public String name;
    @Column(name = "reserved_concurrency")
    public Integer reservedConcurrency;
    @Column(name = "max_retry_attempts")
    public int maxRetryAttempts = 2;
    /** The number the newest published version got (0: none yet); numbers are never reused. */
    @Column(name = "last_version")
    public int lastVersion;
}
