-- Payments and the idempotency keys that created them.
-- Timestamps are integer microseconds since the Unix epoch (UTC).
CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    status TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    dossier_code TEXT NOT NULL,
    procedure_code TEXT NOT NULL,
    agency_code TEXT NOT NULL,
    fee_lines TEXT NOT NULL,
    payer_name TEXT,
    payer_id_number TEXT,
    return_url TEXT NOT NULL,
    pay_url TEXT,
    provider_txn_id TEXT,
    paid_amount BIGINT,
    status_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    version INTEGER NOT NULL
);

CREATE INDEX payments_status_updated ON payments (status, updated_at);
CREATE INDEX payments_status_expires ON payments (status, expires_at);
CREATE INDEX payments_created ON payments (created_at, id);

CREATE TABLE idempotency_keys (
    client_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, idempotency_key)
);
