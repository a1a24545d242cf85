"""What Loki checks once a construct of a query is read (its parser's validations): which
range aggregations take ``unwrap``, a parameter or a grouping; which vector aggregations
take a parameter; what a binary operation's sides and modifiers may be. Each refusal is a
400 in Loki's words. Arithmetic between two numbers is folded here, as Loki folds it."""

from __future__ import annotations

from typing import Any

from logsvc.loki.expressions import (
    COMPARISONS,
    SET_OPERATORS,
    Binary,
    Grouping,
    LogRange,
    Matching,
    Number,
    RangeAggregation,
    VectorAggregation,
)
from logsvc.loki.matching import LogQLError

# Range aggregations that read an unwrapped value, those that count lines, and those that
# take `by`/`without` (Loki's RangeAggregationExpr.validate).
_UNWRAPPED = {
    "avg_over_time",
    "sum_over_time",
    "max_over_time",
    "min_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "quantile_over_time",
    "rate",
    "rate_counter",
    "absent_over_time",
    "first_over_time",
    "last_over_time",
}
_COUNTING = {"bytes_over_time", "bytes_rate", "count_over_time", "rate", "absent_over_time"}
_GROUPABLE = {
    "avg_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "quantile_over_time",
    "rate",
    "rate_counter",
    "max_over_time",
    "min_over_time",
    "first_over_time",
    "last_over_time",
}
_WITH_PARAMETER = {"topk", "bottomk", "approx_topk"}
RANGE_FUNCTIONS = _UNWRAPPED | _COUNTING


def range_aggregation(
    function: str, log_range: LogRange, grouping: Grouping | None, parameter: float | None
) -> RangeAggregation:
    if grouping is not None and function not in _GROUPABLE:
        raise LogQLError(f"query: grouping not allowed for {function} aggregation")
    if log_range.unwrap is not None and function not in _UNWRAPPED:
        raise LogQLError(f"query: invalid aggregation {function} with unwrap")
    if log_range.unwrap is None and function not in _COUNTING:
        raise LogQLError(f"query: invalid aggregation {function} without unwrap")
    if function == "quantile_over_time" and parameter is None:
        raise LogQLError("query: parameter required for operation quantile_over_time")
    if function != "quantile_over_time" and parameter is not None:
        raise LogQLError(f"query: unsupported parameter for operation {function}")
    return RangeAggregation(function, log_range, grouping, parameter)


def vector_aggregation(
    op: str, first: Any, second: Any, grouping: Grouping | None
) -> VectorAggregation:
    if second is None:
        if op in _WITH_PARAMETER:
            raise LogQLError(f"query: parameter required for operation {op}")
        if op in ("sort", "sort_desc", "approx_topk") and grouping is not None:
            raise LogQLError(f"query: grouping not allowed for {op} aggregation")
        _metric_operand(first, op)
        return VectorAggregation(op, first, grouping)
    if op not in _WITH_PARAMETER:
        raise LogQLError(f"query: unsupported parameter for operation {op}")
    if not isinstance(first, Number):
        raise LogQLError(f"query: the parameter of {op} must be a number")
    k = first.value
    if k != k or k != int(k) or k < 1 or k > 1_000_000:
        raise LogQLError(f"query: invalid parameter {op}({k:g},: a whole number of at least 1")
    if op == "approx_topk" and grouping is not None:
        raise LogQLError("query: grouping not allowed for approx_topk aggregation")
    _metric_operand(second, op)
    return VectorAggregation(op, second, grouping, int(k))


def _metric_operand(query: Any, op: str) -> None:
    if isinstance(query, Number):
        raise LogQLError(f"query: {op} takes a vector, not a number")


def binary(op: str, left: Any, right: Any, matching: Matching) -> Any:
    scalars = isinstance(left, Number), isinstance(right, Number)
    if matching.return_bool and op not in COMPARISONS:
        raise LogQLError("query: bool modifier can only be used on comparison operators")
    if op in SET_OPERATORS:
        if any(scalars):
            raise LogQLError(f"query: set operator {op} is only allowed between vectors")
        if matching.card != "one_to_one":
            raise LogQLError(f"query: no grouping allowed for {op} operation")
    if any(scalars) and (matching.labels or matching.on or matching.card != "one_to_one"):
        raise LogQLError("query: vector matching only applies between two vectors")
    if all(scalars):  # folded now, as Loki does: `1 + 2` is the number 3
        from logsvc.loki.vectors import scalar_operation

        return Number(scalar_operation(op, left.value, right.value))
    return Binary(op, left, right, matching)
