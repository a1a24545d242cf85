"""The parameters of the Loki query routes, read as Loki reads them: times in Unix
nanoseconds, seconds (ten digits or fewer, or with a fraction) or RFC 3339, within Loki's
range (int64 nanoseconds); steps as durations or seconds; positive integers. Each refusal
is a 400 naming the parameter."""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal

from logsvc.clock import now_ms
from logsvc.errors import BadRequest
from logsvc.loki.literals import duration_ms
from logsvc.loki.matching import LogQLError

DEFAULT_RANGE_MS = 3_600_000  # Loki's default: the last hour


def required(value: str | None, name: str) -> str:
    if not value:
        raise BadRequest(f"{name}: is required", field=name)
    return value


def time_range(start: str | None, end: str | None, since: str | None) -> tuple[int, int]:
    end_ms = time_param(end, now_ms(), "end")
    default_start = end_ms - (duration_param(since, "since") if since else DEFAULT_RANGE_MS)
    # A `since` reaching before 1970 means everything (Loki clamps it too).
    start_ms = max(0, time_param(start, max(0, default_start), "start"))
    if start_ms > end_ms:
        raise BadRequest("start: must not be after end", field="start")
    return start_ms, end_ms


def log_window(start_ms: int, end_ms: int, start: str | None, end: str | None) -> tuple[int, int]:
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


def step_of(value: str | None, start: int, end: int) -> int:
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


def duration_param(value: str, name: str) -> int:
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
