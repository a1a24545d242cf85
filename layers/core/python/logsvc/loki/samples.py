"""What a range aggregation reads from each line: a count, its size, or the value
``unwrap`` takes from a label (converted; ``__error__`` when it is no number), and when
those values can be read in SQL without a line per entry (an unwrap over ``| json`` by
stream labels, or over structured metadata). Also Loki's rules around them: which
``sum by`` may group inside the range it sums, the pipeline errors a metric refuses, and
``absent_over_time``'s series."""

from __future__ import annotations

import itertools
from typing import Any

from logsvc.errors import BadRequest
from logsvc.loki import ranges
from logsvc.loki.expressions import (
    Compare,
    Drop,
    LogRange,
    Parser,
    RangeAggregation,
    Unwrap,
    VectorAggregation,
)
from logsvc.loki.pipeline import ERROR, STREAM_LABELS, as_number, holds
from logsvc.loki.vectors import Series

SUMMABLE = ("bytes_over_time", "bytes_rate", "sum_over_time", "rate", "count_over_time")


def groups_inside(query: VectorAggregation) -> bool:
    """Whether ``sum by (...)`` may group the range aggregation it sums instead (the same
    answer; Loki's canInjectVectorGrouping)."""
    inner = query.inner
    return (
        query.op == "sum"
        and (query.grouping is None or not query.grouping.without)
        and isinstance(inner, RangeAggregation)
        and inner.grouping is None
        and inner.function in SUMMABLE
    )


def unwrap_in_sql(query: RangeAggregation) -> tuple[str, bool] | None:
    """Whether an unwrap metric's values can be read in SQL, without building a line per
    entry: (the document the label is read from, whether errors are skipped), or None.

    It can when the pipeline is ``| json`` (the label read from the line) or nothing (read
    from the metadata: structured metadata), the value is a plain number, the only filter
    after unwrap skips errors, and the series keep no label a parser could add (a JSON
    line's fields would otherwise be series labels): by stream labels only."""
    log_range = query.range
    unwrap = log_range.unwrap
    if unwrap is None or unwrap.conversion or unwrap.label in STREAM_LABELS:
        return None
    skip_errors = False
    for stage in unwrap.filters:
        if stage.expression != Compare(ERROR, "=", ""):
            return None
        skip_errors = True
    stages = log_range.query.stages
    if stages == ():
        document = "metadata"
    elif stages == (Parser("json"),):
        document = "line"
        grouping = query.grouping
        if grouping is None or grouping.without or not set(grouping.labels) <= set(STREAM_LABELS):
            return None
    else:
        return None
    if unwrap.label.count("_") > 3:
        return None  # too many ways to nest it (see json_paths)
    return document, skip_errors


def json_paths(label: str, document: str) -> tuple[str, ...]:
    """Where a label the json parser (or structured metadata) would name ``label`` can
    be, as JSON paths: the key itself, or nested at its underscores (``duration_ms`` is
    ``{"duration_ms": 5}`` or ``{"duration": {"ms": 5}}``); in metadata, an agent's
    structured metadata first."""
    parts = label.split("_")
    paths = []
    for cuts in itertools.product((False, True), repeat=len(parts) - 1):
        keys, current = [], parts[0]
        for cut, part in zip(cuts, parts[1:], strict=True):
            if cut:
                keys.append(current)
                current = part
            else:
                current = f"{current}_{part}"
        keys.append(current)
        paths.append("$." + ".".join(f'"{key}"' for key in keys))
    if document == "metadata":
        skipped = ('$."labels"', '$."structured_metadata"')
        paths = [f'$."structured_metadata"."{label}"'] + [
            p for p in paths if not p.startswith(skipped)
        ]
    return tuple(paths)


def as_float(value: Any) -> float | None:
    """A value read as JSON as unwrap reads it: numbers and numeric text; None for
    anything else (true and false, an array)."""
    if isinstance(value, bool):
        return None  # a JSON boolean is the label "true" or "false": no number
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def plain_drop(stage: object) -> bool:
    return isinstance(stage, Drop) and all(n.matcher is None for n in stage.names)


_CONVERSIONS: dict[str, str] = {"": "number", "bytes": "bytes", "duration": "duration"}


def unwrapped(unwrap: Unwrap, labels: dict[str, str]) -> tuple[dict[str, str], float] | None:
    """A line's sample: its labels without the unwrapped one, and that label's value
    converted (``__error__`` set when it is no number); None when the line lacks the label
    or a filter after unwrap drops it (Loki skips lines without the label)."""
    text = labels.get(unwrap.label, "")
    if not text:
        return None
    labels = {k: v for k, v in labels.items() if k != unwrap.label}
    number = as_number(text, _CONVERSIONS.get(unwrap.conversion, "duration"))
    if number is not None and unwrap.conversion.startswith("duration"):
        number /= 1000  # durations unwrap to seconds
    if number is None:
        labels.setdefault(ERROR, "SampleExtractionErr")
        number = 0.0
    for stage in unwrap.filters:
        if not holds(stage.expression, labels):
            return None
    return labels, number


def refuse_errors(labels: tuple[tuple[str, str], ...]) -> None:
    error = dict(labels).get(ERROR)
    if error:
        raise BadRequest(
            f"query: pipeline error: {error!r} for series {dict(labels)}. Use a label filter "
            f'to skip it (| __error__!="{error}"), or every error (| __error__=""); after '
            'unwrap too (| unwrap latency | __error__="")',
            field="query",
        )


def absent(
    log_range: LogRange,
    samples: dict[tuple[tuple[str, str], ...], tuple[list[int], list[float]]],
    steps: list[int],
) -> Series:
    """1 at each step whose window holds no line, labelled by the selector's equalities
    (as Prometheus's absent_over_time)."""
    times = sorted(t for found, _ in samples.values() for t in found)
    present = ranges.evaluate(
        "count_over_time",
        times,
        [1.0] * len(times),
        steps,
        log_range.range_ms,
        log_range.offset_ms,
        None,
    )
    absent = {step: 1.0 for step in steps if step not in present}
    if not absent:
        return {}
    labels = {m.label: m.value for m in log_range.query.matchers if m.op == "="}
    return {tuple(sorted(labels.items())): absent}
