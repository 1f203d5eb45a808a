-- Published versions: each an immutable copy of the function's code and configuration at PublishVersion,
-- numbered from 1 per function. Numbers are never reused, so the function remembers the last one it gave.
ALTER TABLE functions ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE function_versions (
    qualified_name    VARCHAR(80)  PRIMARY KEY,   -- name:version
    function_name     VARCHAR(64)  NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
    version           INTEGER      NOT NULL CHECK (version >= 1),
    runtime           VARCHAR(32)  NOT NULL,
    handler           VARCHAR(128) NOT NULL,
    description       VARCHAR(256) NOT NULL,
    memory_mb         INTEGER      NOT NULL,
    timeout_s         INTEGER      NOT NULL,
    environment_json  TEXT         NOT NULL,
    code_sha256       VARCHAR(64)  NOT NULL,
    code_size         BIGINT       NOT NULL,
    code_dir          TEXT         NOT NULL,
    state             VARCHAR(16)  NOT NULL,
    state_reason      TEXT,
    state_reason_code VARCHAR(64),
    last_modified     VARCHAR(40)  NOT NULL,
    UNIQUE (function_name, version)
);

-- Event invocations name the version they run.
ALTER TABLE async_invocations ADD COLUMN qualifier VARCHAR(16) NOT NULL DEFAULT '$LATEST';

-- The phases an invocation record keeps besides VM ready, deliver and handler (docs/api.md).
ALTER TABLE invocations ADD COLUMN queued_ms   DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE invocations ADD COLUMN init_ms     DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE invocations ADD COLUMN response_ms DOUBLE PRECISION NOT NULL DEFAULT 0;
