"""The stream_connections table: live-tail clients and what each subscribed to. Rows
expire, so a connection that vanished without $disconnect stops receiving."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from logsvc.sql import SqlDatabase

CONNECTION_TTL_MS = 2 * 3_600_000  # API Gateway closes WebSocket connections after 2 hours


class Subscribed(Protocol):
    """What a client subscribed to (logsvc.live_tail.subscriptions.Subscription), kept as JSON."""

    def model_dump_json(self) -> str: ...


class ConnectionRegistry:
    def __init__(self, db: SqlDatabase, read: Callable[[str], Any]):
        self.db = db
        self.read = read  # a kept subscription's JSON -> the subscription

    def connect(self, connection_id: str, now_ms: int) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO stream_connections (connection_id, filters_json, "
            "connected_at, expires_at) VALUES (?, NULL, ?, ?)",
            (connection_id, now_ms, now_ms + CONNECTION_TTL_MS),
        )

    def subscribe(self, connection_id: str, subscription: Subscribed) -> bool:
        """Set a connection's filters; False when the connection is not registered."""
        result = self.db.execute(
            "UPDATE stream_connections SET filters_json = ? WHERE connection_id = ?",
            (subscription.model_dump_json(), connection_id),
        )
        return result.changes > 0

    def disconnect(self, connection_id: str) -> None:
        self.db.execute("DELETE FROM stream_connections WHERE connection_id = ?", (connection_id,))

    def subscribers(self, now_ms: int) -> list[tuple[str, Any]]:
        rows = self.db.query(
            "SELECT connection_id, filters_json FROM stream_connections "
            "WHERE filters_json IS NOT NULL AND expires_at > ?",
            (now_ms,),
        )
        return [(row["connection_id"], self.read(row["filters_json"])) for row in rows]

    def delete_expired(self, now_ms: int) -> int:
        return len(
            self.db.query(
                "DELETE FROM stream_connections WHERE expires_at <= ? RETURNING connection_id",
                (now_ms,),
            )
        )
