-- Where a service's hot window starts when the index had to shrink it to stay under its
-- size budget (INDEX_BUDGET_BYTES; logsvc.store.hot_windows): the index holds the service's
-- entries from since_ms on; searches before it ask the archive, which holds every entry.
-- A service without a row has the hot window its TTL gives.
CREATE TABLE IF NOT EXISTS hot_windows (
    service_name TEXT PRIMARY KEY,
    since_ms INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
