-- Archive retention per service, and the alert cooldowns of the analysis job.

ALTER TABLE service_configs ADD COLUMN archive_ttl_days INTEGER;  -- NULL: ARCHIVE_TTL_DAYS

-- When a service was last alerted about a pattern, so one pattern alerts once per cooldown.
CREATE TABLE IF NOT EXISTS alert_state (
    service_name TEXT NOT NULL,
    pattern_key  TEXT NOT NULL,
    alerted_at   INTEGER NOT NULL,   -- Unix ms
    PRIMARY KEY (service_name, pattern_key)
) WITHOUT ROWID;
