-- The content index (issue 30; logsvc.store.content_index): for each sealed block, the
-- trigrams of its entries' messages and of its metadata's text values as key=value, in a
-- contentless FTS5 table (rowids only: no text stored, no positions), so a search for a
-- substring or a field value reads only the blocks that can hold it.
--
-- A block's `words_doc` is its document's rowid in block_words: NULL while the block is
-- still open to appends (and for blocks written before this migration), and such blocks
-- are read as before. The indexes carry it, so choosing blocks stays index-only.
--
-- D1 cannot export a database holding an FTS5 table (`wrangler d1 export` fails): see
-- docs/OPERATIONS.md#exporting-the-index for the steps around an export.
ALTER TABLE log_blocks ADD COLUMN words_doc INTEGER;

CREATE VIRTUAL TABLE IF NOT EXISTS block_words
    USING fts5(words, content='', detail=none, tokenize='trigram');

DROP INDEX IF EXISTS idx_blocks_service_time;
DROP INDEX IF EXISTS idx_blocks_time;
CREATE INDEX IF NOT EXISTS idx_blocks_service_time
    ON log_blocks (service_name, last_ts, first_ts, entry_count, debug_count, info_count,
                   warn_count, error_count, critical_count, words_doc);
CREATE INDEX IF NOT EXISTS idx_blocks_time
    ON log_blocks (last_ts, first_ts, entry_count, debug_count, info_count, warn_count,
                   error_count, critical_count, service_name, source_type, streams, words_doc);
