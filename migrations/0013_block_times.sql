-- Time summaries of sealed blocks (issue 30; logsvc.store.block_times): each stream's entry
-- times (ms after `since`, ascending) and cumulative message sizes, computed in SQL when a
-- block is sealed, so counts per time bucket read no entries. Blocks without one are
-- counted from their entries.
CREATE TABLE IF NOT EXISTS block_times (
    id           TEXT PRIMARY KEY,   -- the block's (log_blocks.id)
    service_name TEXT NOT NULL,
    source_type  TEXT NOT NULL,
    since        INTEGER NOT NULL,   -- the block's oldest entry, Unix ms
    streams      TEXT NOT NULL       -- JSON: [[level, labels, [times], [cumulative sizes]], ...]
) WITHOUT ROWID;
