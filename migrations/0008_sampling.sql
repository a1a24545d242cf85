-- Sampling at ingest: a per-service rate for DEBUG and INFO entries (NULL keeps them all;
-- WARN and above are always kept), and how many entries each service's sampling left out,
-- per UTC day and level (written with the blocks, in the same request).
ALTER TABLE service_configs ADD COLUMN debug_sample_rate REAL;
ALTER TABLE service_configs ADD COLUMN info_sample_rate REAL;

CREATE TABLE IF NOT EXISTS sampled_counts (
    service_name TEXT NOT NULL,
    day          TEXT NOT NULL,     -- YYYY-MM-DD, UTC, of the entries' timestamps
    level        TEXT NOT NULL,     -- DEBUG or INFO
    count        INTEGER NOT NULL,
    PRIMARY KEY (service_name, day, level)
) WITHOUT ROWID;
