"""Range aggregations: one series' samples (time, value), read at each step over the window
(step - range, step], as Loki reads them. Counting functions read how many lines (or their
bytes); the others read the values ``unwrap`` took from a label."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from typing import Any

Window = list[float]  # the values in one window, oldest first


def _quantile(phi: float) -> Callable[[Window], float]:
    def quantile(values: Window) -> float:
        if phi != phi:
            return math.nan
        if phi < 0:
            return -math.inf
        if phi > 1:
            return math.inf
        ordered = sorted(values)
        rank = phi * (len(ordered) - 1)
        low = math.floor(rank)
        high = min(low + 1, len(ordered) - 1)
        weight = rank - low
        return ordered[low] * (1 - weight) + ordered[high] * weight

    return quantile


def _variance(values: Window) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def functions(name: str, seconds: float, parameter: float | None) -> Callable[[Window], float]:
    """What a range function makes of one window's values (never empty here)."""
    if name == "quantile_over_time":
        return _quantile(parameter if parameter is not None else math.nan)
    return {
        "count_over_time": len,
        "bytes_over_time": sum,
        "bytes_rate": lambda v: sum(v) / seconds,
        "rate": lambda v: sum(v) / seconds,
        "sum_over_time": sum,
        "avg_over_time": lambda v: sum(v) / len(v),
        "min_over_time": min,
        "max_over_time": max,
        "stdvar_over_time": _variance,
        "stddev_over_time": lambda v: math.sqrt(_variance(v)),
        "first_over_time": lambda v: v[0],
        "last_over_time": lambda v: v[-1],
    }[name]


def evaluate(
    name: str,
    times: list[int],
    values: list[float],
    steps: list[int],
    range_ms: int,
    offset_ms: int,
    parameter: float | None,
) -> dict[int, float]:
    """The series' value at each step whose window holds a sample (none elsewhere, as in
    Loki). ``times`` ascend; ``values`` match them."""
    seconds = range_ms / 1000
    found: dict[int, float] = {}
    if name == "rate_counter":
        for step in steps:
            low, high = _window(times, step - offset_ms, range_ms)
            if high - low >= 2:
                found[step] = _counter_rate(
                    times[low:high], values[low:high], step - offset_ms, range_ms
                )
        return found
    combine = functions(name, seconds, parameter)
    for step in steps:
        low, high = _window(times, step - offset_ms, range_ms)
        if high > low:
            found[step] = float(combine(values[low:high]))
    return found


def _window(times: list[int], end: int, range_ms: int) -> tuple[int, int]:
    return bisect.bisect_right(times, end - range_ms), bisect.bisect_right(times, end)


def _counter_rate(times: list[int], values: list[float], end: int, range_ms: int) -> float:
    """Prometheus's extrapolated rate of a counter (resets counted), per second."""
    increase = values[-1] - values[0]
    for before, after in itertools.pairwise(values):
        if after < before:
            increase += before
    start = end - range_ms
    sampled = (times[-1] - times[0]) / 1000
    average_gap = sampled / (len(times) - 1)
    to_start = (times[0] - start) / 1000
    to_end = (end - times[-1]) / 1000
    if increase > 0 and values[0] >= 0:
        to_zero = sampled * (values[0] / increase)
        to_start = min(to_start, to_zero)
    threshold = average_gap * 1.1
    extrapolate_to = sampled
    extrapolate_to += to_start if to_start < threshold else average_gap / 2
    extrapolate_to += to_end if to_end < threshold else average_gap / 2
    return increase * (extrapolate_to / sampled) / (range_ms / 1000) if sampled else 0.0


# The range functions whose value is a window's count or bytes (or those per second).
COUNTED = ("count_over_time", "rate", "bytes_over_time", "bytes_rate")


def countable(query: Any, steps: list[int]) -> bool:
    """Whether a range aggregation can be answered from counts per step-long bucket: a
    count or bytes of a bare selector (no pipeline, no unwrap), its range whole steps."""
    log_range = query.range
    if query.function not in COUNTED or log_range.unwrap is not None or log_range.query.stages:
        return False
    if len(steps) == 1:
        return True  # one window: one bucket as long as the range
    step = steps[1] - steps[0]
    return log_range.range_ms % step == 0


def windows(
    buckets: dict[int, float], steps: list[int], width: int, seconds: float | None
) -> dict[int, float]:
    """Each step's value from ``width`` consecutive buckets (step n's window is buckets n
    to n + width - 1), per second of ``seconds`` when given, only where the window holds
    something, as in Loki."""
    if width == 1:  # a window is a bucket (the range is the step)
        return {
            steps[n]: held / seconds if seconds else held
            for n, held in sorted(buckets.items())
            if 0 <= n < len(steps)
        }
    found: dict[int, float] = {}
    for number, step in enumerate(steps):
        held = [buckets[n] for n in range(number, number + width) if n in buckets]
        if held:
            found[step] = sum(held) / seconds if seconds else sum(held)
    return found
