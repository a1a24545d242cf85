-- Live tail: the WebSocket connections and what each subscribed to. Rows expire, so a
-- connection that vanished without $disconnect stops receiving after expires_at.
CREATE TABLE IF NOT EXISTS stream_connections (
    connection_id TEXT PRIMARY KEY,
    filters_json  TEXT,               -- NULL until the client subscribes
    connected_at  INTEGER NOT NULL,   -- Unix ms
    expires_at    INTEGER NOT NULL    -- Unix ms
) WITHOUT ROWID;
