"""What a live-tail client asked for, and what it receives for each entry."""

from __future__ import annotations

from functools import cache, cached_property
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from logsvc.entries import LevelName, LogEntry, ServiceName
from logsvc.errors import BadRequest
from logsvc.field_filters import FieldFilter, parse
from logsvc.filters import SearchFilters

MAX_MESSAGES_PER_POST = 100  # entries per message sent to a connection


class Subscription(BaseModel):
    """{"action": "subscribe", "services": [...], "min_level": "WARN", "q": "timeout",
    "filters": ["metadata.http.status>=500"]} (filters as search's ``filter=``).

    A Loki tail (``GET /loki/api/v1/tail?query=...``) subscribes with ``loki_query``, a
    LogQL log query: its entries pass through the query's pipeline and arrive in Loki's
    frames, ``{"streams": [...]}``."""

    model_config = ConfigDict(extra="ignore")

    services: Annotated[list[ServiceName], Field(max_length=50)] | None = None
    min_level: LevelName | None = None
    q: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    filters: tuple[FieldFilter, ...] = ()
    loki_query: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None

    @field_validator("loki_query")
    @classmethod
    def _parse_loki_query(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _log_query(value)
            except BadRequest as exc:
                raise ValueError(exc.message.removeprefix("query: ")) from None
        return value

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

    @cached_property  # read for every entry published while the subscription is cached
    def search_filters(self) -> SearchFilters:
        """The subscription in the one filter model."""
        return SearchFilters(
            services=frozenset(self.services) if self.services else None,
            min_level=self.min_level,
            q=self.q,
            fields=self.filters,
        )

    def matches(self, entry: LogEntry) -> bool:
        return self.search_filters.matches(entry.to_record())

    def messages(self, entries: list[LogEntry]) -> list[bytes]:
        """What a subscriber is sent for matching entries: one message per hundred."""
        found = []
        for start in range(0, len(entries), MAX_MESSAGES_PER_POST):
            views = [stream_view(e) for e in entries[start : start + MAX_MESSAGES_PER_POST]]
            if self.loki_query is None:
                found.append(orjson.dumps({"type": "logs", "logs": views}))
                continue
            from logsvc.loki.pipeline import tail_frame

            frame = tail_frame(_log_query(self.loki_query), views)
            if frame is not None:
                found.append(orjson.dumps(frame))
        return found


@cache
def _log_query(text: str) -> Any:
    """A Loki tail's query, parsed once per process."""
    from logsvc.loki.expressions import LogQuery
    from logsvc.loki.logql import LogQLError, parse

    query = parse(text)
    if not isinstance(query, LogQuery):
        raise LogQLError("query: tail takes a log query, not a metric query")
    return query


def stream_view(entry: LogEntry) -> dict[str, Any]:
    """What a subscriber receives for one entry: the entry, its message as the index keeps it."""
    return {**entry.to_record(), "message": entry.indexed_message}
