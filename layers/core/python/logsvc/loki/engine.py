"""Answers LogQL queries (logsvc.loki.logql) from the log index.

An entry's stream labels are ``service_name``, ``level`` and ``detected_level`` (its level in
lower case, as Grafana expects) and ``source_type``. The selector's ``service_name`` and
``level`` equalities, and a first ``|=`` line filter, narrow the search in SQL; everything
else runs here, entry by entry, newest first. ``| json`` extracts the entry's metadata
(nested keys joined with ``_``, as Loki names them) and, when the line is a JSON object,
its fields; ``| logfmt`` reads ``key=value`` pairs from the line.

Metric queries with nothing but a selector (and ``| drop``) are counted from one SQL query
that returns each entry's time, labels and size (LogIndex.points); the others walk the
entries.
"""

from __future__ import annotations

import bisect
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from logsvc.entries import LEVELS
from logsvc.errors import ApiError, BadRequest
from logsvc.filters import SearchFilters
from logsvc.loki.logql import (
    AllOf,
    AnyOf,
    Binary,
    Compare,
    Drop,
    Grouping,
    LabelFilter,
    LineFilter,
    LineFormat,
    LogQLError,
    LogQuery,
    Matcher,
    Number,
    Parser,
    Query,
    RangeAggregation,
    VectorAggregation,
    VectorLiteral,
    byte_count,
    duration_ms,
    match_text,
)

MAX_ENTRIES = 5000  # Loki's max_entries_limit_per_query
MAX_SERIES = 500  # Loki's max_query_series
MAX_POINTS = 11_000  # Loki's (and Prometheus's) points per series
STREAM_LABELS = ("service_name", "level", "detected_level", "source_type")
_LEVEL_LABELS = ("level", "detected_level")
_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")
_LOGFMT = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)')
_TEMPLATE_FIELD = re.compile(r"\{\{\s*(?:\.([A-Za-z_][A-Za-z0-9_]*)|(__line__))\s*\}\}")


class QueryTimeout(ApiError):
    status_code = 504


@dataclass(frozen=True)
class Line:
    """An entry after the pipeline: when, its labels, the line."""

    timestamp_ms: int
    labels: dict[str, str]
    line: str
    entry: dict[str, Any]

    def value(self) -> list[Any]:
        """As a stream's value: ["<ns>", "<line>"]."""
        return [str(self.timestamp_ms * 1_000_000), self.line]


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


Series = dict[tuple[tuple[str, str], ...], dict[int, float]]  # labels -> {step ms: value}
Search = Callable[[SearchFilters], tuple[list[dict[str, Any]], bool]]  # a page, and more?


class Reader(Protocol):
    """What the engine reads: logsvc.querier.Querier (the index's hot window and, before
    it, the archive)."""

    def entries(self, filters: SearchFilters) -> tuple[list[dict[str, Any]], bool]: ...

    def points(self, filters: SearchFilters) -> list[tuple[int, str, str, str, int]]: ...

    def streams(self, start_ms: int, end_ms: int) -> list[tuple[str, str, str]]: ...


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
        found: list[Line] = []
        # Backward, the first page need hold no more than the lines asked for.
        first_page = 1000 if forward else max(limit, 10)
        for line in self._walk(query, start_ms, end_ms, first_page):
            found.append(line)
            if not forward and len(found) >= limit:
                break
        if forward:
            found = found[-limit:][::-1]
        return found

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
            if not all(m.matches(labels) for m in matchers):
                continue
            if self.allowed is not None and entry["service_name"] not in self.allowed:
                continue
            if first_filter is not None and not first_filter.keeps(entry["message"]):
                continue
            line = run_pipeline(query.stages, labels, entry)
            if line is not None:
                yield line

    def _search_filters(
        self, query: LogQuery, start_ms: int, end_ms: int
    ) -> tuple[SearchFilters | None, list[Matcher], LineFilter | None]:
        """What SQL can narrow: service and level equalities, the first |= (SQL ignores
        case, so it is checked again exactly). None when nothing can match."""
        service = level = None
        rest = []
        for matcher in query.matchers:
            if matcher.op == "=" and matcher.label == "service_name" and service is None:
                service = matcher.value
            elif matcher.op == "=" and matcher.label in _LEVEL_LABELS and level is None:
                level = matcher.value.upper()
                if level not in LEVELS:
                    return None, [], None
            else:
                rest.append(matcher)
        if service and self.allowed is not None and service not in self.allowed:
            return None, [], None
        first = query.stages[0] if query.stages else None
        q = None
        if isinstance(first, LineFilter) and first.op == "|=" and first.value:
            q = first.value[:200]
        filters = SearchFilters(
            service=service, level=level, start_time=start_ms, end_time=end_ms, q=q
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
            return _aggregate(query, self._evaluate(query.inner, steps))
        if isinstance(query, Binary):
            return _binary(
                query, self._evaluate(query.left, steps), self._evaluate(query.right, steps)
            )
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
                yield timestamp, _without(labels, dropped), size
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
        for timestamp, level, service, source, size in self.reader.points(filters):
            if self.allowed is not None and service not in self.allowed:
                continue
            labels = labels_of(service, level, source)
            if all(m.matches(labels) for m in matchers):
                yield timestamp, labels, size


# -- the pipeline -----------------------------------------------------------------------


def stream_labels(entry: dict[str, Any]) -> dict[str, str]:
    return labels_of(entry["service_name"], entry["level"], entry.get("source_type") or "http")


def labels_of(service: str, level: str, source: str) -> dict[str, str]:
    lower = level.lower()
    return {"service_name": service, "level": lower, "detected_level": lower, "source_type": source}


def run_pipeline(
    stages: tuple[Any, ...], labels: dict[str, str], entry: dict[str, Any]
) -> Line | None:
    """The entry through the stages: its labels and line, or None when a stage drops it."""
    line = entry["message"]
    labels = dict(labels)
    for stage in stages:
        if isinstance(stage, LineFilter):
            if not stage.keeps(line):
                return None
        elif isinstance(stage, Parser):
            extracted = _json_labels(entry, line) if stage.kind == "json" else _logfmt(line)
            for name, value in extracted.items():
                labels[name if name not in labels else f"{name}_extracted"] = value
        elif isinstance(stage, LabelFilter):
            if not _holds(stage.expression, labels):
                return None
        elif isinstance(stage, LineFormat):
            line = _format_line(stage.template, line, labels)
        elif isinstance(stage, Drop):
            labels = _without(labels, set(stage.labels))
    return Line(entry["timestamp"], labels, line, entry)


def tail_frame(query: LogQuery, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Loki's tail frame for the entries that pass a log query, or None when none does."""
    lines = []
    for entry in entries:
        labels = stream_labels(entry)
        if all(m.matches(labels) for m in query.matchers):
            line = run_pipeline(query.stages, labels, entry)
            if line is not None:
                lines.append((line.labels, line.value()))
    return {"streams": streams_of(lines)} if lines else None


def streams_of(values: Iterable[tuple[dict[str, str], list[Any]]]) -> list[dict[str, Any]]:
    """Values grouped into Loki's streams by their labels, in the order they come."""
    streams: dict[tuple, dict[str, Any]] = {}
    for labels, value in values:
        key = tuple(sorted(labels.items()))
        streams.setdefault(key, {"stream": dict(key), "values": []})["values"].append(value)
    return list(streams.values())


def _format_line(template: str, line: str, labels: dict[str, str]) -> str:
    return _TEMPLATE_FIELD.sub(lambda m: line if m[2] else labels.get(m[1], ""), template)


def metadata_labels(entry: dict[str, Any]) -> dict[str, str]:
    """An entry's metadata as Loki labels (nested keys joined with ``_``)."""
    labels: dict[str, str] = {}
    _flatten(entry.get("metadata") or {}, "", labels)
    return labels


def _json_labels(entry: dict[str, Any], line: str) -> dict[str, str]:
    labels = metadata_labels(entry)
    text = line.lstrip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            labels["__error__"] = "JSONParserErr"
        else:
            if isinstance(document, dict):
                _flatten(document, "", labels)
    return labels


def _flatten(value: dict[str, Any], prefix: str, into: dict[str, str]) -> None:
    for key, item in value.items():
        name = _LABEL_NAME.sub("_", f"{prefix}{key}")
        if isinstance(item, dict):
            _flatten(item, f"{name}_", into)
        elif isinstance(item, list):
            into[name] = json.dumps(item, separators=(",", ":"))
        elif isinstance(item, bool):
            into[name] = "true" if item else "false"
        elif item is not None:
            into[name] = str(item)


def _logfmt(line: str) -> dict[str, str]:
    labels = {}
    for key, value in _LOGFMT.findall(line):
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value.strip('"')
        labels[_LABEL_NAME.sub("_", key)] = value
    return labels


def _holds(expression: Any, labels: dict[str, str]) -> bool:
    if isinstance(expression, AnyOf):
        return any(_holds(part, labels) for part in expression.parts)
    if isinstance(expression, AllOf):
        return all(_holds(part, labels) for part in expression.parts)
    assert isinstance(expression, Compare)
    value = labels.get(expression.label, "")
    if expression.unit == "text":
        return match_text(expression.op, value, str(expression.value))
    number = _as_number(value, expression.unit)
    if number is None:
        labels.setdefault("__error__", "LabelFilterErr")
        return False
    wanted = float(expression.value)
    return {
        "==": number == wanted,
        "!=": number != wanted,
        ">": number > wanted,
        ">=": number >= wanted,
        "<": number < wanted,
        "<=": number <= wanted,
    }[expression.op]


def _as_number(value: str, unit: str) -> float | None:
    try:
        if unit == "duration":
            return float(duration_ms(value))
        if unit == "bytes":
            # A plain number of bytes, or a size with its unit (10KB).
            return float(value) if value.replace(".", "").isdigit() else byte_count(value)
        return float(value)
    except (ValueError, LogQLError):
        return None


def _without(labels: dict[str, str], names: set[str]) -> dict[str, str]:
    return {
        k: v
        for k, v in labels.items()
        if k not in names and (k != "__error_details__" or "__error__" not in names)
    }


# -- vector operations ----------------------------------------------------------------


def _aggregate(query: VectorAggregation, inner: Series) -> Series:
    grouping = query.grouping or Grouping(False, ())
    groups: dict[
        tuple[tuple[str, str], ...], list[tuple[tuple[tuple[str, str], ...], dict[int, float]]]
    ] = defaultdict(list)
    for labels, values in inner.items():
        groups[_group_key(labels, grouping)].append((labels, values))
    result: Series = {}
    for key, members in groups.items():
        if query.op == "topk":
            assert query.parameter is not None
            steps = sorted({step for _, values in members for step in values})
            for step in steps:
                ranked = sorted(
                    ((values[step], labels) for labels, values in members if step in values),
                    key=lambda pair: -pair[0],
                )[: query.parameter]
                for value, labels in ranked:
                    result.setdefault(labels, {})[step] = value
            continue
        per_step: dict[int, list[float]] = defaultdict(list)
        for _, values in members:
            for step, value in values.items():
                per_step[step].append(value)
        combine: Callable[[list[float]], float] = {
            "sum": sum,
            "avg": lambda v: sum(v) / len(v),
            "min": min,
            "max": max,
            "count": len,
        }[query.op]
        result[key] = {step: float(combine(values)) for step, values in per_step.items()}
    return result


def _group_key(
    labels: tuple[tuple[str, str], ...], grouping: Grouping
) -> tuple[tuple[str, str], ...]:
    if grouping.without:
        return tuple((k, v) for k, v in labels if k not in grouping.labels)
    present = dict(labels)
    return tuple((k, present[k]) for k in sorted(grouping.labels) if k in present)


def _binary(query: Binary, left: Series, right: Series) -> Series:
    """Arithmetic where one side is a single label-less vector (or a number)."""
    operate: Callable[[float, float], float] = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b if b else float("nan"),
    }[query.op]
    if set(right) == {()}:
        other = right[()]
        return {
            labels: {s: operate(v, other[s]) for s, v in values.items() if s in other}
            for labels, values in left.items()
        }
    if set(left) == {()}:
        other = left[()]
        return {
            labels: {s: operate(other[s], v) for s, v in values.items() if s in other}
            for labels, values in right.items()
        }
    raise LogQLError(
        "query: arithmetic between series with labels is not supported here; aggregate one "
        "side to a single series (sum(...)) or use a number"
    )


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


def format_value(value: float) -> str:
    """A sample value as Loki writes it (Go's strconv 'f', -1): 2, 0.5, NaN."""
    if value != value:
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
