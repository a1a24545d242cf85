"""The one read interface: every reader (the native API, the console, the Loki engine)
asks the querier, and it decides which tier answers. The index holds a hot window (each
service's ``ttl_days``), the archive holds everything for ``archive_ttl_days``.

Logs, metric points and entries by id are read over both tiers; label values, stats and
the services list come from the index (they describe what it holds).

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

from logsvc.archive import LogArchive
from logsvc.archive.query import ArchiveAnswer, ArchiveQuery
from logsvc.clock import DAY_MS, now_ms
from logsvc.entries import MAX_INDEXED_MESSAGE_CHARS, pushed_labels
from logsvc.errors import ApiError, ArchiveUnavailable
from logsvc.filters import SearchFilters
from logsvc.ids import ID_PATTERN, id_timestamp
from logsvc.refreshed import Refreshed
from logsvc.store.configs import ConfigStore, RetentionDefaults
from logsvc.store.log_index import LogIndex
from logsvc.store.stream_reads import Point, Stream, Tally, Valued, labels_json, read_values

# A metric query reads at most this many archived entries (each is held in memory).
MAX_ARCHIVE_POINTS = 200_000

Services = frozenset[str] | None  # the services a reader may read (None: all)


class QueryTooLarge(ApiError):
    status_code = 422


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


class Querier:
    def __init__(
        self,
        index: LogIndex,
        archive: Callable[[], ArchiveEngine],
        objects: LogArchive,
        configs: ConfigStore,
        defaults: RetentionDefaults,
        *,
        timeout_s: float = 20.0,
        archive_enabled: bool = True,
        clock: Callable[[], int] = now_ms,
    ):
        self.index = index
        self.archive = archive  # built on first use: most searches never need it
        self.objects = objects  # the archive's objects, for an indexed entry's full copy
        self.configs = configs
        self.defaults = defaults
        self.timeout_s = timeout_s
        self.archive_enabled = archive_enabled
        self.clock = clock
        # Every configured service's hot window in days (a search costs no more D1
        # requests than before two tiers).
        self._windows = Refreshed(self._window_days, {}, "hot windows")
        # Services whose window the index's size budget shrank (logsvc.store.hot_windows).
        self._shrunk = Refreshed(self.index.windows, {}, "shrunk hot windows")

    def _window_days(self) -> dict[str, int]:
        return {c.service_name: c.effective_ttl_days(self.defaults) for c in self.configs.list()}

    def hot_since(self, service: str | None) -> int:
        """Where the index's hot window starts for a service: its TTL's, or later where the
        size budget shrank it (for every service: the latest start of any, so the index
        answers only where it is whole)."""
        windows = self._windows.get()
        shrunk = self._shrunk.get()
        if service is not None:
            days = windows.get(service, self.defaults.ttl_days)
            return max(self.clock() - days * DAY_MS, shrunk.get(service, 0))
        days = min([self.defaults.ttl_days, *windows.values()])
        return max([self.clock() - days * DAY_MS, *shrunk.values()])

    def entries(self, filters: SearchFilters) -> tuple[list[dict[str, Any]], bool]:
        """A page and whether more follow, as LogIndex.search answers (the Loki API's log
        queries page through both tiers with it)."""
        page = self.search(filters)
        return page.logs, page.has_more

    def points(self, filters: SearchFilters) -> list[Point]:
        """(timestamp, level, service, source, message bytes, pushed labels) of every entry
        the filters match (no paging), over both tiers: what metric queries count. The index answers
        its hot window from one SQL query; before it, the archive's entries are read."""
        hot_since = self._split_at(filters)
        if hot_since is None:
            return self.index.points(filters)
        points: list[Point] = []
        if filters.end_time is None or filters.end_time >= hot_since:
            points = self.index.points(replace(filters, start_time=hot_since))
        points += [_point_of(e) for e in self._archived_entries(filters, hot_since)]
        return points

    def _archived_entries(self, filters: SearchFilters, hot_since: int) -> list[dict[str, Any]]:
        """Every entry the filters match before the hot window, for a count: all of them or
        an error (at most MAX_ARCHIVE_POINTS)."""
        assert filters.start_time is not None
        end = _archive_end(filters, hot_since)
        query = self._archive_query(filters, filters.start_time, end, MAX_ARCHIVE_POINTS + 1)
        answer = self._archive_search(query)
        # A count must not be silently short: an archive that could not answer in time, or
        # holds more than a function's memory should hold, is an error naming the remedy.
        if answer.status == "running" or answer.reason == "timeout":
            raise QueryTooLarge(
                "query: the archive's part of this range did not finish in time; narrow "
                "the time range or the selector",
                field="query",
            )
        if len(answer.entries) > MAX_ARCHIVE_POINTS:
            raise QueryTooLarge(
                f"query: more than {MAX_ARCHIVE_POINTS} entries before the hot window; "
                "narrow the time range or the selector",
                field="query",
            )
        return answer.entries

    def values(
        self, filters: SearchFilters, line_paths: tuple[str, ...], metadata_paths: tuple[str, ...]
    ) -> list[Valued]:
        """Each matching entry's values at the paths (LogIndex.values), over both tiers: the
        index reads its hot window in SQL; the archive's part (at most MAX_ARCHIVE_POINTS
        entries) is read here, the same way."""
        hot_since = self._split_at(filters)
        if hot_since is None:
            return self.index.values(filters, line_paths, metadata_paths)
        found: list[Valued] = []
        if filters.end_time is None or filters.end_time >= hot_since:
            found = self.index.values(
                replace(filters, start_time=hot_since), line_paths, metadata_paths
            )
        for entry in self._archived_entries(filters, hot_since):
            found.append(
                read_values(
                    entry["timestamp"],
                    entry["level"],
                    entry["service_name"],
                    entry.get("source_type") or "http",
                    entry["message"][:MAX_INDEXED_MESSAGE_CHARS],  # what the index keeps
                    entry.get("metadata") or {},
                    line_paths,
                    metadata_paths,
                )
            )
        return found

    def tallies(self, filters: SearchFilters, origin: int, bucket_ms: int) -> list[Tally]:
        """Each stream's entries and bytes per time bucket (LogIndex.tallies), over both
        tiers: the index counts its hot window in SQL; the archive's part (at most
        MAX_ARCHIVE_POINTS entries) is counted here."""
        hot_since = self._split_at(filters)
        if hot_since is None:
            return self.index.tallies(filters, origin, bucket_ms)
        tallies: list[Tally] = []
        if filters.end_time is None or filters.end_time >= hot_since:
            tallies = self.index.tallies(replace(filters, start_time=hot_since), origin, bucket_ms)
        counted: dict[tuple, list[int]] = {}
        for entry in self._archived_entries(filters, hot_since):
            timestamp, level, service, source, size, labels = _point_of(entry)
            key = ((timestamp - origin) // bucket_ms, level, service, source, labels)
            tally = counted.setdefault(key, [0, 0])
            tally[0] += 1
            tally[1] += size
        return tallies + [(*key, entries, size) for key, (entries, size) in counted.items()]

    # What the index holds: its services, a service's stats and newest entries.

    def services(self) -> list[dict[str, Any]]:
        return self.index.services()

    def stats(self, service_name: str, now_ms: int) -> dict[str, Any]:
        """The index's counts, where its window for the service starts, and how full the
        fullest index database is (each database said its size with its answer)."""
        counts = self.index.stats(service_name, now_ms)  # its answer says D1's size too
        fills = [c["fill"] for c in self.index.capacity() if c["fill"] is not None]
        return {
            **counts,
            "hot_since": self.hot_since(service_name),
            "index_fill": max(fills, default=None),
        }

    def recent(self, service_name: str, limit: int) -> list[dict[str, Any]]:
        return self.index.recent(service_name, limit)

    def block_values(
        self, column: str, start_ms: int, end_ms: int, services: frozenset[str] | None
    ) -> list[str]:
        """A block column's distinct values in the index between two times (see
        LogIndex.block_values)."""
        return self.index.block_values(column, start_ms, end_ms, services)

    def streams(self, start_ms: int, end_ms: int) -> list[Stream]:
        """(service, source, level, pushed labels) of the index's streams between two
        times (label names and values: what the index holds)."""
        return self.index.streams(start_ms, end_ms)

    def get(self, entry_id: str, readable: Services) -> dict[str, Any] | None:
        """The entry with this id from whichever tier holds it, when its service is
        ``readable`` (None: all; a restricted key cannot learn that another service's id
        exists)."""
        entry = self.index.get(entry_id)
        if entry is not None:
            return entry if _may_read(readable, entry["service_name"]) else None
        return self._archived(entry_id, readable)

    def full(self, entry_id: str, readable: Services) -> dict[str, Any] | None:
        """The entry as archived (its whole message and metadata), or None."""
        entry = self.index.get(entry_id)
        if entry is None:
            return self._archived(entry_id, readable)
        if not _may_read(readable, entry["service_name"]):
            return None
        key = entry["r2_key"]
        full = self.objects.read_entry(key, entry_id) if key else None
        # Compacted since: the object is gone, its entries are in the day's Parquet.
        full = full or self._archived(entry_id, readable, entry["service_name"], entry["timestamp"])
        return None if full is None else {**full, "r2_key": key, "tier": "index"}

    def _archived(
        self,
        entry_id: str,
        readable: Services,
        service: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any] | None:
        """An entry found by id in the archive (past the hot window, or compacted). An id
        the index does not hold is looked for only when its time is before every hot
        window: a newer one would be in the index, and each look is an archive query (on
        Athena, a billed one)."""
        if not self.archive_enabled or not ID_PATTERN.fullmatch(entry_id):
            return None
        at = id_timestamp(entry_id) if timestamp is None else timestamp
        if timestamp is None and at >= self.hot_since(None):
            return None
        if service is not None:
            services: tuple[str, ...] | None = (service,)
        else:
            services = None if readable is None else tuple(sorted(readable))
        query = ArchiveQuery(start=at, end=at, services=services, entry_id=entry_id, limit=1)
        answer = self.archive().search(query, self.timeout_s)
        entry = answer.entries[0] if answer.entries else None
        if entry is None or not _may_read(readable, entry["service_name"]):
            return None
        return {**entry, "r2_key": None, "tier": "archive"}

    def _split_at(self, filters: SearchFilters) -> int | None:
        """Where the hot window starts, when the filters reach before it (else None: the
        index alone answers)."""
        if not self.archive_enabled or filters.start_time is None:
            return None
        hot_since = self.hot_since(filters.service)
        return hot_since if filters.start_time < hot_since else None

    @staticmethod
    def _archive_query(
        filters: SearchFilters, start: int, end: int, limit: int | None
    ) -> ArchiveQuery:
        """The filters as the archive is asked (logsvc.archive.query)."""
        services = (filters.service,) if filters.service else None
        if services is None and filters.services is not None:
            services = tuple(sorted(filters.services))
        return ArchiveQuery(
            start=start,
            end=end,
            services=services,
            level=filters.level,
            q=filters.q,
            fields=filters.fields,
            limit=limit,
        )

    def _archive_search(
        self, query: ArchiveQuery, archive_query_id: str | None = None
    ) -> ArchiveAnswer:
        try:
            return self.archive().search(query, self.timeout_s, archive_query_id)
        except ArchiveUnavailable as exc:  # the index's part still answers
            return ArchiveAnswer([], "partial", f"unavailable: {exc}")

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
        archive_range = (filters.start_time, _archive_end(filters, hot_since))
        if more_in_index:
            page = newest[filters.offset : wanted]
            return TieredPage(_marked(page, "index"), True, hot_since, None)
        query = self._archive_query(filters, *archive_range, wanted - len(newest) + 1)
        answer = self._archive_search(query, archive_query_id)
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


def _may_read(readable: Services, service: str) -> bool:
    return readable is None or service in readable


def _point_of(entry: dict[str, Any]) -> Point:
    """An archived entry as the index's points are: time, level, service, source, message
    bytes, pushed labels as JSON text."""
    return (
        entry["timestamp"],
        entry["level"],
        entry["service_name"],
        entry.get("source_type") or "http",
        len(entry["message"].encode()),
        labels_json(pushed_labels(entry.get("metadata"))),
    )


def _archive_end(filters: SearchFilters, hot_since: int) -> int:
    """Where the archive's part of a range ends: just before the hot window."""
    return hot_since - 1 if filters.end_time is None else min(filters.end_time, hot_since - 1)
