"""LogQL, parsed as Loki parses it (its grammar, pkg/logql/syntax/syntax.y, read as the
reference) with a Lark LALR grammar into the dataclasses of logsvc.loki.expressions
(logsvc.loki.query_tree turns the tree into them).

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

from functools import cache, lru_cache
from typing import Any

from logsvc.loki import checks
from logsvc.loki.expressions import Query
from logsvc.loki.matching import LogQLError
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
    from lark import Lark

    from logsvc.loki.query_tree import ToQuery  # imports lark: on first use only

    functions = sorted(checks.RANGE_FUNCTIONS, key=len, reverse=True)
    grammar = GRAMMAR.replace("RANGE_FUNCTIONS", "|".join(functions))
    return Lark(grammar, parser="lalr", transformer=ToQuery(), maybe_placeholders=True)
