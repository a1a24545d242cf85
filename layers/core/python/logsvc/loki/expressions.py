"""A parsed LogQL query (logsvc.loki.logql builds it): plain frozen dataclasses, one per
construct of Loki's grammar. Log queries are a selector and a pipeline of stages; metric
queries are range aggregations over a log range, vector aggregations, label_replace,
literals and binary operations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# -- log queries ------------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # = != =~ !~
    value: str


@dataclass(frozen=True)
class Needle:
    """One value a line filter looks for: a text (or pattern), or ``ip("...")``."""

    text: str
    ip: bool = False


@dataclass(frozen=True)
class LineFilter:
    op: str  # |= != |~ !~ |> !>
    needles: tuple[Needle, ...]  # `|= "a" or "b"`: any of them

    @property
    def plain_text(self) -> str | None:
        """The one text a ``|=`` looks for, when that is all it is (the index narrows by
        it); None otherwise."""
        if self.op == "|=" and len(self.needles) == 1 and not self.needles[0].ip:
            return self.needles[0].text or None
        return None


@dataclass(frozen=True)
class Parser:
    kind: str  # json, logfmt, regexp, pattern, unpack
    expression: str = ""  # regexp's and pattern's
    extract: tuple[tuple[str, str], ...] = ()  # `| json a="b.c"`: (label, path)
    flags: tuple[str, ...] = ()  # logfmt's --strict, --keep-empty


@dataclass(frozen=True)
class Compare:
    label: str
    op: str  # = != =~ !~ for text; == != > >= < <= for the rest
    value: str | float
    unit: str = "text"  # text, number, duration (ms), bytes, ip


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Any, ...]


LabelExpression = Compare | AllOf | AnyOf


@dataclass(frozen=True)
class LabelFilter:
    expression: LabelExpression


@dataclass(frozen=True)
class LineFormat:
    template: str


@dataclass(frozen=True)
class LabelFormat:
    """``| label_format dst=src, dst2="{{.x}}"``: (label, source label or template, is it
    a template)."""

    assignments: tuple[tuple[str, str, bool], ...]


@dataclass(frozen=True)
class NamedMatcher:
    """What ``drop`` and ``keep`` name: a label, or a label whose value matches."""

    label: str
    matcher: Matcher | None = None


@dataclass(frozen=True)
class Drop:
    names: tuple[NamedMatcher, ...]


@dataclass(frozen=True)
class Keep:
    names: tuple[NamedMatcher, ...]


@dataclass(frozen=True)
class Decolorize:
    pass


Stage = LineFilter | Parser | LabelFilter | LineFormat | LabelFormat | Drop | Keep | Decolorize


@dataclass(frozen=True)
class LogQuery:
    matchers: tuple[Matcher, ...]
    stages: tuple[Stage, ...] = ()


# -- metric queries ---------------------------------------------------------------------


@dataclass(frozen=True)
class Unwrap:
    """``| unwrap [bytes|duration|duration_seconds](label)``, and the label filters after
    it."""

    label: str
    conversion: str = ""
    filters: tuple[LabelFilter, ...] = ()


@dataclass(frozen=True)
class LogRange:
    query: LogQuery
    range_ms: int
    offset_ms: int = 0
    unwrap: Unwrap | None = None


@dataclass(frozen=True)
class Grouping:
    without: bool
    labels: tuple[str, ...]


@dataclass(frozen=True)
class RangeAggregation:
    function: str  # count_over_time, rate, ..., quantile_over_time
    range: LogRange
    grouping: Grouping | None = None
    parameter: float | None = None  # quantile_over_time's quantile


@dataclass(frozen=True)
class VectorAggregation:
    op: str  # sum avg min max count stddev stdvar topk bottomk sort sort_desc approx_topk
    inner: Any
    grouping: Grouping | None = None
    parameter: int | None = None  # topk's and bottomk's k


@dataclass(frozen=True)
class LabelReplace:
    inner: Any
    destination: str
    replacement: str
    source: str
    regex: str


@dataclass(frozen=True)
class VectorLiteral:
    value: float


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Matching:
    """A binary operation's modifiers: ``bool``, ``on``/``ignoring`` (labels), and
    ``group_left``/``group_right`` (labels to include)."""

    return_bool: bool = False
    on: bool = False  # True: on(labels); False: ignoring(labels) (no labels: every label)
    labels: tuple[str, ...] = ()
    card: str = "one_to_one"  # one_to_one, many_to_one, one_to_many
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Binary:
    op: str  # or and unless + - * / % ^ == != > >= < <=
    left: Any
    right: Any
    matching: Matching = Matching()


@dataclass(frozen=True)
class Variants:
    """``variants(m1, m2, ...) of (log range)``: several metrics of one log range, each
    series labelled ``__variant__`` with its metric's position."""

    queries: tuple[Any, ...]
    of: LogRange


MetricQuery = (
    Variants | RangeAggregation | VectorAggregation | LabelReplace | VectorLiteral | Number | Binary
)
Query = LogQuery | MetricQuery

COMPARISONS = ("==", "!=", ">", ">=", "<", "<=")
SET_OPERATORS = ("and", "or", "unless")
