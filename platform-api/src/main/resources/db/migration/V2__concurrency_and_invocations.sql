-- Reserved concurrency per function (NULL: none), and one record per invocation.
ALTER TABLE functions ADD COLUMN reserved_concurrency INTEGER CHECK (reserved_concurrency >= 0);

CREATE TABLE invocations (
    request_id       VARCHAR(64)  PRIMARY KEY,
    function_name    VARCHAR(64)  NOT NULL,
    version          VARCHAR(16)  NOT NULL,
    status           VARCHAR(16)  NOT NULL,   -- Success, Error, Throttled
    error_type       VARCHAR(128),
    start_path       VARCHAR(32),
    billed_memory_mb INTEGER      NOT NULL,
    vm_ready_ms      DOUBLE PRECISION NOT NULL,
    deliver_ms       DOUBLE PRECISION NOT NULL,
    handler_ms       DOUBLE PRECISION NOT NULL,
    duration_ms      DOUBLE PRECISION NOT NULL,
    logs             TEXT         NOT NULL,
    logs_truncated   BOOLEAN      NOT NULL,
    created_at       TIMESTAMPTZ  NOT NULL
);
CREATE INDEX invocations_by_function ON invocations (function_name, created_at DESC);
CREATE INDEX invocations_by_time ON invocations (created_at DESC);
