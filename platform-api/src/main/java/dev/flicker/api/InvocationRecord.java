package dev.flicker.api;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

import java.time.OffsetDateTime;

/** One invocation as recorded in PostgreSQL (table {@code invocations}): outcome, start path, phase timings, logs. */
@Entity
@Table(name = "invocations")
public class InvocationRecord extends PanacheEntityBase {
    @Id
    @Column(name = "request_id")
    public String requestId;
    @Column(name = "function_name")
    public String functionName;
    public String version;
    public String status;
    @Column(name = "error_type")
    public String errorType;
    @Column(name = "start_path")
    public String startPath;
    @Column(name = "billed_memory_mb")
    public int billedMemoryMb;
    /** Phases, back to back (docs/api.md): waiting for admission and a run slot, then the VM's ({@code dev.flicker.pool.Invocation}). */
    @Column(name = "queued_ms")
    public double queuedMs;
    @Column(name = "vm_ready_ms")
    public double vmReadyMs;
    @Column(name = "init_ms")
    public double initMs;
    @Column(name = "deliver_ms")
    public double deliverMs;
    @Column(name = "handler_ms")
    public double handlerMs;
    @Column(name = "response_ms")
    public double responseMs;
    /** From VM ready to the answer in hand: every phase but queued (what Lambda bills, roughly). */
    @Column(name = "duration_ms")
    public double durationMs;
    public String logs;
    @Column(name = "logs_truncated")
    public boolean logsTruncated;
    @Column(name = "created_at")
    public OffsetDateTime createdAt;
}
