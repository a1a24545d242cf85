-- The original service's three tables, in SQL that runs unchanged on D1 and SQLite.

-- One row per log entry. The message is truncated to 1000 characters here; the full
-- entry lives in the archive object named by r2_key.
CREATE TABLE IF NOT EXISTS logs (
    id            TEXT PRIMARY KEY,            -- UUIDv7: time-ordered
    service_name  TEXT NOT NULL,
    level         TEXT NOT NULL,               -- DEBUG, INFO, WARN, ERROR, CRITICAL
    message       TEXT NOT NULL,
    timestamp     INTEGER NOT NULL,            -- Unix milliseconds
    r2_key        TEXT,                        -- archive object holding the full entry
    metadata_json TEXT,
    source_type   TEXT NOT NULL DEFAULT 'http' -- 'tail', 'http' or 'agent'
);

CREATE INDEX IF NOT EXISTS idx_logs_service_time ON logs (service_name, timestamp);
CREATE INDEX IF NOT EXISTS idx_logs_service_level_time ON logs (service_name, level, timestamp);
CREATE INDEX IF NOT EXISTS idx_logs_timestamp ON logs (timestamp);

-- Per-service settings. NULL means "not set": the defaults that apply are computed.
CREATE TABLE IF NOT EXISTS service_configs (
    service_name     TEXT PRIMARY KEY,
    ttl_days         INTEGER,
    retention_policy TEXT,                     -- 'standard', 'extended', 'minimal'
    alert_on_errors  INTEGER NOT NULL DEFAULT 0,
    max_logs_per_day INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS analysis_results (
    id                   TEXT PRIMARY KEY,
    service_name         TEXT NOT NULL,
    severity             TEXT NOT NULL,        -- 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'
    summary              TEXT,
    patterns_json        TEXT,
    recommendations_json TEXT,
    analyzed_at          INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_analysis_service_time ON analysis_results (service_name, analyzed_at);
