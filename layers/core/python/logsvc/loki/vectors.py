"""Vector operations of metric queries, as Loki (and Prometheus, whose rules it follows)
does them: aggregations (sum, avg, min, max, count, stddev, stdvar, topk, bottomk, sort, by
or without labels), label_replace, and binary operators between numbers and vectors
(arithmetic, comparisons with or without ``bool``, the set operators ``and``/``or``/
``unless``, with ``on``/``ignoring`` and ``group_left``/``group_right`` matching)."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable

from logsvc.errors import BadRequest
from logsvc.loki.expressions import (
    COMPARISONS,
    Binary,
    Grouping,
    LabelReplace,
    Matching,
    VectorAggregation,
)
from logsvc.loki.matching import regex

LabelSet = tuple[tuple[str, str], ...]
Series = dict[LabelSet, dict[int, float]]  # labels -> {step ms: value}

_EXPAND = re.compile(r"\$(?:(\$)|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


class ExecutionError(BadRequest):
    """A query Loki would refuse while running it (matching rules, duplicate series)."""

    def __init__(self, message: str):
        super().__init__(message, field="query")


# -- aggregations -------------------------------------------------------------------------


def aggregate(query: VectorAggregation, inner: Series) -> Series:
    grouping = query.grouping or Grouping(False, ())
    if query.op in ("sort", "sort_desc"):
        return dict(inner)  # order matters to an instant answer only (see sort_order)
    groups: dict[LabelSet, list[tuple[LabelSet, dict[int, float]]]] = defaultdict(list)
    for labels, values in inner.items():
        key = () if query.op == "approx_topk" else group_key(labels, grouping)
        groups[key].append((labels, values))
    result: Series = {}
    for key, members in groups.items():
        if query.op in ("topk", "bottomk", "approx_topk"):
            assert query.parameter is not None
            _rank(members, query.parameter, query.op == "bottomk", result)
            continue
        per_step: dict[int, list[float]] = defaultdict(list)
        for _, values in members:
            for step, value in values.items():
                per_step[step].append(value)
        combine = _COMBINE[query.op]
        result[key] = {step: float(combine(values)) for step, values in per_step.items()}
    return result


def _rank(
    members: list[tuple[LabelSet, dict[int, float]]], k: int, lowest: bool, into: Series
) -> None:
    steps = sorted({step for _, values in members for step in values})
    for step in steps:
        present = [(values[step], labels) for labels, values in members if step in values]
        present.sort(key=lambda pair: pair[0] if lowest else -pair[0])
        for value, labels in present[:k]:
            into.setdefault(labels, {})[step] = value


def _variance(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


_COMBINE: dict[str, Callable[[list[float]], float]] = {
    "sum": sum,
    "avg": lambda v: sum(v) / len(v),
    "min": min,
    "max": max,
    "count": len,
    "stdvar": _variance,
    "stddev": lambda v: math.sqrt(_variance(v)),
}


def sort_order(op: str | None, items: list[tuple[LabelSet, float]]) -> list[tuple[LabelSet, float]]:
    """An instant vector in the order ``sort``/``sort_desc`` ask for (by labels otherwise)."""
    if op == "sort":
        return sorted(items, key=lambda pair: (pair[1], pair[0]))
    if op == "sort_desc":
        return sorted(items, key=lambda pair: (-pair[1], pair[0]))
    return sorted(items)


def group_key(labels: LabelSet, grouping: Grouping) -> LabelSet:
    if grouping.without:
        return tuple((k, v) for k, v in labels if k not in grouping.labels)
    present = dict(labels)
    return tuple((k, present[k]) for k in sorted(grouping.labels) if k in present)


# -- label_replace ------------------------------------------------------------------------


def label_replace(query: LabelReplace, inner: Series) -> Series:
    """Prometheus's label_replace: where the source label's value matches the (anchored)
    regex, the destination label is set to the replacement ($1, ${name} expanded); an empty
    result removes it."""
    pattern = regex(f"^(?:{query.regex})$")
    result: Series = {}
    for labels, values in inner.items():
        present = dict(labels)
        match = pattern.search(present.get(query.source, ""))
        if match is not None:
            value = _expand(query.replacement, match)
            if value:
                present[query.destination] = value
            else:
                present.pop(query.destination, None)
        key = tuple(sorted(present.items()))
        if key in result:
            raise ExecutionError("query: vector cannot contain metrics with the same labelset")
        result[key] = values
    return result


def _expand(template: str, match: object) -> str:
    def one(found: re.Match[str]) -> str:
        if found[1]:
            return "$"
        name = found[2] or found[3]
        try:
            group = match.group(int(name) if name.isdigit() else name)  # type: ignore[attr-defined]
        except (IndexError, KeyError, ValueError):
            return ""
        return group or ""

    return _EXPAND.sub(one, template)


# -- binary operations ----------------------------------------------------------------------


def scalar_operation(op: str, a: float, b: float) -> float:
    """Two numbers' operation: a comparison is 1 or 0 between numbers, bool or not (as
    Loki folds `1 > 2` to 0)."""
    if op in COMPARISONS:
        return 1.0 if compares(op, a, b) else 0.0
    return _arithmetic(op, a, b)


def _arithmetic(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b if b else (math.nan if a == 0 or a != a else math.copysign(math.inf, a))
        if op == "%":
            return math.fmod(a, b) if b else math.nan
        return math.pow(a, b)  # ^
    except OverflowError:
        return math.inf
    except (ValueError, ZeroDivisionError):
        return math.nan


def compares(op: str, a: float, b: float) -> bool:
    """A comparison operator applied: label filters' and binary operations' alike."""
    return {
        "==": a == b,
        "!=": a != b,
        ">": a > b,
        ">=": a >= b,
        "<": a < b,
        "<=": a <= b,
    }[op]


def _apply(op: str, a: float, b: float, return_bool: bool) -> float | None:
    """One pair of samples: the value, or None when a comparison filters it out (the
    left-hand value is kept, as Prometheus keeps it)."""
    if op in COMPARISONS:
        holds = compares(op, a, b)
        if return_bool:
            return 1.0 if holds else 0.0
        return a if holds else None
    return _arithmetic(op, a, b)


def binary(
    query: Binary, left: Series, right: Series, left_scalar: bool, right_scalar: bool
) -> Series:
    """A binary operation between two operands' series: a scalar (a number) applies to
    every series of the other side; two vectors match by their labels."""
    op, matching = query.op, query.matching
    if right_scalar or left_scalar:
        scalar = (right if right_scalar else left).get((), {})
        vector = left if right_scalar else right
        result: Series = {}
        for labels, values in vector.items():
            # A filtering comparison keeps the vector's own value, whichever side it is on.
            steps = _pairs(op, values, scalar, right_scalar, matching.return_bool, keep_ours=True)
            if steps:
                result[labels] = steps
        return result
    if op in ("and", "or", "unless"):
        return _set_operation(op, left, right, matching)
    return _matched(op, left, right, matching)


def _pairs(
    op: str,
    ours: dict[int, float],
    others: dict[int, float],
    ours_left: bool,
    return_bool: bool,
    keep_ours: bool,
) -> dict[int, float]:
    """One series against another (or a number's steps), step by step: the operation's
    value, or, for a comparison without bool that holds, our value (``keep_ours``) or the
    left side's."""
    steps: dict[int, float] = {}
    for step, value in ours.items():
        if step not in others:
            continue
        a, b = (value, others[step]) if ours_left else (others[step], value)
        found = _apply(op, a, b, return_bool)
        if found is None:
            continue
        if op in COMPARISONS and not return_bool:
            found = value if keep_ours else a
        steps[step] = found
    return steps


def _signature(labels: LabelSet, matching: Matching) -> LabelSet:
    if matching.on:
        return tuple((k, v) for k, v in labels if k in matching.labels)
    return tuple((k, v) for k, v in labels if k not in matching.labels)


def _set_operation(op: str, left: Series, right: Series, matching: Matching) -> Series:
    right_at: dict[int, set[LabelSet]] = defaultdict(set)
    for labels, values in right.items():
        signature = _signature(labels, matching)
        for step in values:
            right_at[step].add(signature)
    result: Series = {}
    left_at: dict[int, set[LabelSet]] = defaultdict(set)
    for labels, values in left.items():
        signature = _signature(labels, matching)
        kept = {}
        for step, value in values.items():
            left_at[step].add(signature)
            present = signature in right_at.get(step, ())
            if op == "or" or (op == "and") == present:
                kept[step] = value
        if kept:
            result[labels] = kept
    if op == "or":
        for labels, values in right.items():
            signature = _signature(labels, matching)
            extra = {s: v for s, v in values.items() if signature not in left_at.get(s, ())}
            if extra:
                result.setdefault(labels, {}).update(extra)
    return result


def _matched(op: str, left: Series, right: Series, matching: Matching) -> Series:
    """Arithmetic and comparisons between two vectors: one to one by default, many to one
    (group_left) or one to many (group_right)."""
    many_left = matching.card != "one_to_many"
    many, one = (left, right) if many_left else (right, left)
    one_by_signature: dict[LabelSet, tuple[LabelSet, dict[int, float]]] = {}
    for labels, values in one.items():
        signature = _signature(labels, matching)
        if signature in one_by_signature:
            side = "right" if many_left else "left"
            raise ExecutionError(
                f"query: found duplicate series for the match group {dict(signature)} on the "
                f"{side} hand-side of the operation; many-to-many matching not allowed: "
                "matching labels must be unique on one side"
            )
        one_by_signature[signature] = (labels, values)
    result: Series = {}
    seen_one_to_one: set[LabelSet] = set()
    for labels, values in many.items():
        signature = _signature(labels, matching)
        other = one_by_signature.get(signature)
        if other is None:
            continue
        if matching.card == "one_to_one":
            if signature in seen_one_to_one:
                raise ExecutionError(
                    "query: multiple matches for labels: many-to-one matching must be "
                    "explicit (group_left/group_right)"
                )
            seen_one_to_one.add(signature)
        other_labels, other_values = other
        # A filtering comparison keeps the left side's value.
        steps = _pairs(op, values, other_values, many_left, matching.return_bool, keep_ours=False)
        if steps:
            key = _result_labels(labels, other_labels, matching)
            if key in result:
                raise ExecutionError(
                    "query: multiple matches for labels: grouping labels must ensure unique matches"
                )
            result[key] = steps
    return result


def _result_labels(many: LabelSet, one: LabelSet, matching: Matching) -> LabelSet:
    present = dict(many)
    if matching.card == "one_to_one":
        if matching.on:
            present = {k: v for k, v in present.items() if k in matching.labels}
        else:
            present = {k: v for k, v in present.items() if k not in matching.labels}
    other = dict(one)
    for name in matching.include:
        if other.get(name):
            present[name] = other[name]
        else:
            present.pop(name, None)
    return tuple(sorted(present.items()))


def format_value(value: float) -> str:
    """A sample value as Loki writes it (Go's strconv 'f', -1): 2, 0.5, NaN."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"  # as Prometheus and Loki write them
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
