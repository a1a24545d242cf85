"""One search over two tiers: the index holds a hot window (each service's ``ttl_days``),
the archive holds everything for ``archive_ttl_days``.

A search is split at the hot window's start: the index answers from there on, the archive
before it, so no entry is counted twice although the archive also holds the hot window.
The index's entries are newer, so they come first; the archive is asked only for what the
index cannot fill of the page, and only when the search names a start before the hot
window (a search without start_time stays in the index, as before two tiers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from logsvc.archive.query import ArchiveAnswer, ArchiveQuery
from logsvc.clock import DAY_MS, now_ms
from logsvc.errors import ArchiveUnavailable
from logsvc.refreshed import Refreshed
from logsvc.store.configs import ConfigStore, RetentionDefaults
from logsvc.store.log_index import LogIndex, SearchFilters


class ArchiveEngine(Protocol):
    def search(
        self, query: ArchiveQuery, timeout_s: float = ..., query_id: str | None = None
    ) -> ArchiveAnswer:
        """At most query.limit entries, newest first; query_id collects a running query."""


@dataclass
class TieredPage:
    logs: list[dict[str, Any]]
    has_more: bool
    hot_since: int | None  # the index answers from here on (Unix ms); None: not asked
    archive: ArchiveAnswer | None  # None: the archive was not needed
    archive_range: tuple[int, int] | None = None

    def archive_view(self) -> dict[str, Any] | None:
        if self.archive is None or self.archive_range is None:
            return None
        answer = self.archive
        return {
            "status": answer.status,
            "reason": answer.reason,
            "query_id": answer.query_id,
            "start_time": self.archive_range[0],
            "end_time": self.archive_range[1],
            "objects_read": answer.objects_read,
            "bytes_scanned": answer.bytes_scanned,
            "skipped_objects": answer.skipped or [],
        }


class TieredSearch:
    def __init__(
        self,
        index: LogIndex,
        archive: Callable[[], ArchiveEngine],
        configs: ConfigStore,
        defaults: RetentionDefaults,
        *,
        timeout_s: float = 20.0,
        archive_enabled: bool = True,
        clock: Callable[[], int] = now_ms,
    ):
        self.index = index
        self.archive = archive  # built on first use: most searches never need it
        self.configs = configs
        self.defaults = defaults
        self.timeout_s = timeout_s
        self.archive_enabled = archive_enabled
        self.clock = clock
        # Every configured service's hot window in days (a search costs no more D1
        # requests than before two tiers).
        self._windows = Refreshed(self._window_days, {}, "hot windows")

    def _window_days(self) -> dict[str, int]:
        return {c.service_name: c.effective_ttl_days(self.defaults) for c in self.configs.list()}

    def hot_since(self, service: str | None) -> int:
        """Where the index's hot window starts for a service (for every service: the
        shortest window any service has, so the index answers only where it is whole)."""
        windows = self._windows.get()
        if service is not None:
            days = windows.get(service, self.defaults.ttl_days)
        else:
            days = min([self.defaults.ttl_days, *windows.values()])
        return self.clock() - days * DAY_MS

    def entries(self, filters: SearchFilters) -> tuple[list[dict[str, Any]], bool]:
        """A page and whether more follow, as LogIndex.search answers (the Loki API's log
        queries page through both tiers with it)."""
        page = self.search(filters)
        return page.logs, page.has_more

    def search(self, filters: SearchFilters, archive_query_id: str | None = None) -> TieredPage:
        if not self.archive_enabled or filters.start_time is None:
            logs, has_more = self.index.search(filters)  # index only, as before two tiers
            return TieredPage(_marked(logs, "index"), has_more, None, None)
        hot_since = self.hot_since(filters.service)
        if filters.start_time >= hot_since:
            logs, has_more = self.index.search(filters)
            return TieredPage(_marked(logs, "index"), has_more, hot_since, None)
        wanted = filters.offset + filters.limit
        newest: list[dict[str, Any]] = []
        more_in_index = False
        if filters.end_time is None or filters.end_time >= hot_since:
            newest, more_in_index = self.index.search(
                replace(filters, start_time=hot_since, offset=0, limit=wanted)
            )
        archive_end = (
            hot_since - 1 if filters.end_time is None else min(filters.end_time, hot_since - 1)
        )
        archive_range = (filters.start_time, archive_end)
        if more_in_index:
            page = newest[filters.offset : wanted]
            return TieredPage(_marked(page, "index"), True, hot_since, None)
        query = ArchiveQuery(
            start=archive_range[0],
            end=archive_range[1],
            services=(filters.service,) if filters.service else None,
            level=filters.level,
            q=filters.q,
            fields=filters.fields,
            limit=wanted - len(newest) + 1,
        )
        try:
            answer = self.archive().search(query, self.timeout_s, archive_query_id)
        except ArchiveUnavailable as exc:  # the index's part still answers
            answer = ArchiveAnswer([], "partial", f"unavailable: {exc}")
        merged = _marked(newest, "index") + _marked(answer.entries, "archive")
        return TieredPage(
            merged[filters.offset : wanted],
            len(merged) > wanted,
            hot_since,
            answer,
            archive_range,
        )


def _marked(entries: list[dict[str, Any]], tier: str) -> list[dict[str, Any]]:
    for entry in entries:
        entry["tier"] = tier
        entry.setdefault("r2_key", None)
    return entries
