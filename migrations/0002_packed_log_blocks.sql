-- Packed layout: many log entries in one indexed row, so D1 writes a few rows per request
-- instead of four per log (see docs/COST.md). The `logs` view keeps plain SQL working:
--   SELECT * FROM logs WHERE service_name = 'checkout' ORDER BY timestamp DESC LIMIT 20;

-- One row per (request, service, level): the entries as a JSON array of
-- [timestamp, message (truncated to 1000 characters), metadata object or null]; cleanup
-- replaces expired entries with null, so positions never move.
-- A block's id is a UUIDv7 ending in 0000, and an entry's id is the block's with its
-- position in those four hex digits. A block migrated from 0001 holds one entry whose id
-- is the block's own.
CREATE TABLE IF NOT EXISTS log_blocks (
    id           TEXT PRIMARY KEY,     -- UUIDv7 ending in 0000, or a migrated entry's id
    service_name TEXT NOT NULL,
    level        TEXT NOT NULL,
    source_type  TEXT NOT NULL,
    first_ts     INTEGER NOT NULL,     -- oldest entry, Unix ms
    last_ts      INTEGER NOT NULL,     -- newest entry, Unix ms
    entry_count  INTEGER NOT NULL,     -- entries not yet expired
    r2_key       TEXT,                 -- archive object with the full entries
    entries      TEXT NOT NULL
) WITHOUT ROWID;

-- Both indexes cover what searches, stats and cleanup read before unpacking entries.
CREATE INDEX IF NOT EXISTS idx_blocks_service_time
    ON log_blocks (service_name, last_ts, level, first_ts, entry_count);
CREATE INDEX IF NOT EXISTS idx_blocks_time
    ON log_blocks (last_ts, level, first_ts, entry_count);

-- Existing entries become one-entry blocks and keep their ids.
INSERT OR IGNORE INTO log_blocks
    (id, service_name, level, source_type, first_ts, last_ts, entry_count, r2_key, entries)
SELECT id, service_name, level, source_type, timestamp, timestamp, 1, r2_key,
       json_array(json_array(timestamp, message, json(metadata_json)))
FROM logs;

DROP TABLE logs;

CREATE VIEW logs AS
SELECT CASE WHEN substr(b.id, 33, 4) = '0000' THEN substr(b.id, 1, 32) || printf('%04x', e.key)
            ELSE b.id END AS id,
       b.service_name,
       b.level,
       json_extract(e.value, '$[1]') AS message,
       json_extract(e.value, '$[0]') AS timestamp,
       b.r2_key,
       json_extract(e.value, '$[2]') AS metadata_json,
       b.source_type
FROM log_blocks AS b, json_each(b.entries) AS e
WHERE e.type != 'null';
