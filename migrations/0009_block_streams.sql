-- The Loki streams a block holds: a JSON array of the distinct [level, pushed labels] pairs
-- of its entries (labels null for entries pushed without any), written with the block, so
-- label names, label values and series are read from the time index alone (the column
-- comes after the entries in the row, so the index covers it: no block is read). NULL for
-- blocks written before: their streams are read from their entries.
ALTER TABLE log_blocks ADD COLUMN streams TEXT;

DROP INDEX IF EXISTS idx_blocks_time;
CREATE INDEX IF NOT EXISTS idx_blocks_time
    ON log_blocks (last_ts, first_ts, entry_count, debug_count, info_count, warn_count,
                   error_count, critical_count, service_name, source_type, streams);
