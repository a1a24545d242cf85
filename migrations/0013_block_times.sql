-- Time summaries of sealed blocks (issue 30; logsvc.store.block_times): each stream's entry
-- times and message sizes, computed in SQL when a block is sealed, so counts per time
-- bucket read no entries. Blocks without one are counted from their entries.
--
-- Keyed by the block's words_doc (its rowid in the content index, which the indexes on
-- log_blocks carry), in a table with rowids: a row of about 2 KB fits a page there, where
-- a table without rowids keeps 1 KB in the page and the rest on an overflow page of its
-- own (22 MB instead of 9 for 1,000,000 logs: measured).
CREATE TABLE IF NOT EXISTS block_times (
    doc          INTEGER PRIMARY KEY,   -- log_blocks.words_doc
    service_name TEXT NOT NULL,
    source_type  TEXT NOT NULL,
    since        INTEGER NOT NULL,      -- the block's oldest entry, Unix ms
    streams      TEXT NOT NULL          -- JSON: [[level, labels, [times after since], [sizes]], ...]
);
