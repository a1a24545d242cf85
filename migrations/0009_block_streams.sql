-- The Loki streams a block holds: a JSON array of the distinct [level, pushed labels] pairs
-- of its entries (labels null for entries pushed without any), written with the block, so
-- label names, label values and series are read from block rows alone. NULL for blocks
-- written before: their streams are read from their entries.
ALTER TABLE log_blocks ADD COLUMN streams TEXT;
