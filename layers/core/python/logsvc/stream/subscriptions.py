"""What a live-tail client asked for, and what it receives for each entry."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from logsvc.entries import LEVELS, LevelName, LogEntry, ServiceName


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


def stream_view(entry: LogEntry) -> dict[str, Any]:
    """What a subscriber receives for one entry: the entry, its message as the index keeps it."""
    return {**entry.to_record(), "message": entry.indexed_message}
