"""The LogQL subset this service answers, parsed with a Lark grammar into plain dataclasses.

Log queries: a stream selector (``=``, ``!=``, ``=~``, ``!~``) and a pipeline of line filters
(``|=``, ``!=``, ``|~``, ``!~``), ``| json``, ``| logfmt``, label filters (text, regular
expression, number, duration and byte comparisons, joined with ``and``, ``,`` and ``or``),
``| line_format`` (``{{.label}}`` and ``{{__line__}}``) and ``| drop``.

Metric queries: ``count_over_time``, ``rate``, ``bytes_over_time`` and ``bytes_rate`` over a
log query and a range; ``sum``, ``avg``, ``min``, ``max``, ``count`` with ``by`` or
``without``; ``topk``; ``vector(n)``; and arithmetic between label-less vectors and numbers
(Grafana's health check sends ``vector(1)+vector(1)``).

Anything else is refused with a message naming the unsupported part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from logsvc.go_strings import go_unquoted
from logsvc.loki.matching import LogQLError, match_text, regex

MAX_QUERY_CHARS = 10_000

GRAMMAR = r"""
?start: expr

?expr: term
     | expr ADD_OP term             -> binary
?term: atom
     | term MUL_OP atom             -> binary
?atom: log_query
     | metric
     | NUMBER                       -> number
     | "(" expr ")"

?metric: range_agg | vector_agg | topk | vector_literal
vector_literal: "vector"i "(" NUMBER ")"
range_agg: RANGE_FN "(" log_query RANGE ")"
         | RANGE_FN "(" selector RANGE stage* ")"  -> range_agg_before_pipeline
vector_agg: AGG_OP grouping? "(" expr ")" grouping?
topk: "topk"i grouping? "(" NUMBER "," expr ")" grouping?
grouping: GROUP_KIND "(" [LABEL ("," LABEL)*] ")"

log_query: selector stage*
selector: "{" [matcher ("," matcher)*] "}"
matcher: LABEL MATCH_OP STRING

?stage: LINE_OP STRING ("or"i STRING)*  -> line_filter
      | "|" PARSER                  -> parser
      | "|" "line_format"i STRING   -> line_format
      | "|" "drop"i LABEL ("," LABEL)* -> drop
      | "|" label_or                -> label_filter

?label_or: label_and ("or"i label_and)*      -> any_of
?label_and: label_term (("and"i | ",") label_term)* -> all_of
?label_term: LABEL CMP_OP value             -> compare
           | "(" label_or ")"
?value: STRING | DURATION | BYTES | NUMBER

ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
RANGE_FN.2: /(count_over_time|rate|bytes_over_time|bytes_rate)\b/i
AGG_OP.2: /(sum|avg|min|max|count)\b/i
GROUP_KIND.2: /(by|without)\b/i
PARSER.2: /(json|logfmt)\b/i
MATCH_OP: "=~" | "!~" | "!=" | "="
LINE_OP: "|=" | "|~" | "!=" | "!~"
CMP_OP: "==" | "=~" | "!~" | "!=" | ">=" | "<=" | ">" | "<" | "="
RANGE: /\[\s*[0-9][0-9a-zµ.]*\s*\]/
DURATION.3: /([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w|y))+/
BYTES.3: /[0-9]+(\.[0-9]+)?([KkMmGgTtPpEe]i?)?[Bb]/
NUMBER: /-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/
LABEL: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /"(?:[^"\\]|\\.)*"/ | /`[^`]*`/

COMMENT: /#[^\n]*/

%import common.WS
%ignore WS
%ignore COMMENT
"""

# LogQL words outside the subset, named in the refusal instead of a bare syntax error.
_UNSUPPORTED = re.compile(
    r"(?i)\b(quantile_over_time|avg_over_time|sum_over_time|min_over_time|max_over_time|"
    r"stddev_over_time|stdvar_over_time|first_over_time|last_over_time|absent_over_time|"
    r"bottomk|sort|sort_desc|label_replace|stddev|stdvar|unwrap|offset|pattern|regexp|"
    r"unpack|label_format|decolorize|distinct|keep|ip|bool|on|ignoring|group_left|"
    r"group_right)\b"
)
_TEMPLATE_FIELD = re.compile(r"\{\{\s*(?:\.([A-Za-z_][A-Za-z0-9_]*)|(__line__))\s*\}\}")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_DURATION_MS = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_BYTE_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15, "e": 1e18}


# -- the parsed query ---------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # = != =~ !~
    value: str


@dataclass(frozen=True)
class LineFilter:
    op: str  # |= != |~ !~
    value: str
    alternatives: tuple[str, ...] = ()  # `|= "a" or "b"`: the values after the first

    @property
    def values(self) -> tuple[str, ...]:
        return (self.value, *self.alternatives)


@dataclass(frozen=True)
class Parser:
    kind: str  # json, logfmt


@dataclass(frozen=True)
class Compare:
    label: str
    op: str
    value: str | float
    unit: str = "text"  # text, number, duration (ms), bytes


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class LabelFilter:
    expression: Compare | AllOf | AnyOf


@dataclass(frozen=True)
class LineFormat:
    template: str


@dataclass(frozen=True)
class Drop:
    labels: tuple[str, ...]


Stage = LineFilter | Parser | LabelFilter | LineFormat | Drop


@dataclass(frozen=True)
class LogQuery:
    matchers: tuple[Matcher, ...]
    stages: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class RangeAggregation:
    function: str  # count_over_time, rate, bytes_over_time, bytes_rate
    query: LogQuery
    range_ms: int


@dataclass(frozen=True)
class Grouping:
    without: bool
    labels: tuple[str, ...]


@dataclass(frozen=True)
class VectorAggregation:
    op: str  # sum avg min max count topk
    inner: Any
    grouping: Grouping | None = None
    parameter: int | None = None  # topk's k


@dataclass(frozen=True)
class VectorLiteral:
    value: float


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Binary:
    op: str
    left: Any
    right: Any


Query = LogQuery | RangeAggregation | VectorAggregation | VectorLiteral | Number | Binary


# -- parsing ----------------------------------------------------------------------------------


def parse(text: str) -> Query:
    """The query, or a 400 naming what is wrong or unsupported."""
    if not text or not text.strip():
        raise LogQLError("query: is required")
    if len(text) > MAX_QUERY_CHARS:
        raise LogQLError(f"query: at most {MAX_QUERY_CHARS} characters")
    from lark.exceptions import UnexpectedInput, VisitError

    try:
        return _parser().parse(text)
    except UnexpectedInput as exc:
        # A LogQL word outside the subset is named (a label of that name parses fine).
        unsupported = _UNSUPPORTED.search(_without_strings(text))
        if unsupported:
            raise LogQLError(
                f"query: {unsupported[1]!r} is not supported here (docs/LOKI.md lists the subset)"
            ) from None
        near = text[exc.pos_in_stream : exc.pos_in_stream + 20] if exc.pos_in_stream else ""
        raise LogQLError(
            f"query: parse error at line {exc.line}, col {exc.column}"
            + (f" near {near!r}" if near else "")
        ) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, LogQLError):
            raise exc.orig_exc from None
        raise


@cache
def _parser() -> Any:
    from lark import Lark, Transformer

    class ToQuery(Transformer):
        def number(self, items: list) -> Number:
            return Number(float(items[0]))

        def vector_literal(self, items: list) -> VectorLiteral:
            return VectorLiteral(float(items[0]))

        def binary(self, items: list) -> Binary:
            left, op, right = items
            return Binary(str(op), left, right)

        def range_agg(self, items: list) -> RangeAggregation:
            function, query, window = items
            return RangeAggregation(
                str(function).lower(), query, duration_ms(str(window)[1:-1].strip())
            )

        def range_agg_before_pipeline(self, items: list) -> RangeAggregation:
            # count_over_time({a="b"}[5m] |= "x"): the range may stand before the pipeline.
            function, selector, window, *stages = items
            return self.range_agg([function, LogQuery(selector, tuple(stages)), window])

        def grouping(self, items: list) -> Grouping:
            kind, *labels = items
            return Grouping(str(kind).lower() == "without", tuple(str(x) for x in labels if x))

        def vector_agg(self, items: list) -> VectorAggregation:
            op, rest = str(items[0]).lower(), items[1:]
            groupings = [x for x in rest if isinstance(x, Grouping)]
            (inner,) = [x for x in rest if not isinstance(x, Grouping)]
            return VectorAggregation(op, inner, groupings[0] if groupings else None)

        def topk(self, items: list) -> VectorAggregation:
            groupings = [x for x in items if isinstance(x, Grouping)]
            k, inner = [x for x in items if not isinstance(x, Grouping)]
            if float(k) < 1 or float(k) != int(float(k)):
                raise LogQLError("query: topk needs a whole number of at least 1")
            return VectorAggregation("topk", inner, groupings[0] if groupings else None, int(k))

        def log_query(self, items: list) -> LogQuery:
            selector, *stages = items
            return LogQuery(selector, tuple(stages))

        def selector(self, items: list) -> tuple[Matcher, ...]:
            matchers = tuple(x for x in items if x is not None)
            if not matchers or all(_matches_empty(m) for m in matchers):
                raise LogQLError(
                    "query: a selector needs at least one matcher that does not match the "
                    'empty value, such as {service_name="checkout"}'
                )
            return matchers

        def matcher(self, items: list) -> Matcher:
            label, op, value = items
            found = Matcher(str(label), str(op), _string(value))
            if found.op in ("=~", "!~"):
                regex(found.value)
            return found

        def line_filter(self, items: list) -> LineFilter:
            op, first, *more = items
            found = LineFilter(str(op), _string(first), tuple(_string(x) for x in more))
            if found.op in ("|~", "!~"):
                for value in found.values:
                    regex(value)
            return found

        def parser(self, items: list) -> Parser:
            return Parser(str(items[0]).lower())

        def line_format(self, items: list) -> LineFormat:
            template = _string(items[0])
            if "{{" in _TEMPLATE_FIELD.sub("", template):
                raise LogQLError("query: line_format takes {{.label}} and {{__line__}} only here")
            return LineFormat(template)

        def drop(self, items: list) -> Drop:
            return Drop(tuple(str(x) for x in items))

        def label_filter(self, items: list) -> LabelFilter:
            return LabelFilter(items[0])

        def any_of(self, items: list) -> AnyOf:
            return AnyOf(tuple(items))

        def all_of(self, items: list) -> AllOf:
            return AllOf(tuple(items))

        def compare(self, items: list) -> Compare:
            label, op, value = str(items[0]), str(items[1]), items[2]
            kind = value.type
            if kind == "STRING":
                if op not in ("=", "!=", "=~", "!~"):
                    raise LogQLError(f"query: {op} compares numbers, durations or bytes")
                text = _string(value)
                if op in ("=~", "!~"):
                    regex(text)
                return Compare(label, op, text)
            if op in ("=~", "!~"):
                raise LogQLError(f"query: {op} takes a quoted regular expression")
            op = "==" if op == "=" else op
            if kind == "DURATION":
                return Compare(label, op, duration_ms(str(value)), "duration")
            if kind == "BYTES":
                return Compare(label, op, byte_count(str(value)), "bytes")
            return Compare(label, op, float(value), "number")

    return Lark(GRAMMAR, parser="lalr", transformer=ToQuery(), maybe_placeholders=True)


def duration_ms(text: str) -> int:
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise LogQLError(f"query: {text!r} is not a duration (5m, 1h30m, 500ms)")
    return round(sum(float(number) * _DURATION_MS[unit] for number, unit in parts))


def byte_count(text: str) -> float:
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([KkMmGgTtPpEe]?)(i?)[Bb]", text)
    if match is None:
        raise LogQLError(f"query: {text!r} is not a byte size (10KB, 1MiB)")
    number, prefix, binary = match.groups()
    power = "kmgtpe".find(prefix.lower()) + 1 if prefix else 0
    return float(number) * ((1024**power) if binary else _BYTE_UNITS[prefix.lower()])


def _string(token: Any) -> str:
    text = str(token)
    if text.startswith("`"):
        return text[1:-1]
    try:
        return go_unquoted(text[1:-1])  # LogQL's strings are Go's
    except ValueError:
        raise LogQLError(f"query: {text[:40]} is not a valid string") from None


def _without_strings(text: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', text)


def _matches_empty(matcher: Matcher) -> bool:
    return match_text(matcher.op, "", matcher.value)
