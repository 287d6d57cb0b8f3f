-- Request-signature nonces, shared by every gateway instance.
CREATE TABLE nonces (
    client_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, nonce)
);

CREATE INDEX nonces_expiry ON nonces (expires_at);
