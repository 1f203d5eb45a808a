-- Functions and their lifecycle. One row per function ($LATEST); versions and aliases come later.
CREATE TABLE functions (
    name              VARCHAR(64)  PRIMARY KEY,
    runtime           VARCHAR(32)  NOT NULL,
    handler           VARCHAR(128) NOT NULL,
    description       VARCHAR(256) NOT NULL,
    memory_mb         INTEGER      NOT NULL CHECK (memory_mb BETWEEN 128 AND 3072),
    timeout_s         INTEGER      NOT NULL CHECK (timeout_s BETWEEN 1 AND 900),
    environment_json  TEXT         NOT NULL,
    code_sha256       VARCHAR(64)  NOT NULL,
    code_size         BIGINT       NOT NULL,
    code_dir          TEXT         NOT NULL,
    state             VARCHAR(16)  NOT NULL,
    state_reason      TEXT,
    state_reason_code VARCHAR(64),
    last_modified     VARCHAR(40)  NOT NULL
);
