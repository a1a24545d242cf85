"""Vector operations of metric queries: aggregations (sum, avg, min, max, count, topk by
or without labels) and arithmetic, over series of step -> value."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from logsvc.loki.logql import Binary, Grouping, VectorAggregation

Series = dict[tuple[tuple[str, str], ...], dict[int, float]]  # labels -> {step ms: value}


def aggregate(query: VectorAggregation, inner: Series) -> Series:
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


def binary(
    query: Binary, left: Series, right: Series, left_scalar: bool, right_scalar: bool
) -> Series:
    """Arithmetic as Loki (and Prometheus) does it: a scalar (a number) applies to every
    series of the other side; two vectors match one to one, series with the same labels
    (so a label-less vector, such as sum(...) or vector(1), pairs only with another)."""
    operate: Callable[[float, float], float] = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b if b else float("nan"),
    }[query.op]
    if right_scalar:
        other = right[()]
        return {
            labels: {s: operate(v, other[s]) for s, v in values.items() if s in other}
            for labels, values in left.items()
        }
    if left_scalar:
        other = left[()]
        return {
            labels: {s: operate(other[s], v) for s, v in values.items() if s in other}
            for labels, values in right.items()
        }
    matched: Series = {}
    for labels, values in left.items():
        other = right.get(labels)
        if other is None:
            continue
        steps = {s: operate(v, other[s]) for s, v in values.items() if s in other}
        if steps:
            matched[labels] = steps
    return matched


def format_value(value: float) -> str:
    """A sample value as Loki writes it (Go's strconv 'f', -1): 2, 0.5, NaN."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"  # as Prometheus and Loki write them
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
