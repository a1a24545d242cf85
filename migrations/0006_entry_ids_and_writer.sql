-- Entries carry their own id (given at ingest, before the writer packs them into blocks):
-- new entries are [timestamp, message, metadata, id]; older ones keep the id their block
-- and position give. Blocks written from now on hold one service, level, source and
-- five-minute bucket.
DROP VIEW IF EXISTS logs;

CREATE VIEW logs AS
SELECT coalesce(json_extract(e.value, '$[3]'),
                CASE WHEN substr(b.id, 33, 4) = '0000'
                     THEN substr(b.id, 1, 32) || printf('%04x', e.key)
                     ELSE b.id END) AS id,
       b.service_name,
       b.level,
       json_extract(e.value, '$[1]') AS message,
       json_extract(e.value, '$[0]') AS timestamp,
       b.r2_key,
       json_extract(e.value, '$[2]') AS metadata_json,
       b.source_type
FROM log_blocks AS b, json_each(b.entries) AS e
WHERE e.type != 'null';

-- How far the writer has stored each buffer stream (a local buffer file, a Kinesis shard).
-- Written in the same D1 request as the blocks, so a retried flush stores nothing twice.
CREATE TABLE IF NOT EXISTS writer_checkpoints (
    stream     TEXT PRIMARY KEY,
    position   TEXT NOT NULL,      -- decimal: a Kinesis sequence number has up to 128 bits
    updated_at INTEGER NOT NULL    -- Unix ms
) WITHOUT ROWID;

-- Receipts of Idempotency-Keys when ingest writes the index directly (a buffer keeps its
-- own): a retry of the same caller's request gets the ids it got first, a different body
-- with the same key is refused. Cleanup drops them after a day.
CREATE TABLE IF NOT EXISTS ingest_receipts (
    scope      TEXT PRIMARY KEY,   -- hash of the caller's key id, the route and the key
    body_hash  TEXT NOT NULL,
    ids        TEXT NOT NULL,      -- JSON array
    created_at INTEGER NOT NULL    -- Unix ms
) WITHOUT ROWID;
