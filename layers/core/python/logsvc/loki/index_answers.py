"""The answers of the Loki API's label, series, index and detection routes (labels, label
values, series, index stats and volumes, patterns, detected fields and labels), in Loki's
response shapes. Label names and values of the whole range come from the block rows'
stream lists (Querier.streams); with a selector, from one SQL query of each entry's time,
labels and size (Engine.points); patterns and detected fields read the newest lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from logsvc.loki import engine as loki_engine
from logsvc.loki import parsers as loki_parsers
from logsvc.loki import pipeline, vectors
from logsvc.loki.answers import LokiRequest, log_query, matrix, success
from logsvc.loki.expressions import LogQuery
from logsvc.loki.params import int_param, step_of, time_range

LABEL_NAMES = tuple(sorted(loki_engine.STREAM_LABELS))
HOUR_MS = 3_600_000  # index stats count chunks as stream-hours
# The labels every entry has, and the block column (in the time index) that holds them.
_BLOCK_COLUMNS = {
    "service_name": "service_name",
    "source_type": "source_type",
    "level": "level",
    "detected_level": "level",
}
DETECTED_FIELDS_SAMPLE = 1000


def labels(request: LokiRequest) -> dict[str, Any]:
    """The label names of the streams in the range (that the ``query`` names)."""
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
    series = _series(request.engine(), request.param("query"), start, end)
    return {"status": "success", "data": sorted({name for s in series for name in s})}


def label_values(request: LokiRequest, name: str) -> dict[str, Any]:
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
    column = _BLOCK_COLUMNS.get(name)
    if column is not None and not request.param("query"):
        # A label every entry has, over every stream: from the time index's columns.
        values = request.reader.block_values(column, start, end, request.services)
        if column == "level":
            values = [level.lower() for level in values]
        return {"status": "success", "data": sorted(values)}
    series = _series(request.engine(), request.param("query"), start, end)
    return {"status": "success", "data": sorted({s[name] for s in series if name in s})}


def series(request: LokiRequest) -> dict[str, Any]:
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
    matches = request.multi
    selectors = matches.get("match[]") or matches.get("match") or [None]
    found: dict[tuple, dict[str, str]] = {}
    for selector in selectors:
        for labels in _series(request.engine(), selector, start, end):
            found[tuple(sorted(labels.items()))] = labels
    return {"status": "success", "data": list(found.values())}


def index_stats(request: LokiRequest) -> dict[str, Any]:
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
    streams, chunks, entries, size = set(), set(), 0, 0
    for hour, labels, count, bytes_ in _tallies(
        request.engine(), request.param("query"), start, end, HOUR_MS, origin=0
    ):
        streams.add(labels)
        chunks.add((labels, hour))
        entries += count
        size += bytes_
    return {"streams": len(streams), "chunks": len(chunks), "entries": entries, "bytes": size}


def index_volume(request: LokiRequest) -> dict[str, Any]:
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
    volumes = _volumes(request.engine(), request.param("query"), start, end, request.param)
    limit = int_param(request.param("limit"), 100, "limit")
    ranked = sorted(volumes.items(), key=lambda pair: -sum(pair[1].values()))[:limit]
    return success(
        "vector",
        [
            {"metric": dict(labels), "value": [end / 1000, str(sum(values.values()))]}
            for labels, values in ranked
        ],
    )


def index_volume_range(request: LokiRequest) -> dict[str, Any]:
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
    step = step_of(request.param("step"), start, end)
    volumes = _volumes(request.engine(), request.param("query"), start, end, request.param, step)
    return success("matrix", matrix(volumes))


def patterns(request: LokiRequest) -> dict[str, Any]:
    from logsvc.analysis.patterns import mine_patterns

    query = log_query(request.param("query"))
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
    step = step_of(request.param("step"), start, end)
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
    query = log_query(request.param("query"))
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
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
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
    series = _series(request.engine(), request.param("query"), start, end)
    return {
        "detectedLabels": [
            {"label": name, "cardinality": len({s[name] for s in series if name in s})}
            for name in sorted({name for s in series for name in s})
        ]
    }


# -- what the label and index routes read ----------------------------------------------


def _selector(text: str | None) -> LogQuery:
    """A stream selector (every stream when none is given)."""
    if not text:
        return LogQuery(())
    return log_query(text)


def _tallies(
    engine: loki_engine.Engine,
    text: str | None,
    start: int,
    end: int,
    bucket_ms: int | None = None,
    origin: int | None = None,
) -> Iterator[tuple[int, tuple, int, int]]:
    """(bucket, labels, entries, bytes) of each stream a selector names, per bucket (one
    for the whole range by default): counted in SQL, so what is held grows with streams
    and buckets, not with entries."""
    yield from engine.tallies(
        _selector(text),
        start,
        end,
        bucket_ms or (end - start + 1),
        start if origin is None else origin,
    )


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
    found = {labels for _, labels, _, _ in _tallies(engine, text, start, end)}
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
    for bucket, labels, _, size in _tallies(engine, text, start, end, step):
        present = dict(labels)
        if targets:
            key = tuple((name, present[name]) for name in sorted(targets) if name in present)
        elif aggregate_by_labels:
            key = tuple((name, value) for name, value in labels if name == "service_name")
        else:
            key = labels
        at = end if step is None else start + bucket * step
        per_step = volumes.setdefault(key, {})
        per_step[at] = per_step.get(at, 0) + size
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
