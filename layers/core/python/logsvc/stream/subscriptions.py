"""What a live-tail client asked for, and the registry of connected clients (SQL)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from logsvc.entries import LEVELS, LevelName, LogEntry, ServiceName
from logsvc.sql import SqlDatabase

CONNECTION_TTL_MS = 2 * 3_600_000  # API Gateway closes WebSocket connections after 2 hours


class Subscription(BaseModel):
    """{"action": "subscribe", "services": [...], "min_level": "WARN", "q": "timeout"}"""

    model_config = ConfigDict(extra="ignore")

    services: Annotated[list[ServiceName], Field(max_length=50)] | None = None
    min_level: LevelName | None = None
    q: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    def matches(self, entry: LogEntry) -> bool:
        if self.services and entry.service_name not in self.services:
            return False
        if self.min_level and LEVELS.index(entry.level) < LEVELS.index(self.min_level):
            return False
        return not self.q or self.q.lower() in entry.message.lower()


class ConnectionRegistry:
    def __init__(self, db: SqlDatabase):
        self.db = db

    def connect(self, connection_id: str, now_ms: int) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO stream_connections (connection_id, filters_json, "
            "connected_at, expires_at) VALUES (?, NULL, ?, ?)",
            (connection_id, now_ms, now_ms + CONNECTION_TTL_MS),
        )

    def subscribe(self, connection_id: str, subscription: Subscription) -> bool:
        """Set a connection's filters; False when the connection is not registered."""
        result = self.db.execute(
            "UPDATE stream_connections SET filters_json = ? WHERE connection_id = ?",
            (subscription.model_dump_json(), connection_id),
        )
        return result.changes > 0

    def disconnect(self, connection_id: str) -> None:
        self.db.execute("DELETE FROM stream_connections WHERE connection_id = ?", (connection_id,))

    def subscribers(self, now_ms: int) -> list[tuple[str, Subscription]]:
        rows = self.db.query(
            "SELECT connection_id, filters_json FROM stream_connections "
            "WHERE filters_json IS NOT NULL AND expires_at > ?",
            (now_ms,),
        )
        return [
            (row["connection_id"], Subscription.model_validate(json.loads(row["filters_json"])))
            for row in rows
        ]

    def delete_expired(self, now_ms: int) -> int:
        return len(
            self.db.query(
                "DELETE FROM stream_connections WHERE expires_at <= ? RETURNING connection_id",
                (now_ms,),
            )
        )


def stream_view(entry: LogEntry) -> dict[str, Any]:
    """What a subscriber receives for one entry: the API's log shape, message truncated."""
    return {
        "id": entry.id,
        "service_name": entry.service_name,
        "level": entry.level,
        "message": entry.indexed_message,
        "timestamp": entry.timestamp,
        "metadata": entry.metadata,
        "source_type": entry.source_type,
    }
