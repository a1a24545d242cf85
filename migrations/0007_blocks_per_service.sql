-- Blocks written from now on hold one service and source over at most two hours
-- (MAX_BLOCK_SPAN_MS), whatever their entries' levels: at the same traffic they are five
-- times fewer and larger, so D1 writes fewer rows and scans touch fewer blocks. Each entry
-- carries its level as a fifth element ([timestamp, message, metadata, id, level]); a
-- block counts its entries per level, so level filters and stats still read headers only.
-- Older blocks keep one level (their `level` column); new ones say MIXED there when their
-- entries differ.
ALTER TABLE log_blocks ADD COLUMN debug_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE log_blocks ADD COLUMN info_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE log_blocks ADD COLUMN warn_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE log_blocks ADD COLUMN error_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE log_blocks ADD COLUMN critical_count INTEGER NOT NULL DEFAULT 0;

UPDATE log_blocks SET debug_count = entry_count WHERE level = 'DEBUG';
UPDATE log_blocks SET info_count = entry_count WHERE level = 'INFO';
UPDATE log_blocks SET warn_count = entry_count WHERE level = 'WARN';
UPDATE log_blocks SET error_count = entry_count WHERE level = 'ERROR';
UPDATE log_blocks SET critical_count = entry_count WHERE level = 'CRITICAL';

-- Both indexes cover what searches, stats and cleanup read before unpacking entries.
DROP INDEX IF EXISTS idx_blocks_service_time;
DROP INDEX IF EXISTS idx_blocks_time;
CREATE INDEX IF NOT EXISTS idx_blocks_service_time
    ON log_blocks (service_name, last_ts, first_ts, entry_count, debug_count, info_count,
                   warn_count, error_count, critical_count);
CREATE INDEX IF NOT EXISTS idx_blocks_time
    ON log_blocks (last_ts, first_ts, entry_count, debug_count, info_count, warn_count,
                   error_count, critical_count);

DROP VIEW IF EXISTS logs;

CREATE VIEW logs AS
SELECT coalesce(json_extract(e.value, '$[3]'),
                CASE WHEN substr(b.id, 33, 4) = '0000'
                     THEN substr(b.id, 1, 32) || printf('%04x', e.key)
                     ELSE b.id END) AS id,
       b.service_name,
       coalesce(json_extract(e.value, '$[4]'), b.level) AS level,
       json_extract(e.value, '$[1]') AS message,
       json_extract(e.value, '$[0]') AS timestamp,
       b.r2_key,
       json_extract(e.value, '$[2]') AS metadata_json,
       b.source_type
FROM log_blocks AS b, json_each(b.entries) AS e
WHERE e.type != 'null';
