-- Event (asynchronous) invocations: written here before the 202 is returned, run by the queue workers,
-- retried with backoff, and moved to dead_letters with their error when the retries are exhausted.
ALTER TABLE functions ADD COLUMN max_retry_attempts INTEGER NOT NULL DEFAULT 2 CHECK (max_retry_attempts >= 0);

CREATE TABLE async_invocations (
    request_id      VARCHAR(64)  PRIMARY KEY,
    function_name   VARCHAR(64)  NOT NULL,
    payload         BYTEA        NOT NULL,
    status          VARCHAR(16)  NOT NULL,   -- Queued, Running, Succeeded, DeadLettered
    attempts        INTEGER      NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ  NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMPTZ  NOT NULL,
    updated_at      TIMESTAMPTZ  NOT NULL
);
CREATE INDEX async_invocations_ready ON async_invocations (next_attempt_at) WHERE status = 'Queued';

CREATE TABLE dead_letters (
    request_id    VARCHAR(64)  PRIMARY KEY,
    function_name VARCHAR(64)  NOT NULL,
    payload       BYTEA        NOT NULL,
    attempts      INTEGER      NOT NULL,
    error_type    VARCHAR(128),
    error         TEXT         NOT NULL,
    created_at    TIMESTAMPTZ  NOT NULL
);
