"""What a live-tail client asked for, and what it receives for each entry."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from logsvc.entries import LEVELS, LevelName, LogEntry, ServiceName
from logsvc.errors import BadRequest
from logsvc.field_filters import FieldFilter, fold, matches_all, parse


class Subscription(BaseModel):
    """{"action": "subscribe", "services": [...], "min_level": "WARN", "q": "timeout",
    "filters": ["metadata.http.status>=500"]} (filters as search's ``filter=``)"""

    model_config = ConfigDict(extra="ignore")

    services: Annotated[list[ServiceName], Field(max_length=50)] | None = None
    min_level: LevelName | None = None
    q: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    filters: tuple[FieldFilter, ...] = ()

    @field_validator("filters", mode="before")
    @classmethod
    def _parse_filters(cls, value: object) -> tuple[FieldFilter, ...]:
        if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
            raise ValueError("must be an array of filters such as metadata.code=DB_TIMEOUT")
        try:
            return parse(value, "filters")
        except BadRequest as exc:
            raise ValueError(exc.message.removeprefix("filters: ")) from None

    @field_serializer("filters")
    def _write_filters(self, filters: tuple[FieldFilter, ...]) -> list[str]:
        return [f.text() for f in filters]

    def view(self) -> dict[str, Any]:
        """What the client asked for, as its acknowledgement echoes it (unset parts left out)."""
        return {k: v for k, v in self.model_dump().items() if v not in (None, [])}

    def matches(self, entry: LogEntry) -> bool:
        if self.services and entry.service_name not in self.services:
            return False
        if self.min_level and LEVELS.index(entry.level) < LEVELS.index(self.min_level):
            return False
        if self.q and fold(self.q) not in fold(entry.message):
            return False
        return matches_all(self.filters, entry.metadata)


def stream_view(entry: LogEntry) -> dict[str, Any]:
    """What a subscriber receives for one entry: the entry, its message as the index keeps it."""
    return {**entry.to_record(), "message": entry.indexed_message}
