"""The one filter model: which entries a reader wants, whatever answers it.

``SearchFilters`` is what the native API, the console, the Loki engine and the archive all
ask with. Each engine compiles it: the index's D1 SQL (logsvc.store.block_sql), the
archive's DuckDB/Athena SQL (logsvc.archive.query), and the Python predicate here, which
live tail runs on each new entry and the SQL engines run on what their SQL can only narrow
(text that needs Unicode folding; metadata values whose JSON types an engine reads its own
way), so every engine answers alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from logsvc.deadline import Deadline
from logsvc.entries import LEVELS
from logsvc.field_filters import FieldFilter, fold, matches_all, needs_python_fold

Predicate = Callable[[Mapping[str, Any]], bool]  # an entry in the API's shape -> kept?


@dataclass(frozen=True)
class SearchFilters:
    service: str | None = None
    level: str | None = None
    start_time: int | None = None  # Unix ms, inclusive
    end_time: int | None = None
    q: str | None = None  # a substring of the message, ignoring case
    fields: tuple[FieldFilter, ...] = ()  # metadata filters (logsvc.field_filters)
    limit: int = 100
    offset: int = 0
    services: frozenset[str] | None = None  # the services a reader may see (None: all)
    min_level: str | None = None  # this level and above (live tail)
    # The request's time budget, checked by every reader loop (None: no limit).
    deadline: Deadline | None = field(default=None, compare=False)

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """The whole test in Python, for one entry (live tail)."""
        service = entry["service_name"]
        if self.service is not None and service != self.service:
            return False
        if self.services is not None and service not in self.services:
            return False
        level = entry["level"]
        if self.level is not None and level != self.level:
            return False
        if self.min_level is not None and LEVELS.index(level) < LEVELS.index(self.min_level):
            return False
        timestamp = entry["timestamp"]
        if self.start_time is not None and timestamp < self.start_time:
            return False
        if self.end_time is not None and timestamp > self.end_time:
            return False
        if self.q and fold(self.q) not in fold(entry["message"]):
            return False
        return matches_all(self.fields, entry.get("metadata"))

    def residual(self, fields_in_sql: bool) -> Predicate | None:
        """What an SQL engine's answer must still pass, or None when its SQL is exact:
        a substring whose letters need Unicode folding, and the field filters the engine's
        SQL only narrows (all of them, unless ``fields_in_sql``: then those that need
        Python, see FieldFilter.needs_python)."""
        q = fold(self.q) if self.q and needs_python_fold(self.q) else None
        fields = [f for f in self.fields if not fields_in_sql or f.needs_python()]
        if q is None and not fields:
            return None

        def test(entry: Mapping[str, Any]) -> bool:
            if q is not None and q not in fold(entry["message"]):
                return False
            return matches_all(fields, entry.get("metadata"))

        return test
