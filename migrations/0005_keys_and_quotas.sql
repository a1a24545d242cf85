-- Scoped API keys (only a SHA-256 of each secret is kept) and per-service daily counts for
-- the max_logs_per_day quota.
CREATE TABLE IF NOT EXISTS api_keys (
    id          TEXT PRIMARY KEY,   -- the public part of "lsk_<id>_<secret>"
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,      -- hex SHA-256 of the secret part
    scopes      TEXT NOT NULL,      -- comma-separated: ingest, read, admin
    services    TEXT,               -- JSON array of service names, NULL for all
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS daily_counts (
    service_name TEXT NOT NULL,
    day          TEXT NOT NULL,     -- YYYY-MM-DD, UTC
    count        INTEGER NOT NULL,
    PRIMARY KEY (service_name, day)
) WITHOUT ROWID;
