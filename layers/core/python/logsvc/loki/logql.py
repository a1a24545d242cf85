"""LogQL, parsed as Loki parses it (its grammar, pkg/logql/syntax/syntax.y, read as the
reference) with a Lark LALR grammar into the dataclasses of logsvc.loki.expressions.

Log queries: a stream selector and a pipeline of line filters (``|=``, ``!=``, ``|~``,
``!~``, ``|>``, ``!>``, ``ip()``, alternatives joined with ``or``), parsers (``json`` and
``logfmt`` with their parameters and flags, ``regexp``, ``pattern``, ``unpack``), label
filters (text, regular expression, number, duration, bytes and ``ip()`` comparisons joined
with ``and``, ``,``, ``or`` or nothing), ``line_format``, ``label_format``, ``drop``,
``keep`` and ``decolorize``.

Metric queries: every range aggregation (``count_over_time`` ... ``quantile_over_time``,
``absent_over_time``, with ``unwrap``, ``offset`` and ``by``/``without``), every vector
aggregation (``sum`` ... ``topk``, ``bottomk``, ``sort``), ``label_replace``, ``vector()``,
numbers, and binary operators (``or and unless + - * / % ^ == != > >= < <=``, with ``bool``,
``on``/``ignoring`` and ``group_left``/``group_right``).

Keywords are read in any case, ``#`` starts a comment, strings are Go's. What Loki refuses
is refused with a 400 naming the construct; so is what this service does not answer.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from logsvc.loki import checks, templates
from logsvc.loki.expressions import (
    AllOf,
    AnyOf,
    Compare,
    Decolorize,
    Drop,
    Grouping,
    Keep,
    LabelFilter,
    LabelFormat,
    LabelReplace,
    LineFilter,
    LineFormat,
    LogQuery,
    LogRange,
    Matcher,
    Matching,
    NamedMatcher,
    Needle,
    Number,
    Parser,
    Query,
    RangeAggregation,
    Unwrap,
    Variants,
    VectorAggregation,
    VectorLiteral,
)
from logsvc.loki.literals import byte_count, duration_ms, go_string, number
from logsvc.loki.matching import LogQLError, match_text, regex
from logsvc.loki.parse_errors import parse_error

MAX_QUERY_CHARS = 10_000
PARSED_QUERIES_KEPT = 256  # at most 2.5 MB of query text

GRAMMAR = r"""
?start: log_expr | metric_expr | variants

?log_expr: log_query
         | "(" log_expr ")"

// -- metric expressions, loosest binding first (as Loki's precedence) --
?metric_expr: or_expr
?or_expr: and_expr | or_expr OR modifier and_expr            -> binary
?and_expr: cmp_expr | and_expr AND_OP modifier cmp_expr      -> binary
?cmp_expr: add_expr | cmp_expr _cmp modifier add_expr        -> binary
?add_expr: mul_expr | add_expr ADD_OP modifier mul_expr      -> binary
?mul_expr: pow_expr | mul_expr MUL_OP modifier pow_expr      -> binary
?pow_expr: operand | operand POW_OP modifier pow_expr        -> binary
?operand: range_agg
        | vector_agg
        | label_replace
        | VECTOR "(" signed ")"                              -> vector_literal
        | signed                                             -> number
        | "(" metric_expr ")"

signed: NUMBER | ADD_OP NUMBER

modifier: [BOOL] [matching]
matching: (ON | IGNORING) labels [GROUP_SIDE [labels]]
labels: "(" [LABEL ("," LABEL)*] ")"

range_agg: RANGE_FN "(" [signed ","] log_range ")" [grouping]
vector_agg: AGG_OP [grouping] "(" metric_expr ["," metric_expr] ")" [grouping]
label_replace: LABEL_REPLACE "(" metric_expr "," STRING "," STRING "," STRING "," STRING ")"
grouping: GROUP_KIND labels
variants: VARIANTS "(" metric_expr ("," metric_expr)* ")" OF "(" log_range ")"

log_range: selector RANGE [offset] stage* [unwrap]           -> range_after_selector
         | selector pipeline RANGE [offset]                  -> range_after_pipeline
         | "(" selector [pipeline] ")" RANGE [offset]        -> range_after_pipeline
         | "(" log_range ")"
pipeline: stage+ [unwrap] | unwrap
offset: OFFSET DURATION
unwrap: "|" UNWRAP (LABEL | CONVERSION "(" LABEL ")") ("|" label_or)*

// -- log queries --
log_query: selector stage*
selector: "{" [matcher ("," matcher)*] "}"
matcher: LABEL _match STRING

?stage: _line_op needle (OR needle)*                         -> line_filter
      | "|" JSON [extraction ("," extraction)*]              -> json
      | "|" LOGFMT FLAG* [extraction ("," extraction)*]      -> logfmt
      | "|" REGEXP STRING                                    -> regexp
      | "|" PATTERN STRING                                   -> pattern
      | "|" UNPACK                                           -> unpack
      | "|" XML                                              -> xml
      | "|" LINE_FORMAT STRING                               -> line_format
      | "|" LABEL_FORMAT assignment ("," assignment)*        -> label_format
      | "|" DROP named ("," named)*                          -> drop
      | "|" KEEP named ("," named)*                          -> keep
      | "|" DECOLORIZE                                       -> decolorize
      | "|" label_or                                         -> label_filter

needle: STRING | IP "(" STRING ")"
extraction: LABEL [EQ STRING]
assignment: LABEL EQ (LABEL | STRING)
named: LABEL [_match STRING]

?label_or: label_and (OR label_and)*                         -> any_of
?label_and: label_term ((AND_OP | ",")? label_term)*         -> all_of
?label_term: LABEL (_match | CMP_EQ | GT | GTE | LT | LTE) value            -> compare
           | LABEL (_match | CMP_EQ | GT | GTE | LT | LTE) IP "(" STRING ")"  -> compare_ip
           | "(" label_or ")"
?value: STRING | DURATION | BYTES | signed

// -- words: keywords in any case; a keyword that fits where a label would is a keyword --
RANGE_FN.3: /(RANGE_FUNCTIONS)\b/i
AGG_OP.3: /(sum|avg|min|max|count|stddev|stdvar|bottomk|topk|sort_desc|sort|approx_topk)\b/i
GROUP_KIND.3: /(by|without)\b/i
LABEL_REPLACE.3: /label_replace\b/i
VARIANTS.3: /variants(?=\s*\()/i
OF.3: /of\b/i
VECTOR.3: /vector\b/i
JSON.3: /json\b/i
LOGFMT.3: /logfmt\b/i
REGEXP.3: /regexp\b/i
PATTERN.3: /pattern\b/i
UNPACK.3: /unpack\b/i
XML.3: /xml\b/i
LINE_FORMAT.3: /line_format\b/i
LABEL_FORMAT.3: /label_format\b/i
DROP.3: /drop\b/i
KEEP.3: /keep\b/i
DECOLORIZE.3: /decolorize\b/i
UNWRAP.3: /unwrap\b/i
CONVERSION.3: /(duration_seconds|duration|bytes)(?=\s*\()/i
OFFSET.3: /offset\b/i
BOOL.3: /bool\b/i
ON.3: /on\b/i
IGNORING.3: /ignoring\b/i
GROUP_SIDE.3: /(group_left|group_right)\b/i
IP.3: /ip(?=\s*\()/i
OR.3: /or\b/i
AND_OP.3: /(and|unless)\b/i

// one terminal per operator, shared by every rule that takes it (as Loki's lexer has it)
_match: EQ | NEQ | RE | NRE
_cmp: CMP_EQ | NEQ | GT | GTE | LT | LTE
_line_op: PIPE_EXACT | PIPE_MATCH | PIPE_PATTERN | NEQ | NRE | NPA
EQ: "="
NEQ: "!="
RE: "=~"
NRE: "!~"
CMP_EQ: "=="
GT: ">"
GTE: ">="
LT: "<"
LTE: "<="
PIPE_EXACT: "|="
PIPE_MATCH: "|~"
PIPE_PATTERN: "|>"
NPA: "!>"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/" | "%"
POW_OP: "^"
FLAG: /--[a-z][a-z-]*/
RANGE: /\[\s*[0-9][0-9a-zµ.]*\s*\]/
DURATION.4: /-?([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w|y))+/
BYTES.4: /[0-9]+(\.[0-9]+)?([KkMmGgTtPpEe]i?)?[Bb]\b/
NUMBER: /([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|0[xX][0-9a-fA-F]+|(?i:inf|nan)\b/
LABEL: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /"(?:[^"\\]|\\.)*"/ | /`[^`]*`/

COMMENT: /#[^\n]*/

%import common.WS
%ignore WS
%ignore COMMENT
"""


def parse(text: str) -> Query:
    """The query, or a 400 naming what is wrong or unsupported."""
    if not text or not text.strip():
        raise LogQLError("query: is required")
    if len(text) > MAX_QUERY_CHARS:
        raise LogQLError(f"query: at most {MAX_QUERY_CHARS} characters")
    return _parsed(text)


# A dashboard asks the same few queries at every refresh: each parsed once (about 0.8 ms
# for a short query; the parsed query is frozen dataclasses, safe to share).
@lru_cache(maxsize=PARSED_QUERIES_KEPT)
def _parsed(text: str) -> Query:
    from lark.exceptions import UnexpectedInput, VisitError

    try:
        return _parser().parse(text)
    except UnexpectedInput as exc:
        raise LogQLError(parse_error(exc, text, _parser())) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, LogQLError):
            raise exc.orig_exc from None
        raise


@cache
def _parser() -> Any:
    from lark import Lark, Token, Transformer

    def words(items: list) -> list:
        return [x for x in items if x is not None]

    class ToQuery(Transformer):
        # -- metric expressions ---------------------------------------------------------

        def signed(self, items: list) -> float:
            sign = -1.0 if len(items) == 2 and str(items[0]) == "-" else 1.0
            return sign * number(str(items[-1]))

        def number(self, items: list) -> Number:
            return Number(items[0])

        def vector_literal(self, items: list) -> VectorLiteral:
            return VectorLiteral(items[1])

        def modifier(self, items: list) -> Matching:
            return_bool, matching = items
            found = matching or Matching()
            return Matching(
                return_bool is not None, found.on, found.labels, found.card, found.include
            )

        def matching(self, items: list) -> Matching:
            kind, names, side, include = items
            card = "one_to_one"
            if side is not None:
                card = "many_to_one" if str(side).lower() == "group_left" else "one_to_many"
            return Matching(False, str(kind).lower() == "on", names, card, include or ())

        def labels(self, items: list) -> tuple[str, ...]:
            return tuple(str(x) for x in words(items))

        def binary(self, items: list) -> Any:
            left, op, matching, right = items
            return checks.binary(str(op).lower(), left, right, matching)

        def grouping(self, items: list) -> Grouping:
            kind, names = items
            return Grouping(str(kind).lower() == "without", names)

        def range_agg(self, items: list) -> RangeAggregation:
            function, parameter, log_range, grouping = items
            return checks.range_aggregation(str(function).lower(), log_range, grouping, parameter)

        def vector_agg(self, items: list) -> VectorAggregation:
            op, before, first, second, after = items
            return checks.vector_aggregation(str(op).lower(), first, second, before or after)

        def label_replace(self, items: list) -> LabelReplace:
            _, inner, destination, replacement, source, pattern = items
            found = LabelReplace(
                inner,
                go_string(destination),
                go_string(replacement),
                go_string(source),
                go_string(pattern),
            )
            regex(found.regex)  # checked now: an invalid one is the client's 400
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", found.destination):
                raise LogQLError(
                    f"query: invalid destination label name in label_replace: {found.destination!r}"
                )
            return found

        def variants(self, items: list) -> Variants:
            _, *queries, _, log_range = items
            return Variants(tuple(queries), log_range)

        # -- log ranges -----------------------------------------------------------------

        def range_after_selector(self, items: list) -> LogRange:
            selector, window, offset, *rest = items
            unwrap = rest.pop() if rest else None
            return _log_range(LogQuery(selector, tuple(rest)), window, offset, unwrap)

        def range_after_pipeline(self, items: list) -> LogRange:
            selector, pipeline, window, offset = items
            stages, unwrap = pipeline or ((), None)
            return _log_range(LogQuery(selector, stages), window, offset, unwrap)

        def log_range(self, items: list) -> LogRange:
            return items[0]  # ( log_range )

        def pipeline(self, items: list) -> tuple[tuple, Unwrap | None]:
            unwrap = items[-1] if isinstance(items[-1], Unwrap) or items[-1] is None else None
            stages = tuple(x for x in items if x is not None and not isinstance(x, Unwrap))
            return stages, unwrap

        def offset(self, items: list) -> int:
            return duration_ms(str(items[1]))

        def unwrap(self, items: list) -> Unwrap:
            conversion = ""
            if isinstance(items[1], Token) and items[1].type == "CONVERSION":
                conversion = str(items[1]).lower()
                label, filters = str(items[2]), items[3:]
            else:
                label, filters = str(items[1]), items[2:]
            return Unwrap(label, conversion, tuple(LabelFilter(f) for f in filters))

        # -- log queries ----------------------------------------------------------------

        def log_query(self, items: list) -> LogQuery:
            selector, *stages = items
            return LogQuery(selector, tuple(stages))

        def selector(self, items: list) -> tuple[Matcher, ...]:
            matchers = tuple(words(items))
            if not matchers or all(_matches_empty(m) for m in matchers):
                raise LogQLError(
                    "query: queries require at least one regexp or equality matcher that "
                    'does not have an empty-compatible value, such as {service_name="checkout"}'
                )
            return matchers

        def matcher(self, items: list) -> Matcher:
            label, op, value = items
            found = Matcher(str(label), str(op), go_string(value))
            if found.op in ("=~", "!~"):
                regex(found.value)
            return found

        def needle(self, items: list) -> Needle:
            if len(items) == 2:
                return Needle(_ip_pattern(go_string(items[1])), ip=True)
            return Needle(go_string(items[0]))

        def line_filter(self, items: list) -> LineFilter:
            op, *needles = (x for x in items if not (isinstance(x, Token) and x.type == "OR"))
            found = LineFilter(str(op), tuple(needles))
            for needle in found.needles:
                if found.op in ("|~", "!~") and not needle.ip:
                    regex(needle.text)
                if found.op in ("|>", "!>") and not needle.ip:
                    from logsvc.loki.parsers import line_pattern

                    line_pattern(needle.text)
            return found

        def json(self, items: list) -> Parser:
            from logsvc.loki.parsers import json_path

            extract = tuple(words(items[1:]))
            for _, path in extract:
                json_path(path)  # checked now
            return Parser("json", extract=extract)

        def logfmt(self, items: list) -> Parser:
            flags = tuple(sorted({str(x) for x in items[1:] if isinstance(x, Token)}))
            for flag in flags:
                if flag not in ("--strict", "--keep-empty"):
                    raise LogQLError(f"query: logfmt has no flag {flag} (--strict, --keep-empty)")
            extract = tuple(x for x in items[1:] if isinstance(x, tuple))
            return Parser("logfmt", extract=extract, flags=flags)

        def extraction(self, items: list) -> tuple[str, str]:
            label, _, path = items
            return str(label), go_string(path) if path is not None else str(label)

        def regexp(self, items: list) -> Parser:
            from logsvc.loki.parsers import named_groups

            expression = go_string(items[1])
            named_groups(expression)
            return Parser("regexp", expression)

        def pattern(self, items: list) -> Parser:
            from logsvc.loki.parsers import extraction_pattern

            expression = go_string(items[1])
            extraction_pattern(expression)
            return Parser("pattern", expression)

        def unpack(self, items: list) -> Parser:
            return Parser("unpack")

        def xml(self, items: list) -> Parser:
            raise LogQLError("query: the xml parser is not supported here (docs/LOKI.md)")

        def line_format(self, items: list) -> LineFormat:
            template = go_string(items[1])
            templates.compile_template(template)
            return LineFormat(template)

        def label_format(self, items: list) -> LabelFormat:
            assignments = tuple(items[1:])
            targets = [a[0] for a in assignments]
            if len(set(targets)) != len(targets):
                raise LogQLError("query: label_format: a label may be formatted only once")
            return LabelFormat(assignments)

        def assignment(self, items: list) -> tuple[str, str, bool]:
            label, _, source = items
            if source.type == "STRING":
                template = go_string(source)
                templates.compile_template(template)
                return str(label), template, True
            return str(label), str(source), False

        def named(self, items: list) -> NamedMatcher:
            label, *rest = words(items)
            if not rest:
                return NamedMatcher(str(label))
            return NamedMatcher(str(label), self.matcher([label, *rest]))

        def drop(self, items: list) -> Drop:
            return Drop(tuple(items[1:]))

        def keep(self, items: list) -> Keep:
            return Keep(tuple(items[1:]))

        def decolorize(self, items: list) -> Decolorize:
            return Decolorize()

        def label_filter(self, items: list) -> LabelFilter:
            return LabelFilter(items[0])

        def any_of(self, items: list) -> Any:
            parts = tuple(x for x in items if not isinstance(x, Token))
            return parts[0] if len(parts) == 1 else AnyOf(parts)

        def all_of(self, items: list) -> Any:
            parts = tuple(x for x in items if not isinstance(x, Token))
            return parts[0] if len(parts) == 1 else AllOf(parts)

        def compare_ip(self, items: list) -> Compare:
            label, op, _, text = items
            if str(op) not in ("=", "!=", "=="):
                raise LogQLError(f"query: ip() compares with = or != only, not {op}")
            return Compare(
                str(label), "!=" if str(op) == "!=" else "==", _ip_pattern(go_string(text)), "ip"
            )

        def compare(self, items: list) -> Compare:
            label, op, value = str(items[0]), str(items[1]), items[2]
            if isinstance(value, float):
                if op in ("=~", "!~"):
                    raise LogQLError(f"query: {op} takes a quoted regular expression")
                return Compare(label, "==" if op == "=" else op, value, "number")
            kind = value.type
            if kind == "STRING":
                if op not in ("=", "!=", "=~", "!~"):
                    raise LogQLError(f"query: {op} compares numbers, durations or bytes")
                text = go_string(value)
                if op in ("=~", "!~"):
                    regex(text)
                return Compare(label, op, text)
            if op in ("=~", "!~"):
                raise LogQLError(f"query: {op} takes a quoted regular expression")
            op = "==" if op == "=" else op
            if kind == "DURATION":
                return Compare(label, op, duration_ms(str(value)), "duration")
            return Compare(label, op, byte_count(str(value)), "bytes")

    functions = sorted(checks.RANGE_FUNCTIONS, key=len, reverse=True)
    grammar = GRAMMAR.replace("RANGE_FUNCTIONS", "|".join(functions))
    return Lark(grammar, parser="lalr", transformer=ToQuery(), maybe_placeholders=True)


def _log_range(query: LogQuery, window: Any, offset: int | None, unwrap: Unwrap | None) -> LogRange:
    text = str(window)[1:-1].strip()
    return LogRange(query, duration_ms(text), offset or 0, unwrap)


def _ip_pattern(text: str) -> str:
    from logsvc.loki.parsers import ip_matcher

    ip_matcher(text)  # checked now
    return text


def _matches_empty(matcher: Matcher) -> bool:
    return match_text(matcher.op, "", matcher.value)
