-- The content index (issue 30; logsvc.store.content_index), two contentless FTS5 tables
-- (rowids only: no text stored, no positions) with one document per sealed block, so a
-- search for a substring or a field value reads only the blocks that can hold it:
-- block_words holds the trigrams of its entries' messages and of its metadata's text values
-- as key=value lines (any substring of 3 characters or more); block_fields holds each of
-- those lines as one token (a field's exact value).
--
-- A block's `words_doc` is its documents' rowid in both: NULL while the block is still open
-- to appends (and for blocks written before this migration), and such blocks are read as
-- before. The indexes carry it, so choosing blocks stays index-only.
--
-- D1 cannot export a database holding an FTS5 table (`wrangler d1 export` fails): see
-- docs/OPERATIONS.md#exporting-the-index for the steps around an export.
ALTER TABLE log_blocks ADD COLUMN words_doc INTEGER;

CREATE VIRTUAL TABLE IF NOT EXISTS block_words
    USING fts5(words, content='', detail=none, tokenize='trigram');

-- A line is one token: printable ASCII but ';' are token characters (case folded).
CREATE VIRTUAL TABLE IF NOT EXISTS block_fields
    USING fts5(fields, content='', detail=none,
               tokenize="unicode61 remove_diacritics 0 tokenchars ' !""#$%&''()*+,-./:<=>?@[\]^_`{|}~'");

DROP INDEX IF EXISTS idx_blocks_service_time;
DROP INDEX IF EXISTS idx_blocks_time;
CREATE INDEX IF NOT EXISTS idx_blocks_service_time
    ON log_blocks (service_name, last_ts, first_ts, entry_count, debug_count, info_count,
                   warn_count, error_count, critical_count, words_doc);
CREATE INDEX IF NOT EXISTS idx_blocks_time
    ON log_blocks (last_ts, first_ts, entry_count, debug_count, info_count, warn_count,
                   error_count, critical_count, service_name, source_type, streams, words_doc);
