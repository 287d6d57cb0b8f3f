-- Security events and alerts kept for `lienthong security report` (gateway/security).
CREATE TABLE IF NOT EXISTS security_event_log (
    time_us BIGINT NOT NULL,
    instance TEXT NOT NULL,
    kind TEXT NOT NULL,
    client_id TEXT,
    remote TEXT,
    detail TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS security_event_log_time ON security_event_log (time_us);

CREATE TABLE IF NOT EXISTS security_alerts (
    id TEXT PRIMARY KEY,
    time_us BIGINT NOT NULL,
    instance TEXT NOT NULL,
    detector TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS security_alerts_time ON security_alerts (time_us);
