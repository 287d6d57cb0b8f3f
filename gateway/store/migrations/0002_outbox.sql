-- The transactional outbox: one row per event, written in the transaction
-- that changed the payment. Events of one payment are ordered by
-- payment_version; status is pending | delivered | dead.
CREATE TABLE outbox_events (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    payment_version INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    retry_window_start BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_by TEXT,
    claim_expires_at BIGINT,
    delivered_at BIGINT,
    last_error TEXT,
    UNIQUE (payment_id, payment_version)
);

CREATE INDEX outbox_events_due ON outbox_events (status, next_attempt_at);
