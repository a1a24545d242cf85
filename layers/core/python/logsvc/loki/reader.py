"""What the engine reads, and what it keeps of each read: the reader's interface (the
querier answers it over both tiers), the streams of counted rows (their labels read and
matched once a stream), and the statistics Loki's answers carry (``data.stats``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from logsvc.filters import SearchFilters
from logsvc.loki.expressions import Matcher
from logsvc.loki.matching import selected
from logsvc.loki.pipeline import labels_from_json
from logsvc.store.stream_reads import Point, Stream, Tally, Valued


class Reader(Protocol):
    """What the engine reads: logsvc.querier.Querier (the index's hot window and, before
    it, the archive)."""

    def entries(self, filters: SearchFilters) -> tuple[list[dict[str, Any]], bool]: ...

    def points(self, filters: SearchFilters) -> list[Point]: ...

    def streams(self, start_ms: int, end_ms: int) -> list[Stream]: ...

    def block_values(
        self, column: str, start_ms: int, end_ms: int, services: frozenset[str] | None
    ) -> list[str]: ...

    def tallies(self, filters: SearchFilters, origin: int, bucket_ms: int) -> list[Tally]: ...

    def values(
        self, filters: SearchFilters, line_paths: tuple[str, ...], metadata_paths: tuple[str, ...]
    ) -> list[Valued]: ...


@dataclass
class Stats:
    """What a query read: Loki's ``data.stats.summary`` is made of it."""

    lines: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    def read(self, size: int) -> None:
        self.lines += 1
        self.bytes += size

    def summary(self, returned: int) -> dict[str, Any]:
        seconds = max(time.monotonic() - self.started, 1e-9)
        return {
            "bytesProcessedPerSecond": int(self.bytes / seconds),
            "linesProcessedPerSecond": int(self.lines / seconds),
            "totalBytesProcessed": self.bytes,
            "totalLinesProcessed": self.lines,
            "execTime": seconds,
            "queueTime": 0,
            "subqueries": 0,
            "totalEntriesReturned": returned,
            "splits": 0,
            "shards": 0,
            "totalPostFilterLines": returned,
            "totalStructuredMetadataBytesProcessed": 0,
        }


class Streams:
    """The labels of the rows a counting read returns, read and matched once a stream
    (the rows of one stream share them, so they are not to be changed): None for a stream
    the selector or the caller's services leave out."""

    def __init__(self, matchers: list[Matcher], allowed: frozenset[str] | None):
        self.matchers = matchers
        self.allowed = allowed
        self.seen: dict[tuple, tuple[dict[str, str], tuple[tuple[str, str], ...]] | None] = {}

    def select(
        self, service: str, level: str, source: str, pushed: str | None
    ) -> tuple[dict[str, str], tuple[tuple[str, str], ...]] | None:
        """The stream's labels, as a dict and sorted, or None."""
        stream = (service, level, source, pushed)
        if stream not in self.seen:
            labels = labels_from_json(service, level, source, pushed)
            allowed = self.allowed is None or service in self.allowed
            keep = allowed and selected(self.matchers, labels)
            self.seen[stream] = (labels, tuple(sorted(labels.items()))) if keep else None
        return self.seen[stream]
