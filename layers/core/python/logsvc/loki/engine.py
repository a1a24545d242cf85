"""Answers LogQL queries (logsvc.loki.logql) from what the querier reads (both tiers).

An entry's stream labels are ``service_name``, ``level`` and ``detected_level`` (its level in
lower case, as Grafana expects), ``source_type`` and the labels an agent pushed. The
selector's ``service_name``, ``level`` and pushed-label equalities, and a first ``|=`` line
filter, narrow the search in SQL; everything else runs here, entry by entry, newest first,
through the line pipeline (logsvc.loki.pipeline).

Metric queries with nothing but a selector (and ``| drop`` of names) are counted from one SQL
query that returns each entry's time, labels and size (Querier.points); the others walk the
entries through the pipeline. Range functions are logsvc.loki.ranges; vector operations
logsvc.loki.vectors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from logsvc.deadline import Deadline
from logsvc.entries import LEVELS
from logsvc.errors import BadRequest
from logsvc.field_filters import MAX_FILTERS, FieldFilter, parse_one
from logsvc.filters import SearchFilters
from logsvc.loki import ranges, samples
from logsvc.loki.expressions import (
    Binary,
    Grouping,
    LabelReplace,
    LineFilter,
    LogQuery,
    LogRange,
    Matcher,
    Number,
    Query,
    RangeAggregation,
    Variants,
    VectorAggregation,
    VectorLiteral,
)
from logsvc.loki.matching import LogQLError, line_kept, selected
from logsvc.loki.pipeline import (
    ERROR,
    STREAM_LABELS,
    Line,
    run_pipeline,
    start,
    stream_labels,
    without,
)
from logsvc.loki.reader import Reader, Stats, Streams
from logsvc.loki.vectors import Series, aggregate, binary, group_key, label_replace

MAX_ENTRIES = 5000  # Loki's max_entries_limit_per_query
MAX_SERIES = 500  # Loki's max_query_series
MAX_POINTS = 11_000  # Loki's (and Prometheus's) points per series
_LEVEL_LABELS = ("level", "detected_level")


Search = Callable[[SearchFilters], tuple[list[dict[str, Any]], bool]]  # a page, and more?


class Engine:
    def __init__(
        self, reader: Reader, allowed: frozenset[str] | None = None, timeout_s: float = 25.0
    ):
        self.reader = reader  # log and metric queries alike read both tiers through it
        self.allowed = allowed  # the services the caller may read (None: all)
        self.timeout_s = timeout_s
        self.deadline = Deadline(timeout_s)  # one per request: every walk and count checks it
        self.stats = Stats()

    # -- log queries ----------------------------------------------------------------------

    def lines(
        self,
        query: LogQuery,
        start_ms: int,
        end_ms: int,
        limit: int,
        forward: bool = False,
        window_ns: tuple[int, int] | None = None,
    ) -> list[Line]:
        """The newest (or, forward, the oldest) ``limit`` lines in [start, end] (and, with
        ``window_ns``, in [start, end) to the nanosecond), in nanosecond order."""
        if limit > MAX_ENTRIES:
            raise BadRequest(
                f"limit: max entries limit per query exceeded, limit > max_entries_limit "
                f"({limit} > {MAX_ENTRIES})",
                field="limit",
            )
        # The walk runs newest first, a millisecond at a time; the entries of one
        # millisecond come in any order, so the one at the limit's edge is read whole and
        # the lines put in nanosecond order. Forward, only the oldest lines seen so far
        # are held (about ``limit``), whatever the range holds.
        found: list[Line] = []
        # Backward, the first page need hold no more than the lines asked for.
        first_page = 1000 if forward else max(limit, 10)
        for line in self._walk(query, start_ms, end_ms, first_page):
            if window_ns is not None and not window_ns[0] <= line.timestamp_ns < window_ns[1]:
                continue
            if not forward and len(found) >= limit and line.timestamp_ms < found[-1].timestamp_ms:
                break
            found.append(line)
            if forward and len(found) >= 2 * limit:
                found = _oldest(found, limit)
        found.sort(key=lambda line: line.timestamp_ns, reverse=not forward)
        return found[:limit]

    def _walk(
        self, query: LogQuery, start_ms: int, end_ms: int, first_page: int = 1000
    ) -> Iterator[Line]:
        """Every line of the query in [start, end], newest first."""
        filters, matchers, first_filter = self._search_filters(query, start_ms, end_ms)
        if filters is None:
            return
        for entry in _scan(self.reader.entries, filters, first_page):
            self.stats.read(len(entry["message"]))
            labels = stream_labels(entry)
            if not selected(matchers, labels):
                continue
            if self.allowed is not None and entry["service_name"] not in self.allowed:
                continue
            if first_filter is not None and not line_kept("|=", (first_filter,), entry["message"]):
                continue
            line = run_pipeline(query.stages, start(entry, labels))
            if line is not None:
                yield line

    def _search_filters(
        self, query: LogQuery, start_ms: int, end_ms: int
    ) -> tuple[SearchFilters | None, list[Matcher], str | None]:
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
        text = first.plain_text if isinstance(first, LineFilter) else None
        # The caller's services narrow the SQL first: text tests never run over (and so
        # never time) another tenant's entries.
        filters = SearchFilters(
            service=service,
            level=level,
            start_time=start_ms,
            end_time=end_ms,
            q=text[:200] if text else None,
            fields=tuple(pushed[:MAX_FILTERS]),
            services=self.allowed,
            deadline=self.deadline,
        )
        return filters, rest, text

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
            inner = query.inner
            if samples.groups_inside(query):
                # sum by (x) of a count or sum over time: the range groups by x itself, as
                # Loki's does (a JSON line's fields never become series of their own)
                inner = replace(inner, grouping=query.grouping or Grouping(False, ()))
            return aggregate(query, self._evaluate(inner, steps))
        if isinstance(query, LabelReplace):
            return label_replace(query, self._evaluate(query.inner, steps))
        if isinstance(query, Variants):
            return {
                tuple(sorted((*labels, ("__variant__", str(number))))): values
                for number, inner in enumerate(query.queries)
                for labels, values in self._evaluate(inner, steps).items()
            }
        if isinstance(query, Binary):
            left, right = self._evaluate(query.left, steps), self._evaluate(query.right, steps)
            return binary(query, left, right, _scalar(query.left), _scalar(query.right))
        raise LogQLError(
            "query: a log query here needs a range aggregation, such as count_over_time"
        )

    def _range(self, query: RangeAggregation, steps: list[int]) -> Series:
        log_range = query.range
        if ranges.countable(query, steps):
            return self._range_counted(query, steps)
        first = steps[0] - log_range.offset_ms - log_range.range_ms
        last = steps[-1] - log_range.offset_ms
        by_series: dict[tuple[tuple[str, str], ...], tuple[list[int], list[float]]] = defaultdict(
            lambda: ([], [])
        )
        counting = log_range.unwrap is None and query.function in ("bytes_over_time", "bytes_rate")
        read_in_sql = samples.unwrap_in_sql(query)
        if read_in_sql is not None:
            samples_read = self._values(log_range, first, last, *read_in_sql)
        else:
            samples_read = self._samples(log_range, first, last, counting)
        grouped: dict[tuple, tuple] = {}  # a series' key by its labels (few: one a stream)
        for timestamp, labels, value in samples_read:
            # labels come sorted (as a tuple) from SQL reads, as a dict from the pipeline
            ordered = labels if isinstance(labels, tuple) else tuple(sorted(labels.items()))
            key = grouped.get(ordered)
            if key is None:
                key = ordered if query.grouping is None else group_key(ordered, query.grouping)
                if len(grouped) < 10 * MAX_SERIES:
                    grouped[ordered] = key
            times, values = by_series[key]
            times.append(timestamp)
            values.append(value)
            _at_most_series(len(by_series))
        if query.function == "absent_over_time":
            return samples.absent(log_range, by_series, steps)
        series: Series = {}
        for labels, (times, values) in by_series.items():
            order = sorted(range(len(times)), key=times.__getitem__)
            found = ranges.evaluate(
                query.function,
                [times[i] for i in order],
                [values[i] for i in order],
                steps,
                log_range.range_ms,
                log_range.offset_ms,
                query.parameter,
            )
            if found:
                series[labels] = found
        return series

    def _range_counted(self, query: RangeAggregation, steps: list[int]) -> Series:
        """A count, rate or bytes of a bare selector, whose windows are whole buckets of
        the step: each stream's entries and bytes per bucket counted in SQL (the index's
        tallies), not a sample per entry. Bucket n holds (first + n * step, first + (n + 1)
        * step], as the window of step n ends: ``origin`` is one ms past ``first``."""
        log_range = query.range
        bucket = steps[1] - steps[0] if len(steps) > 1 else log_range.range_ms
        first = steps[0] - log_range.offset_ms - log_range.range_ms
        last = steps[-1] - log_range.offset_ms
        sizes = query.function in ("bytes_over_time", "bytes_rate")
        counted: dict[tuple, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for number, labels, entries, size in self.tallies(
            log_range.query, first + 1, last, bucket, first + 1
        ):
            key = labels if query.grouping is None else group_key(labels, query.grouping)
            counted[key][number] += size if sizes else entries
            _at_most_series(len(counted))
        width = log_range.range_ms // bucket
        seconds = log_range.range_ms / 1000 if query.function in ("rate", "bytes_rate") else None
        windowed = {key: ranges.windows(b, steps, width, seconds) for key, b in counted.items()}
        return {key: found for key, found in windowed.items() if found}

    def _samples(
        self, log_range: LogRange, start_ms: int, end_ms: int, sizes: bool
    ) -> Iterator[tuple[int, dict[str, str], float]]:
        """(time, series labels, value) of every line in (start, end]: its size in bytes
        (``sizes``), the value ``unwrap`` reads, or 1."""
        query, unwrap = log_range.query, log_range.unwrap
        if unwrap is None and all(samples.plain_drop(stage) for stage in query.stages):
            dropped = {n.label for stage in query.stages for n in stage.names}
            for timestamp, labels, size in self.points(query, start_ms + 1, end_ms):
                yield timestamp, without(labels, dropped), size if sizes else 1.0
            return
        # A sample that carries an error refuses the query before any grouping, as Loki's
        # does (`sum by (x) (count_over_time(... | json [5m]))` over a line that is no JSON
        # is its pipeline error): `| __error__=""` skips such lines.
        for line in self._walk(query, start_ms + 1, end_ms):
            if unwrap is None:
                size = len(line.line.encode()) if sizes else 1.0
                labels = line.series_labels()
                if ERROR in labels:
                    samples.refuse_errors(tuple(sorted(labels.items())))
                yield line.timestamp_ms, labels, size
                continue
            # unwrap reads any label, structured metadata included; the series keeps
            # the others but structured metadata
            sample = samples.unwrapped(unwrap, line.labels)
            if sample is not None:
                kept = {k: v for k, v in sample[0].items() if k not in line.structured}
                if ERROR in kept:
                    samples.refuse_errors(tuple(sorted(kept.items())))
                yield line.timestamp_ms, kept, sample[1]

    def _values(
        self, log_range: LogRange, start_ms: int, end_ms: int, document: str, skip_errors: bool
    ) -> Iterator[tuple[int, tuple[tuple[str, str], ...], float]]:
        """The samples of an unwrap metric whose values SQL reads (see samples.unwrap_in_sql),
        as the line pipeline makes them: (time, stream labels sorted, value) of every entry in
        (start, end] that has the label: in its JSON line (``document`` "line"), else in its
        structured metadata. A line that is no JSON object, or a value that is no number,
        is the query's pipeline error, or no sample when the query skips errors
        (``| __error__=""``)."""
        assert log_range.unwrap is not None
        label = log_range.unwrap.label
        filters, matchers, _ = self._search_filters(
            LogQuery(log_range.query.matchers), start_ms + 1, end_ms
        )
        if filters is None:
            return
        self.deadline.check()
        line_paths = samples.json_paths(label, "line") if document == "line" else ()
        rows = self.reader.values(filters, line_paths, samples.json_paths(label, "metadata"))
        streams = Streams(matchers, self.allowed)
        for number, row in enumerate(rows):
            timestamp, level, service, source, pushed, line_value, is_object, metadata_value = row
            if number % 10_000 == 0:
                self.deadline.check()
            self.stats.read(0)
            stream = streams.select(service, level, source, pushed)
            if stream is None:
                continue
            labels = stream[1]
            error = "JSONParserErr" if is_object is False else None
            # json makes no label of an object (it flattens it) or an array (it skips it);
            # structured metadata flattens objects and keeps arrays as text (no number)
            value = line_value if is_object and not isinstance(line_value, dict | list) else None
            if value is None and not isinstance(metadata_value, dict):
                value = metadata_value  # no such field in the line: structured metadata's
            if value is None:
                continue  # no such label: Loki skips the line
            number_read = samples.as_float(value)
            if number_read is None:
                error, number_read = error or "SampleExtractionErr", 0.0
            if error is not None:
                if skip_errors:
                    continue
                samples.refuse_errors(tuple(sorted((*labels, (ERROR, error)))))
            yield timestamp, labels, number_read

    def points(
        self, query: LogQuery, start_ms: int, end_ms: int
    ) -> Iterator[tuple[int, dict[str, str], int]]:
        """(time, stream labels, line bytes) of every entry the selector names in
        [start, end] (its pipeline aside), from one SQL query."""
        filters, matchers, _ = self._search_filters(LogQuery(query.matchers), start_ms, end_ms)
        if filters is None:
            return
        streams = Streams(matchers, self.allowed)
        for number, (timestamp, level, service, source, size, pushed) in enumerate(
            self.reader.points(filters)
        ):
            if number % 10_000 == 0:
                self.deadline.check()
            self.stats.read(size)
            stream = streams.select(service, level, source, pushed)
            if stream is not None:
                yield timestamp, stream[0], size

    def tallies(
        self, query: LogQuery, start_ms: int, end_ms: int, bucket_ms: int, origin: int
    ) -> Iterator[tuple[int, tuple[tuple[str, str], ...], int, int]]:
        """(bucket, stream labels sorted, entries, bytes) of the streams the selector names in
        [start, end], per time bucket from ``origin``: counted in SQL, one row per stream and
        bucket (series, index stats and volumes hold no more than that)."""
        filters, matchers, _ = self._search_filters(LogQuery(query.matchers), start_ms, end_ms)
        if filters is None:
            return
        self.deadline.check()
        streams = Streams(matchers, self.allowed)
        for bucket, level, service, source, labels_json, entries, size in self.reader.tallies(
            filters, origin, bucket_ms
        ):
            self.stats.lines += entries
            self.stats.bytes += size
            stream = streams.select(service, level, source, labels_json)
            if stream is not None:
                yield bucket, stream[1], entries, size


def _at_most_series(count: int) -> None:
    if count > MAX_SERIES:
        raise BadRequest(
            f"query: maximum number of series ({MAX_SERIES}) reached for a single query",
            field="query",
        )


def _oldest(lines: list[Line], limit: int) -> list[Line]:
    """The ``limit`` oldest lines, and the others of the last one's millisecond."""
    lines.sort(key=lambda line: line.timestamp_ns)
    cutoff = lines[limit - 1].timestamp_ms
    return [line for line in lines if line.timestamp_ms <= cutoff]


def _scalar(query: Query) -> bool:
    """Whether a query is a scalar (a number; the parser folds arithmetic on numbers)
    rather than a vector (vector(n) is a vector)."""
    return isinstance(query, Number)


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
    search: Search, filters: SearchFilters, first_page: int = 1000
) -> Iterator[dict[str, Any]]:
    """Matching entries newest first, a page at a time (each page one search, each twice
    the last, up to MAX_ENTRIES)."""
    page, end, seen = first_page, filters.end_time, set()
    while True:
        if filters.deadline is not None:
            filters.deadline.check()
        batch, more = search(replace(filters, end_time=end, limit=page + len(seen), offset=0))
        fresh = [entry for entry in batch if entry["id"] not in seen]
        yield from fresh
        if not more or not batch:
            return
        end = batch[-1]["timestamp"]
        seen = {entry["id"] for entry in batch if entry["timestamp"] == end}
        page = min(page * 2, MAX_ENTRIES)
