"""The answers of the Loki-compatible query API (logsvc.api.loki_routes routes requests here),
in Loki's response shapes.

Parameters are read as Loki reads them (times in nanoseconds, seconds or RFC 3339; steps
as durations or seconds) and unknown ones are ignored, as Loki ignores them. Errors are
``{"message": ...}`` with a 4xx status (see logsvc.api.resolver).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from logsvc.clock import now_ms
from logsvc.errors import BadRequest
from logsvc.loki import engine as loki_engine
from logsvc.loki import parsers as loki_parsers
from logsvc.loki import pipeline, vectors
from logsvc.loki.expressions import LogQuery, VectorAggregation
from logsvc.loki.logql import LogQLError, duration_ms, parse

DEFAULT_RANGE_MS = 3_600_000  # Loki's default: the last hour
DEFAULT_LIMIT = 100
LABEL_NAMES = tuple(sorted(loki_engine.STREAM_LABELS))
BUILD_VERSION = "3.4.0"  # the Loki API version whose shapes these routes answer in
DETECTED_FIELDS_SAMPLE = 1000
CATEGORIZE_LABELS = "categorize-labels"


@dataclass(frozen=True)
class LokiRequest:
    """What a Loki route reads of its request: parameters, headers, the caller's services."""

    params: dict[str, str]
    multi: dict[str, list[str]]
    headers: dict[str, str]
    services: frozenset[str] | None
    reader: loki_engine.Reader  # what answers (the querier: both tiers)
    timeout_s: float

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)

    def engine(self) -> loki_engine.Engine:
        return loki_engine.Engine(self.reader, self.services, self.timeout_s)

    def categorized(self) -> bool:
        """Whether the client asked for labels by category (Grafana does): stream labels,
        structured metadata and parsed labels apart, as Loki 3 answers then."""
        flags = self.headers.get("x-loki-response-encoding-flags") or ""
        return CATEGORIZE_LABELS in [flag.strip() for flag in flags.split(",")]


def query_range(request: LokiRequest) -> dict[str, Any]:
    query = parse(_required(request.param("query"), "query"))
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    if isinstance(query, LogQuery):
        window = _log_range(start, end, request.param("start"), request.param("end"))
        return _streams(request.engine(), query, window, request.param, request.categorized())
    step = _step(request.param("step"), start, end)
    engine = request.engine()
    series = engine.evaluate(query, start, end, step)
    return _success("matrix", _matrix(series), engine.stats.summary(len(series)))


def instant_query(request: LokiRequest) -> dict[str, Any]:
    query = parse(_required(request.param("query"), "query"))
    at = time_param(request.param("time"), now_ms(), "time")
    if isinstance(query, LogQuery):
        raise LogQLError(
            "query: log queries are not supported as an instant query type, please change "
            "your query to a range query type"
        )
    engine = request.engine()
    series = engine.evaluate(query, at, at, 1)
    order = query.op if isinstance(query, VectorAggregation) else None
    samples = [(labels, v) for labels, values in series.items() for v in values.values()]
    return _success(
        "vector",
        [
            {"metric": dict(labels), "value": [at / 1000, vectors.format_value(v)]}
            for labels, v in vectors.sort_order(order, samples)
        ],
        engine.stats.summary(len(samples)),
    )


def labels(request: LokiRequest) -> dict[str, Any]:
    """The label names of the streams in the range (that the ``query`` names)."""
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    series = _series(request.engine(), request.param("query"), start, end)
    return {"status": "success", "data": sorted({name for s in series for name in s})}


def label_values(request: LokiRequest, name: str) -> dict[str, Any]:
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    series = _series(request.engine(), request.param("query"), start, end)
    return {"status": "success", "data": sorted({s[name] for s in series if name in s})}


def series(request: LokiRequest) -> dict[str, Any]:
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    matches = request.multi
    selectors = matches.get("match[]") or matches.get("match") or [None]
    found: dict[tuple, dict[str, str]] = {}
    for selector in selectors:
        for labels in _series(request.engine(), selector, start, end):
            found[tuple(sorted(labels.items()))] = labels
    return {"status": "success", "data": list(found.values())}


def index_stats(request: LokiRequest) -> dict[str, Any]:
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    points = _points(request.engine(), request.param("query"), start, end)
    return {
        "streams": len({labels for _, labels, _ in points}),
        "chunks": len({(labels, t // 3_600_000) for t, labels, _ in points}),
        "entries": len(points),
        "bytes": sum(size for _, _, size in points),
    }


def index_volume(request: LokiRequest) -> dict[str, Any]:
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    volumes = _volumes(request.engine(), request.param("query"), start, end, request.param)
    limit = int_param(request.param("limit"), 100, "limit")
    ranked = sorted(volumes.items(), key=lambda pair: -sum(pair[1].values()))[:limit]
    return _success(
        "vector",
        [
            {"metric": dict(labels), "value": [end / 1000, str(sum(values.values()))]}
            for labels, values in ranked
        ],
    )


def index_volume_range(request: LokiRequest) -> dict[str, Any]:
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    step = _step(request.param("step"), start, end)
    volumes = _volumes(request.engine(), request.param("query"), start, end, request.param, step)
    return _success("matrix", _matrix(volumes))


def patterns(request: LokiRequest) -> dict[str, Any]:
    from logsvc.analysis.patterns import mine_patterns

    query = _log_query(request.param("query"))
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    step = _step(request.param("step"), start, end)
    lines = request.engine().lines(query, start, end, loki_engine.MAX_ENTRIES)
    found = mine_patterns([{**line.entry, "message": line.line} for line in lines], limit=50)
    return {
        "status": "success",
        "data": [
            {
                "pattern": re.sub(r"<\*>|<[A-Z]+>", "<_>", p.template),
                "samples": [
                    [bucket // 1000, count]
                    for bucket, count in sorted(
                        Counter(t - (t - start) % step for t in p.timestamps).items()
                    )
                ],
            }
            for p in found
        ],
    }


def detected_fields(request: LokiRequest) -> dict[str, Any]:
    """The fields of the query's newest lines: structured metadata, and what ``json`` (a
    JSON line) or ``logfmt`` (any other) finds in the line, with their types."""
    fields = _detected(request)
    limit = int_param(request.param("field_limit") or request.param("limit"), 1000, "field_limit")
    return {
        "fields": [
            {
                "label": name,
                "type": _field_type(found),
                "cardinality": len(found),
                "parsers": sorted(parsers) or None,
            }
            for name, (found, parsers) in sorted(fields.items())[:limit]
        ],
        "fieldLimit": limit,
    }


def detected_field_values(request: LokiRequest, name: str) -> dict[str, Any]:
    """One detected field's distinct values in the query's newest lines."""
    found, _ = _detected(request).get(name, (set(), set()))
    limit = int_param(request.param("limit"), 1000, "limit")
    return {"values": sorted(found)[:limit]}


def _detected(request: LokiRequest) -> dict[str, tuple[set[str], set[str]]]:
    query = _log_query(request.param("query"))
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    lines = request.engine().lines(query, start, end, DETECTED_FIELDS_SAMPLE)
    fields: dict[str, tuple[set[str], set[str]]] = {}
    for line in lines:
        _, structured, parsed = line.categorized()
        found = [(structured, None), (parsed, None)]
        document, error = loki_parsers.parse_json(line.line)
        if error is None:
            found.append((document, "json"))
        else:
            found.append((loki_parsers.parse_logfmt(line.line)[0], "logfmt"))
        for labels, parser in found:
            for name, value in labels.items():
                if name in LABEL_NAMES or name.startswith("__"):
                    continue
                values, parsers = fields.setdefault(name, (set(), set()))
                values.add(value)
                if parser:
                    parsers.add(parser)
    return fields


def detected_labels(request: LokiRequest) -> dict[str, Any]:
    start, end = _range(request.param("start"), request.param("end"), request.param("since"))
    series = _series(request.engine(), request.param("query"), start, end)
    return {
        "detectedLabels": [
            {"label": name, "cardinality": len({s[name] for s in series if name in s})}
            for name in sorted({name for s in series for name in s})
        ]
    }


def build_info(request: LokiRequest) -> dict[str, Any]:
    return {
        "version": BUILD_VERSION,
        "revision": "logsvc",
        "branch": "logsvc",
        "buildUser": "logsvc",
        "buildDate": "",
        "goVersion": "",
    }


# -- answers ---------------------------------------------------------------------------


def _success(kind: str, result: list[Any], summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """Loki's envelope; a query's answer carries ``stats`` (Grafana shows its summary)."""
    data: dict[str, Any] = {"resultType": kind, "result": result}
    if summary is not None:
        data["stats"] = {"summary": summary}
    return {"status": "success", "data": data}


def _streams(
    engine: loki_engine.Engine,
    query: LogQuery,
    window_ns: tuple[int, int],
    param: Any,
    by_category: bool = False,
) -> dict:
    """A log query's answer; by category, each value carries the entry's metadata as
    structured metadata and what parsers extracted, and streams hold stream labels only."""
    limit = int_param(param("limit"), DEFAULT_LIMIT, "limit")
    direction = (param("direction") or "backward").lower()
    if direction not in ("backward", "forward"):
        raise BadRequest("direction: must be backward or forward", field="direction")
    start_ns, end_ns = window_ns
    lines = engine.lines(
        query,
        start_ns // 1_000_000,
        (end_ns - 1) // 1_000_000,
        limit,
        forward=direction == "forward",
        window_ns=window_ns,
    )
    values = []
    for line in lines:
        value = line.value()
        labels = line.labels
        if by_category:
            labels, structured, parsed = line.categorized()
            categories = {}
            if structured:
                categories["structuredMetadata"] = structured
            if parsed:
                categories["parsed"] = parsed
            value.append(categories)
        values.append((labels, value))
    answer = _success("streams", pipeline.streams_of(values), engine.stats.summary(len(values)))
    if by_category:
        answer["data"]["encodingFlags"] = [CATEGORIZE_LABELS]
    return answer


def _matrix(series: vectors.Series) -> list[dict[str, Any]]:
    return [
        {
            "metric": dict(labels),
            "values": [
                [step / 1000, vectors.format_value(value)] for step, value in sorted(values.items())
            ],
        }
        for labels, values in sorted(series.items())
    ]


# -- what the label and index routes read ----------------------------------------------


def _selector(text: str | None) -> LogQuery:
    """A stream selector (every stream when none is given)."""
    if not text:
        return LogQuery(())
    return _log_query(text)


def _log_query(text: str | None) -> LogQuery:
    query = parse(_required(text, "query"))
    if not isinstance(query, LogQuery):
        raise LogQLError("query: must be a log query (a stream selector and its pipeline)")
    return query


def _points(
    engine: loki_engine.Engine, text: str | None, start: int, end: int
) -> list[tuple[int, tuple, int]]:
    """(time, labels, bytes) of every entry a selector names: counted in SQL."""
    return [
        (timestamp, tuple(sorted(labels.items())), size)
        for timestamp, labels, size in engine.points(_selector(text), start, end)
    ]


def _series(
    engine: loki_engine.Engine, text: str | None, start: int, end: int
) -> list[dict[str, str]]:
    """The label sets of the streams a selector names in [start, end] (every stream, from
    the block headers alone, when none is given)."""
    if not text:
        return [
            pipeline.labels_from_json(service, level, source, pushed)
            for service, source, level, pushed in engine.reader.streams(start, end)
            if engine.allowed is None or service in engine.allowed
        ]
    found = {labels for _, labels, _ in _points(engine, text, start, end)}
    return [dict(labels) for labels in found]


def _volumes(
    engine: loki_engine.Engine,
    text: str | None,
    start: int,
    end: int,
    param: Any,
    step: int | None = None,
) -> vectors.Series:
    """Bytes per stream (or per the ``targetLabels``), in one bucket or per step."""
    targets = [t for t in (param("targetLabels") or "").split(",") if t]
    aggregate_by_labels = (param("aggregateBy") or "series") == "labels"
    volumes: vectors.Series = {}
    for timestamp, labels, size in _points(engine, text, start, end):
        present = dict(labels)
        if targets:
            key = tuple((name, present[name]) for name in sorted(targets) if name in present)
        elif aggregate_by_labels:
            key = tuple((name, value) for name, value in labels if name == "service_name")
        else:
            key = labels
        bucket = end if step is None else start + ((timestamp - start) // step) * step
        per_step = volumes.setdefault(key, {})
        per_step[bucket] = per_step.get(bucket, 0) + size
    return volumes


def _field_type(values: set[str]) -> str:
    def every(test: Any) -> bool:
        return all(test(v) for v in values)

    if every(lambda v: re.fullmatch(r"-?[0-9]+", v)):
        return "int"
    if every(lambda v: re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?", v)):
        return "float"
    if every(lambda v: v in ("true", "false")):
        return "boolean"
    if every(lambda v: re.fullmatch(r"([0-9.]+(ns|us|µs|ms|s|m|h))+", v)):
        return "duration"
    return "string"


# -- parameters, as Loki reads them -----------------------------------------------------


def _required(value: str | None, name: str) -> str:
    if not value:
        raise BadRequest(f"{name}: is required", field=name)
    return value


def _range(start: str | None, end: str | None, since: str | None) -> tuple[int, int]:
    end_ms = time_param(end, now_ms(), "end")
    default_start = end_ms - (_duration(since, "since") if since else DEFAULT_RANGE_MS)
    # A `since` reaching before 1970 means everything (Loki clamps it too).
    start_ms = max(0, time_param(start, max(0, default_start), "start"))
    if start_ms > end_ms:
        raise BadRequest("start: must not be after end", field="start")
    return start_ms, end_ms


def _log_range(start_ms: int, end_ms: int, start: str | None, end: str | None) -> tuple[int, int]:
    """A log query's range in nanoseconds, as Loki reads it: [start, end), so an entry at
    end's very nanosecond is out (Grafana's log context asks for the lines before an entry
    with that entry's time as end) and one at start's is in. Without ``end``, ``now``'s
    millisecond is in."""
    end_ns = time_param_ns(end, "end") if end else (end_ms + 1) * 1_000_000
    start_ns = time_param_ns(start, "start") if start else start_ms * 1_000_000
    return start_ns, end_ns


def time_param(value: str | None, default: int, name: str) -> int:
    """Unix nanoseconds, seconds (ten digits or fewer, or with a fraction) or RFC 3339, in
    milliseconds (rounded down)."""
    return time_param_ns(value, name) // 1_000_000 if value else default


def time_param_ns(value: str, name: str) -> int:
    """The time in nanoseconds, within Loki's range (int64: 1970 to 2262)."""
    try:
        if re.fullmatch(r"[0-9]+", value):
            number = int(value)
            ns = number * 1_000_000_000 if len(value) <= 10 else number
        elif re.fullmatch(r"[0-9]*\.[0-9]+", value):
            ns = int(Decimal(value) * 1_000_000_000)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError
            whole = moment.replace(microsecond=0)
            ns = int(whole.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
    except (ValueError, OverflowError, ArithmeticError):
        raise BadRequest(
            f"{name}: {value[:40]!r} is not a time (Unix ns or s, or RFC 3339)", field=name
        ) from None
    if not 0 <= ns <= MAX_TIME_NS:
        raise BadRequest(
            f"{name}: {value[:40]!r} is outside Loki's time range (1970 to 2262)", field=name
        )
    return ns


MAX_TIME_NS = 2**63 - 1  # Loki's times are int64 nanoseconds: up to 2262-04-11


def _step(value: str | None, start: int, end: int) -> int:
    if not value:
        return max(1000, (end - start) // 250 // 1000 * 1000)  # Loki's default resolution
    try:
        if re.fullmatch(r"[0-9]*\.?[0-9]+", value):
            step = math.floor(float(value) * 1000)
        else:
            step = duration_ms(value)
    except LogQLError:
        raise BadRequest(
            f"step: {value[:40]!r} is not a duration or seconds", field="step"
        ) from None
    if step <= 0:
        raise BadRequest("step: must be positive", field="step")
    return step


def _duration(value: str, name: str) -> int:
    try:
        return duration_ms(value)
    except LogQLError:
        raise BadRequest(f"{name}: {value[:40]!r} is not a duration", field=name) from None


def int_param(value: str | None, default: int, name: str) -> int:
    if not value:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < 1:
        raise BadRequest(f"{name}: must be a positive integer", field=name)
    return int(value)
