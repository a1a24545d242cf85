-- Where each service's blocks live when the index spans several databases
-- (INDEX_SHARD_URLS; logsvc.store.placements), kept in the first database: one row per
-- database that holds or held the service's blocks, numbered by position (DATABASE_URL is
-- 0, then INDEX_SHARD_URLS in order). The row with the latest since_ms not in the future
-- is where new blocks go; reads ask every database listed. A row whose since_ms is still
-- ahead announces a move, so every instance knows of it before the first block moves.
CREATE TABLE IF NOT EXISTS index_placements (
    service_name TEXT NOT NULL,
    database INTEGER NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (service_name, database)
);
