"""Answers LogQL queries (logsvc.loki.logql) from what the querier reads (both tiers).

An entry's stream labels are ``service_name``, ``level`` and ``detected_level`` (its level in
lower case, as Grafana expects) and ``source_type``. The selector's ``service_name`` and
``level`` equalities, and a first ``|=`` line filter, narrow the search in SQL; everything
else runs here, entry by entry, newest first. ``| json`` extracts the entry's metadata
(nested keys joined with ``_``, as Loki names them) and, when the line is a JSON object,
its fields; ``| logfmt`` reads ``key=value`` pairs from the line.

Metric queries with nothing but a selector (and ``| drop``) are counted from one SQL query
that returns each entry's time, labels and size (Querier.points); the others walk the
entries through the line pipeline (logsvc.loki.pipeline) and combine series with
logsvc.loki.vectors.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from logsvc.entries import LEVELS
from logsvc.errors import ApiError, BadRequest
from logsvc.field_filters import MAX_FILTERS, FieldFilter, parse_one
from logsvc.filters import SearchFilters
from logsvc.loki.logql import (
    Binary,
    Drop,
    LineFilter,
    LogQLError,
    LogQuery,
    Matcher,
    Number,
    Query,
    RangeAggregation,
    VectorAggregation,
    VectorLiteral,
)
from logsvc.loki.matching import line_kept, selected
from logsvc.loki.pipeline import Line, labels_from_json, run_pipeline, stream_labels, without
from logsvc.loki.vectors import Series, aggregate, binary
from logsvc.store.log_index import Point, Stream

MAX_ENTRIES = 5000  # Loki's max_entries_limit_per_query
MAX_SERIES = 500  # Loki's max_query_series
MAX_POINTS = 11_000  # Loki's (and Prometheus's) points per series
STREAM_LABELS = ("service_name", "level", "detected_level", "source_type")
_LEVEL_LABELS = ("level", "detected_level")


class QueryTimeout(ApiError):
    status_code = 504


@dataclass
class Budget:
    """The query timeout: checked while entries are walked."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def check(self) -> None:
        if time.monotonic() - self.started > self.seconds:
            raise QueryTimeout(
                f"query timed out after {self.seconds:g} s: narrow the time range or the selector",
                field="query",
            )


Search = Callable[[SearchFilters], tuple[list[dict[str, Any]], bool]]  # a page, and more?


class Reader(Protocol):
    """What the engine reads: logsvc.querier.Querier (the index's hot window and, before
    it, the archive)."""

    def entries(self, filters: SearchFilters) -> tuple[list[dict[str, Any]], bool]: ...

    def points(self, filters: SearchFilters) -> list[Point]: ...

    def streams(self, start_ms: int, end_ms: int) -> list[Stream]: ...


class Engine:
    def __init__(
        self, reader: Reader, allowed: frozenset[str] | None = None, timeout_s: float = 25.0
    ):
        self.reader = reader  # log and metric queries alike read both tiers through it
        self.allowed = allowed  # the services the caller may read (None: all)
        self.timeout_s = timeout_s

    # -- log queries ----------------------------------------------------------------------

    def lines(
        self, query: LogQuery, start_ms: int, end_ms: int, limit: int, forward: bool = False
    ) -> list[Line]:
        """The newest (or, forward, the oldest) ``limit`` lines in [start, end]."""
        if limit > MAX_ENTRIES:
            raise BadRequest(
                f"limit: max entries limit per query exceeded, limit > max_entries_limit "
                f"({limit} > {MAX_ENTRIES})",
                field="limit",
            )
        # Forward, the walk runs newest first to the start: only the oldest ``limit`` lines
        # seen so far are held, whatever the range holds.
        found: deque[Line] = deque(maxlen=limit if forward else None)
        # Backward, the first page need hold no more than the lines asked for.
        first_page = 1000 if forward else max(limit, 10)
        for line in self._walk(query, start_ms, end_ms, first_page):
            found.append(line)
            if not forward and len(found) >= limit:
                break
        return list(reversed(found)) if forward else list(found)

    def _walk(
        self, query: LogQuery, start_ms: int, end_ms: int, first_page: int = 1000
    ) -> Iterator[Line]:
        """Every line of the query in [start, end], newest first."""
        budget = Budget(self.timeout_s)
        filters, matchers, first_filter = self._search_filters(query, start_ms, end_ms)
        if filters is None:
            return
        for entry in _scan(self.reader.entries, filters, budget, first_page):
            labels = stream_labels(entry)
            if not selected(matchers, labels):
                continue
            if self.allowed is not None and entry["service_name"] not in self.allowed:
                continue
            if first_filter is not None and not line_kept(
                first_filter.op, first_filter.values, entry["message"]
            ):
                continue
            line = run_pipeline(query.stages, labels, entry)
            if line is not None:
                yield line

    def _search_filters(
        self, query: LogQuery, start_ms: int, end_ms: int
    ) -> tuple[SearchFilters | None, list[Matcher], LineFilter | None]:
        """What SQL can narrow: service and level equalities, pushed labels' equalities and
        the first |= (SQL ignores case, so the matchers and the filter are checked again
        exactly). None when nothing can match."""
        service = level = None
        rest = []
        pushed: list[FieldFilter] = []
        for matcher in query.matchers:
            if matcher.op == "=" and matcher.label == "service_name" and service is None:
                service = matcher.value
            elif matcher.op == "=" and matcher.label in _LEVEL_LABELS and level is None:
                level = matcher.value.upper()
                if level not in LEVELS:
                    return None, [], None
            else:
                rest.append(matcher)
                narrowing = _pushed_label_filter(matcher)
                if narrowing is not None:
                    pushed.append(narrowing)
        if service and self.allowed is not None and service not in self.allowed:
            return None, [], None
        first = query.stages[0] if query.stages else None
        q = None
        if (
            isinstance(first, LineFilter)
            and first.op == "|="
            and first.value
            and not first.alternatives
        ):
            q = first.value[:200]
        # The caller's services narrow the SQL first: text tests never run over (and so
        # never time) another tenant's entries.
        filters = SearchFilters(
            service=service,
            level=level,
            start_time=start_ms,
            end_time=end_ms,
            q=q,
            fields=tuple(pushed[:MAX_FILTERS]),
            services=self.allowed,
        )
        return filters, rest, (first if q is not None else None)

    # -- metric queries -------------------------------------------------------------------

    def evaluate(self, query: Query, start_ms: int, end_ms: int, step_ms: int) -> Series:
        """A metric query's series: labels -> {step time: value}."""
        if step_ms <= 0:
            raise BadRequest("step: must be positive", field="step")
        if (end_ms - start_ms) // step_ms + 1 > MAX_POINTS:
            raise BadRequest(
                f"step: exceeded maximum resolution of {MAX_POINTS} points per series; "
                "use a larger step",
                field="step",
            )
        steps = list(range(start_ms, end_ms + 1, step_ms))
        return self._evaluate(query, steps)

    def _evaluate(self, query: Query, steps: list[int]) -> Series:
        if isinstance(query, VectorLiteral | Number):
            return {(): dict.fromkeys(steps, query.value)}
        if isinstance(query, RangeAggregation):
            return self._range(query, steps)
        if isinstance(query, VectorAggregation):
            return aggregate(query, self._evaluate(query.inner, steps))
        if isinstance(query, Binary):
            left, right = self._evaluate(query.left, steps), self._evaluate(query.right, steps)
            return binary(query, left, right, _scalar(query.left), _scalar(query.right))
        raise LogQLError(
            "query: a log query here needs a range aggregation, such as count_over_time"
        )

    def _range(self, query: RangeAggregation, steps: list[int]) -> Series:
        window = query.range_ms
        start, end = steps[0] - window, steps[-1]
        samples: dict[tuple[tuple[str, str], ...], tuple[list[int], list[int]]] = defaultdict(
            lambda: ([], [])
        )
        for timestamp, labels, size in self._samples(query.query, start, end):
            times, sizes = samples[tuple(sorted(labels.items()))]
            times.append(timestamp)
            sizes.append(size)
        if len(samples) > MAX_SERIES:
            raise BadRequest(
                f"query: maximum number of series ({MAX_SERIES}) reached for a single query",
                field="query",
            )
        series: Series = {}
        seconds = window / 1000
        for labels, (times, sizes) in samples.items():
            order = sorted(range(len(times)), key=times.__getitem__)
            times = [times[i] for i in order]
            cumulative = [0]
            for i in order:
                cumulative.append(cumulative[-1] + sizes[i])
            values: dict[int, float] = {}
            for step in steps:
                low = bisect.bisect_right(times, step - window)
                high = bisect.bisect_right(times, step)
                if high == low:
                    continue  # no sample where the window holds no entry, as in Loki
                count, size = high - low, cumulative[high] - cumulative[low]
                values[step] = {
                    "count_over_time": count,
                    "rate": count / seconds,
                    "bytes_over_time": size,
                    "bytes_rate": size / seconds,
                }[query.function]
            if values:
                series[labels] = values
        return series

    def _samples(
        self, query: LogQuery, start_ms: int, end_ms: int
    ) -> Iterator[tuple[int, dict[str, str], int]]:
        """(time, labels, line bytes) of every line in (start, end]."""
        if all(isinstance(stage, Drop) for stage in query.stages):
            dropped = {label for stage in query.stages for label in stage.labels}
            for timestamp, labels, size in self.points(query, start_ms + 1, end_ms):
                yield timestamp, without(labels, dropped), size
            return
        for line in self._walk(query, start_ms + 1, end_ms):
            yield line.timestamp_ms, line.labels, len(line.line.encode())

    def points(
        self, query: LogQuery, start_ms: int, end_ms: int
    ) -> Iterator[tuple[int, dict[str, str], int]]:
        """(time, stream labels, line bytes) of every entry the selector names in
        [start, end] (its pipeline aside), from one SQL query."""
        filters, matchers, _ = self._search_filters(LogQuery(query.matchers), start_ms, end_ms)
        if filters is None:
            return
        budget = Budget(self.timeout_s)
        for number, (timestamp, level, service, source, size, pushed) in enumerate(
            self.reader.points(filters)
        ):
            if number % 10_000 == 0:
                budget.check()
            if self.allowed is not None and service not in self.allowed:
                continue
            labels = labels_from_json(service, level, source, pushed)
            if selected(matchers, labels):
                yield timestamp, labels, size


def _scalar(query: Query) -> bool:
    """Whether a query is a scalar (a number, or arithmetic on numbers) rather than a
    vector (vector(n) is a vector)."""
    if isinstance(query, Number):
        return True
    return isinstance(query, Binary) and _scalar(query.left) and _scalar(query.right)


def _pushed_label_filter(matcher: Matcher) -> FieldFilter | None:
    """A pushed label's equality as a metadata filter (labels are kept under
    metadata.labels), so SQL narrows by it; None when it is no such equality."""
    if matcher.op != "=" or matcher.label in STREAM_LABELS or not matcher.value:
        return None
    try:  # the filter syntax's own checks (key characters, value length)
        return parse_one(f"metadata.labels.{matcher.label}={matcher.value}")
    except BadRequest:
        return None  # not expressible as a filter: the matcher alone decides


# -- walking the index ------------------------------------------------------------------


def _scan(
    search: Search, filters: SearchFilters, budget: Budget, first_page: int = 1000
) -> Iterator[dict[str, Any]]:
    """Matching entries newest first, a page at a time (each page one search, each twice
    the last, up to MAX_ENTRIES)."""
    page, end, seen = first_page, filters.end_time, set()
    while True:
        budget.check()
        batch, more = search(replace(filters, end_time=end, limit=page + len(seen), offset=0))
        fresh = [entry for entry in batch if entry["id"] not in seen]
        yield from fresh
        if not more or not batch:
            return
        end = batch[-1]["timestamp"]
        seen = {entry["id"] for entry in batch if entry["timestamp"] == end}
        page = min(page * 2, MAX_ENTRIES)
