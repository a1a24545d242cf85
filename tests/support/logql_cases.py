"""The LogQL conformance corpus: queries written for this project, one group per construct
of Loki's grammar (pkg/logql/syntax/syntax.y; its parser tests were read as the reference
for what Loki accepts and refuses, and none is copied here).

``SEL`` stands for the test's own selector matchers (``service_name="conf-..."``). Each
case is (construct, query, expected): ``"log"`` (a streams answer), ``"metric"`` (a matrix
answer) or ``"refused: <text>"`` (a 400 whose message holds the text). Loki accepts every
``log``/``metric`` query here and refuses every ``refused`` one, except the ones in
UNSUPPORTED: valid LogQL this service refuses by name.
"""

from __future__ import annotations

import itertools

LOG, METRIC = "log", "metric"

CASES: list[tuple[str, str, str]] = []


def add(construct: str, expected: str, *queries: str) -> None:
    CASES.extend((construct, query, expected) for query in queries)


# -- stream selectors ----------------------------------------------------------------------
add(
    "selector",
    LOG,
    "{SEL}",
    "{ SEL }",
    '{SEL, level="error"}',
    '{SEL, level!="debug"}',
    '{SEL, level=~"error|warn"}',
    '{SEL, level!~"debug|trace"}',
    '{SEL, job="api", env="prod"}',
    '{SEL, job=~"a.*"}',
    '{SEL, env!="staging"}',
    '{SEL, detected_level="error"}',
    '{SEL, source_type=~".+"}',
    "({SEL})",
    "(({SEL}))",
    '{SEL, nothere=""}',
    '{SEL, level=~"(?i)ERROR"}',
    '{SEL, level=~"[[:alpha:]]+"}',
    '{SEL, level=~"\\\\pL+"}',
    "{SEL} # a comment",
    '{SEL, ip="10.0.0.1"}',
    '{SEL, sort="asc"}',
)
add(
    "selector",
    "refused: at least one regexp or equality matcher",
    '{level!="debug"}',
    '{x=~".*"}',
    '{x=""}',
    '{x!~"a|b"}',
    "{}",
)
add(
    "selector",
    "refused: parse error",
    "{SEL",
    '{SEL, level="error}',
    "SEL",
    '{SEL} "text"',
    "{SEL} word",
    '{SEL, 9x="a"}',
    '{SEL, level=="a"}',
)
add("selector", "refused: not a valid regular expression", '{SEL, level=~"("}', '{x=~"a(?=b)"}')

# -- line filters --------------------------------------------------------------------------
FILTERS = [
    '|= "error"',
    '!= "debug"',
    '|~ "err(or)?"',
    '!~ "^GET"',
    '|= "error" or "warn"',
    '!= "a" or "b"',
    '|~ "x" or "y"',
    '!~ "x" or "y"',
    '|> "<_> disk <_>"',
    '!> "<_>level=info<_>"',
    '|> "GET <_>" or "POST <_>"',
    '|= ip("10.0.0.0/8")',
    '!= ip("192.168.1.4")',
    '|= ip("10.0.0.1-10.0.0.9")',
    '|= ip("::1")',
    '|= ""',
    '|~ ""',
    '|= "#"',
    "|= `back\\slash`",
    '|= "tab\\tquote\\""',
    '|= "\\x41\\u00e9"',
    '|~ "(?i)ERROR"',
    '|~ "\\\\d{3}"',
    '|= "error" |= "disk" != "full"',
    '|= "a" |~ "b" != "c" !~ "d"',
]
add("line filter", LOG, *(f"{{SEL}} {f}" for f in FILTERS))
add(
    "line filter",
    "refused: not a valid regular expression",
    '{SEL} |~ "a(?=b)"',
    '{SEL} |~ "(a)\\\\1"',
    '{SEL} |~ "["',
)
add("line filter", "refused: is not an address", '{SEL} |= ip("300.1.1.1")', '{SEL} |= ip("x")')
add("line filter", "refused: parse error", "{SEL} |=", '{SEL} |= "a" or', "{SEL} |~ 5")
add("line filter", "refused: is not a valid string", '{SEL} |= "\\q"')

# -- parsers -------------------------------------------------------------------------------
PARSERS = [
    "| json",
    '| json status="status"',
    '| json code="status", p="path"',
    '| json uid="user.id"',
    '| json first="items[0]"',
    '| json h="headers[\\"x-id\\"]"',
    "| json status, path",
    "| logfmt",
    "| logfmt --strict",
    "| logfmt --keep-empty",
    "| logfmt --strict --keep-empty",
    "| logfmt status",
    '| logfmt code="status", m="method"',
    "| logfmt --strict msg",
    '| regexp "(?P<method>GET|POST) (?P<path>\\\\S+)"',
    "| regexp `(?P<verb>\\w+) (?P<rest>.*)`",
    '| pattern "<method> <path> <status> <_>"',
    '| pattern "<_> disk <what>"',
    "| unpack",
    "| json | logfmt",
    "| unpack | json",
    "| JSON",
    "| LogFmt",
]
add("parser", LOG, *(f"{{SEL}} {p}" for p in PARSERS))
add(
    "parser",
    "refused: at least one named capture",
    '{SEL} | regexp "(a)"',
    '{SEL} | pattern "<_> x"',
)
add("parser", "refused: consecutive captures", '{SEL} | pattern "<a><b>"')
add("parser", "refused: logfmt has no flag", "{SEL} | logfmt --loose")
add("parser", "refused: is not a JSON path", '{SEL} | json a="b..c"', '{SEL} | json a="[x]"')
add("parser", "refused: parse error", "{SEL} | json =", "{SEL} | regexp", "{SEL} | pattern")

# -- label filters -------------------------------------------------------------------------
LABEL_FILTERS = [
    '| level="error"',
    '| level!="info"',
    '| level=~"err.*"',
    '| level!~"debug|info"',
    "| status >= 500",
    "| status > 499",
    "| status < 500",
    "| status <= 404",
    "| status == 200",
    "| status = 200",
    "| status != 200",
    "| status > -1",
    "| status > 1e2",
    "| latency > 1s",
    "| latency >= 250ms",
    "| latency < 1m30s",
    "| latency == 2s",
    "| size > 1KB",
    "| size >= 1.5KiB",
    "| size < 10MB",
    '| ip = ip("10.0.0.0/8")',
    '| ip != ip("192.168.0.0/16")',
    '| status >= 500 and level="error"',
    '| status >= 500, level="error"',
    '| status >= 500 level="error"',
    "| status >= 500 or latency > 1s",
    '| (status >= 500 or latency > 1s) and path=~"/api.*"',
    "| status >= 500 or status < 300 and latency > 100ms",
    "| ((status >= 500))",
    '| __error__=""',
    '| __error__!="JSONParserErr"',
    '| region="eu"',
    '| trace_id=~".+"',
]
add("label filter", LOG, *(f"{{SEL}} | json {f}" for f in LABEL_FILTERS))
add("label filter", LOG, '{SEL} | region="eu"', "{SEL} | status >= 500", '{SEL} | on="x"')
add(
    "label filter",
    "refused: compares numbers",
    '{SEL} | status > "5"',
    '{SEL} | status <= "x"',
)
add("label filter", "refused: takes a quoted regular expression", "{SEL} | status =~ 5")
add("label filter", "refused: ip() compares with = or !=", '{SEL} | ip > ip("1.1.1.1")')
add(
    "label filter", "refused: parse error", "{SEL} | status >", "{SEL} | (status > 1", "{SEL} | and"
)

# -- formatting and label stages -----------------------------------------------------------
FORMATS = [
    '| line_format "{{.status}} {{.path}}"',
    '| line_format "{{ __line__ }}"',
    "| line_format `{{ .path | ToUpper }}`",
    '| line_format "{{ .path | lower | trunc 4 }}"',
    '| line_format `{{ if eq .status "503" }}bad{{ else if .status }}ok{{ else }}none{{ end }}`',
    "| line_format `{{ with .path }}path={{ . }}{{ end }}`",
    '| line_format "{{- .path -}} | {{ printf \\"%s!\\" .status }}"',
    '| line_format "{{ replace \\"/\\" \\"_\\" .path }}"',
    '| line_format "{{ regexReplaceAll \\"(\\\\\\\\d+)\\" .status \\"n$1\\" }}"',
    '| line_format "{{ add 1 2 }} {{ mulf 1.5 2 }} {{ div 7 2 }}"',
    '| line_format "{{ .path | b64enc | b64dec }}"',
    '| line_format "{{ __timestamp__ | date \\"2006-01-02\\" }}"',
    '| line_format "{{ default \\"none\\" .missing }}"',
    '| line_format "{{/* a comment */}}{{ len .path }}"',
    "| label_format p=path",
    '| label_format p=path, s="{{.status}}x"',
    '| label_format level="{{ .level | upper }}"',
    "| drop status",
    "| drop status, path",
    '| drop level="error"',
    '| drop status=~"5.."',
    "| drop __error__, __error_details__",
    "| keep status",
    '| keep status, level="error"',
    "| decolorize",
    "| decolorize | line_format `{{ __line__ }}`",
]
add("format", LOG, *(f"{{SEL}} | json {f}" for f in FORMATS))
add(
    "format",
    'refused: function "nosuch" not defined',
    '{SEL} | line_format "{{ nosuch .x }}"',
    '{SEL} | label_format a="{{ .x | nosuch }}"',
)
add("format", "refused: not closed", '{SEL} | line_format "{{ if .x }}yes"')
add("format", "refused: unexpected", '{SEL} | line_format "{{ end }}"')
add("format", "refused: may be formatted only once", "{SEL} | label_format a=b, a=c")
add("format", "refused: parse error", "{SEL} | line_format", "{SEL} | label_format", "{SEL} | drop")

# -- range aggregations --------------------------------------------------------------------
COUNTING = ["count_over_time", "rate", "bytes_over_time", "bytes_rate", "absent_over_time"]
UNWRAPPED = [
    "sum_over_time",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "first_over_time",
    "last_over_time",
    "rate",
    "rate_counter",
]
for function in COUNTING:
    add(
        "range aggregation",
        METRIC,
        f"{function}({{SEL}}[5m])",
        f'{function}({{SEL}} |= "error" [5m])',
        f'{function}({{SEL}}[5m] |= "error")',
        f"{function}(({{SEL}} | json)[5m])",
        f"{function}({{SEL}}[5m] offset 1m)",
    )
for function in UNWRAPPED:
    add(
        "unwrap",
        METRIC,
        f"{function}({{SEL}} | json | unwrap status [5m])",
        f'{function}({{SEL}} | json | unwrap duration(latency) | __error__="" [5m])',
    )
add(
    "unwrap",
    METRIC,
    "quantile_over_time(0.99, {SEL} | json | unwrap status [5m])",
    "quantile_over_time(.5, {SEL} | json | unwrap status [5m]) by (path)",
    "quantile_over_time(0.9, {SEL} | logfmt | unwrap duration_seconds(latency) [5m] offset 1m)",
    'sum_over_time({SEL} | json | unwrap bytes(size) | __error__="" [5m])',
    "sum_over_time({SEL} | logfmt | unwrap status | status > 100 [5m])",
    "max_over_time({SEL} | json | unwrap status [5m]) by (path)",
    "max_over_time({SEL} | json | unwrap status [5m]) without (path)",
    "avg_over_time({SEL}[5m] | json | unwrap status)",
    "avg_over_time(({SEL} | json | unwrap status)[5m])",
    "first_over_time({SEL} | json | unwrap status [5m]) by ()",
    "sum_over_time({SEL} | json | unwrap bytes [5m])",
    "rate({SEL} | json | unwrap status [1m]) by (level)",
    "count_over_time({SEL} | json | status >= 500 [5m])",
    'count_over_time({SEL} | json | __error__="" [5m])',
    "COUNT_OVER_TIME({SEL}[5m])",
    "count_over_time({SEL}[1h30m])",
    "count_over_time({SEL}[90s])",
    "count_over_time({SEL}[1d])",
    "count_over_time({SEL}[1w])",
)
add(
    "unwrap",
    "refused: parse error",
    "{SEL} | json | unwrap status",
    "sum_over_time({SEL} | unwrap 5 [5m])",
    "sum_over_time({SEL} | unwrap bytes(a, b) [5m])",
    "sum_over_time({SEL} | unwrap status | [5m])",
)
add(
    "range aggregation",
    "refused: without unwrap",
    "sum_over_time({SEL}[5m])",
    "max_over_time({SEL}[5m])",
)
add(
    "range aggregation",
    "refused: with unwrap",
    "count_over_time({SEL} | json | unwrap status [5m])",
)
add(
    "range aggregation",
    "refused: grouping not allowed",
    "count_over_time({SEL}[5m]) by (level)",
    "sum_over_time({SEL} | json | unwrap status [5m]) by (path)",
)
add(
    "range aggregation",
    "refused: parameter required",
    "quantile_over_time({SEL} | json | unwrap status [5m])",
)
add(
    "range aggregation",
    "refused: unsupported parameter",
    "sum_over_time(5, {SEL} | json | unwrap status [5m])",
)
add("range aggregation", "refused: not a valid duration", "count_over_time({SEL}[5minutes])")
add(
    "range aggregation",
    "refused: parse error",
    "count_over_time({SEL})",
    "count_over_time({SEL}[5m]",
    "rate([5m])",
    "count_over_time({SEL} | unwrap [5m])",
    "count_over_time({SEL}[5 m])",
)

# -- vector aggregations -------------------------------------------------------------------
INNER = "count_over_time({SEL}[5m])"
for op in ("sum", "avg", "min", "max", "count", "stddev", "stdvar"):
    add(
        "vector aggregation",
        METRIC,
        f"{op}({INNER})",
        f"{op} by (level) ({INNER})",
        f"{op}({INNER}) by (level, job)",
        f"{op} without (level) ({INNER})",
        f"{op}({INNER}) without ()",
    )
for op in ("topk", "bottomk"):
    add(
        "vector aggregation",
        METRIC,
        f"{op}(2, {INNER})",
        f"{op} by (level) (1, {INNER})",
        f"{op}(3, sum by (level) ({INNER}))",
        f"{op}(1, {INNER}) without (job)",
    )
add(
    "vector aggregation",
    METRIC,
    f"sort({INNER})",
    f"sort_desc(sum by (level) ({INNER}))",
    f"approx_topk(2, {INNER})",
    "sum(vector(1))",
    f"SUM BY (level) ({INNER})",
)
add("vector aggregation", "refused: parameter required", f"topk({INNER})", f"bottomk({INNER})")
add("vector aggregation", "refused: unsupported parameter", f"sum(2, {INNER})", f"avg(1, {INNER})")
add("vector aggregation", "refused: whole number", f"topk(0, {INNER})", f"topk(1.5, {INNER})")
add("vector aggregation", "refused: grouping not allowed", f"sort({INNER}) by (level)")
add(
    "vector aggregation",
    "refused: parse error",
    "sum({SEL})",
    "min({SEL}[5m])",
    f"sum by level ({INNER})",
)

# -- binary operators ----------------------------------------------------------------------
A = "sum by (level) (count_over_time({SEL}[5m]))"
B = "sum by (level) (rate({SEL}[5m]))"
TEAM = f'label_replace({B}, "team", "core", "", "")'
for op in ("+", "-", "*", "/", "%", "^", "==", "!=", ">", ">=", "<", "<="):
    add("binary", METRIC, f"{A} {op} {B}", f"{A} {op} 2")
for op in ("==", "!=", ">", ">=", "<", "<="):
    add("binary", METRIC, f"{A} {op} bool 1", f"{A} {op} bool {B}")
for op in ("and", "or", "unless"):
    add("binary", METRIC, f"{A} {op} {B}", f"{A} {op} on(level) {B}")
add(
    "binary",
    METRIC,
    f"{A} / on(level) {B}",
    f"{A} / ignoring(job) {B}",
    f"{A} * on(level) group_left {B}",
    f"sum by (level, job) (count_over_time({{SEL}}[5m])) / on(level) group_left {B}",
    f"sum by (level, job) (count_over_time({{SEL}}[5m])) / on(level) group_left(team) {TEAM}",
    f"{TEAM} * on(level) group_right(team) sum by (level, job) (count_over_time({{SEL}}[5m]))",
    f"{A} or vector(0)",
    "vector(1) + vector(1)",
    "1 + 2 * 3 ^ 2",
    "1 > bool 2",
    "1 == 1",
    "(1 + 2) / 4",
    "-1 + vector(2)",
    f"({A}) * 100",
    f"{A} / {A} / {A}",
    f"2 * {A}",
    f"{A} + ON(level) {B}",
)
add("binary", "refused: bool modifier", f"{A} + bool {B}")
add("binary", "refused: only allowed between vectors", f"{A} and 1", f"1 or {A}")
add("binary", "refused: no grouping allowed", f"{A} and on(level) group_left {B}")
add("binary", "refused: parse error", "{SEL} + 1", f"{A} +", "bool 1 > 1", f"{A} > {{SEL}}")

# -- label_replace, vector, variants -------------------------------------------------------
add(
    "label_replace",
    METRIC,
    f'label_replace({A}, "lvl", "$1", "level", "(.*)")',
    f'label_replace({A}, "short", "${{1}}", "level", "(e).*")',
    f'label_replace({A}, "extra", "", "level", ".*")',
    'label_replace(vector(0), "foo", "bar", "", "")',
)
add(
    "label_replace",
    "refused: not a valid regular expression",
    f'label_replace({A}, "a", "b", "c", "(")',
)
add(
    "label_replace",
    "refused: invalid destination label",
    f'label_replace({A}, "1a", "b", "c", "d")',
)
add("label_replace", "refused: parse error", f'label_replace({A}, "a")')
add("vector", METRIC, "vector(1)", "vector(0.5)", "vector(-1)", "VECTOR(2)")
add("vector", "refused: parse error", "vector(x)", "vector()")
add(
    "variants",
    METRIC,
    "variants(count_over_time({SEL}[5m]), bytes_over_time({SEL}[5m])) of ({SEL}[5m])",
    "variants(sum by (level) (count_over_time({SEL} | json [5m]))) of ({SEL} | json [5m])",
)

# -- metric queries across the constructs --------------------------------------------------
for stage, window in itertools.product(
    [
        '|= "error"',
        "| json",
        "| logfmt",
        "| json | status >= 500",
        "| decolorize",
        '| drop level="x"',
    ],
    ("1m", "10m"),
):
    add("metric pipeline", METRIC, f"sum by (level) (count_over_time({{SEL}} {stage} [{window}]))")

# Valid LogQL this service refuses by name.
UNSUPPORTED = {"{SEL} | xml": "xml parser is not supported"}
add("unsupported", "refused: xml parser is not supported", *UNSUPPORTED)
