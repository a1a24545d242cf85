"""How the built-in rules write LogQL (logsvc.ask.words): strings and regular expressions
as Loki reads them, matchers, field filters, and a metric's step."""

from __future__ import annotations

import json
import re

from logsvc.ask import Translation
from logsvc.ask.times import HOUR_MS, MINUTE_MS, TimeRange
from logsvc.clock import DAY_MS

# The matcher of every service (a selector needs one that does not match the empty value).
EVERY_SERVICE = 'service_name=~".+"'


def matcher(label: str, values: list[str]) -> str:
    if len(values) == 1:
        return f"{label}={quoted(values[0])}"
    return f"{label}=~{quoted('|'.join(regex_escaped(v) for v in values))}"


def field_filter(name: str, op: str, value: str) -> str:
    hundreds = re.fullmatch(r"([1-5])xx", value)
    if hundreds:
        low = int(hundreds.group(1)) * 100
        return f"| {name} >= {low} and {name} < {low + 100}"
    if op in (">", ">=", "<", "<=") and re.fullmatch(r"-?\d+(?:\.\d+)?", value):
        return f"| {name} {op} {value}"
    return f"| {name}{'!=' if op == '!=' else '='}{quoted(value)}"


# The metric's resolution for a range no step was asked for: about 60 points or fewer.
AUTO_STEPS = ((HOUR_MS, "1m"), (3 * HOUR_MS, "5m"), (12 * HOUR_MS, "15m"), (2 * DAY_MS, "1h"),
              (14 * DAY_MS, "6h"))  # fmt: skip
STEP_MS = {"1m": MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "1h": HOUR_MS,
           "6h": 6 * HOUR_MS, "1d": DAY_MS, "1s": 1000}  # fmt: skip
MAX_POINTS = 1500
UNIT_STEPS = {"second": "1s", "minute": "1m", "min": "1m", "hour": "1h", "day": "1d"}


def metric(
    query: str, span: TimeRange, rate: bool, unit: str | None, by: str | None, words: str
) -> Translation:
    """Counts (or a per-second rate) per step: the points are at each step's end, so they
    cover the range exactly (the first point is one step after its start)."""
    auto = next((step for below, step in AUTO_STEPS if span.end - span.start <= below), "1d")
    step = UNIT_STEPS[unit] if unit and not rate else auto
    if (span.end - span.start) // STEP_MS[step] > MAX_POINTS:
        step = auto
    function = "rate" if rate else "count_over_time"
    grouping = f" by ({by})" if by else ""
    logql = f"sum{grouping} ({function}({query} [{step}]))"
    per = {"1s": "second", "1m": "minute", "5m": "5 minutes", "15m": "15 minutes",
           "1h": "hour", "6h": "6 hours", "1d": "day"}[step]  # fmt: skip
    what = (
        f"The rate per second of {words}, averaged over each {per}"
        if rate
        else f"The number of {words} per {per}"
    )
    by_words = {"level": ", by level", "service_name": ", by service"}.get(by or "", "")
    start = span.start + STEP_MS[step]
    return Translation(
        logql, start, span.end, f"{what}{by_words}, {span.words}.", "metric", step=step
    )


def quoted(text: str) -> str:
    """A LogQL string (Go's syntax: JSON's escapes read the same)."""
    return json.dumps(text, ensure_ascii=False)


def regex_escaped(text: str) -> str:
    """``text`` as an RE2 pattern matching it literally."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)
