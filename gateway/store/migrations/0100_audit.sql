-- The tamper-evident audit log (gateway/audit): one hash chain per gateway instance.
-- subject_digests, masked_ids and detail are JSON text; times are integer microseconds.
CREATE TABLE IF NOT EXISTS audit_records (
    instance TEXT NOT NULL,
    seq BIGINT NOT NULL,
    time_us BIGINT NOT NULL,
    kind TEXT NOT NULL,
    client_id TEXT,
    operation TEXT NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER,
    request_id TEXT,
    request_digest TEXT,
    response_digest TEXT,
    subject_digests TEXT NOT NULL,
    masked_ids TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_digest TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (instance, seq)
);

CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time_us);

-- Ed25519 signatures over a chain head (instance, seq, head_digest, time_us).
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    instance TEXT NOT NULL,
    seq BIGINT NOT NULL,
    head_digest TEXT NOT NULL,
    time_us BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (instance, seq)
);
