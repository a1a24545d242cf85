"""The LogQL grammar: what the subset takes, and what it refuses with a clear message."""

import pytest

from logsvc.loki.expressions import (
    AllOf,
    AnyOf,
    Binary,
    Compare,
    Drop,
    LabelFilter,
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
    RangeAggregation,
    Unwrap,
    VectorAggregation,
    VectorLiteral,
)
from logsvc.loki.literals import byte_count, duration_ms
from logsvc.loki.logql import LogQLError, parse


def line_filter(op, *texts):
    return LineFilter(op, tuple(Needle(t) for t in texts))


def test_a_selector_and_a_chain_of_line_filters():
    query = parse('{service_name="shop", level=~"error|warn"} |= "time" != "retry" |~ `db-\\d+`')
    assert query == LogQuery(
        (Matcher("service_name", "=", "shop"), Matcher("level", "=~", "error|warn")),
        (
            line_filter("|=", "time"),
            line_filter("!=", "retry"),
            line_filter("|~", "db-\\d+"),
        ),
    )


def test_parsers_label_filters_and_formatting():
    query = parse(
        '{a="b"} | json | status >= 500 and took > 1.5s, size <= 10KiB or method = "GET"'
        ' | line_format "{{.method}} {{ __line__ }}" | drop __error__, x'
    )
    assert query.stages == (
        Parser("json"),
        LabelFilter(
            AnyOf(
                (
                    AllOf(
                        (
                            Compare("status", ">=", 500.0, "number"),
                            Compare("took", ">", 1500, "duration"),
                            Compare("size", "<=", 10240.0, "bytes"),
                        )
                    ),
                    Compare("method", "=", "GET"),
                )
            )
        ),
        LineFormat("{{.method}} {{ __line__ }}"),
        Drop((NamedMatcher("__error__"), NamedMatcher("x"))),
    )


def test_labels_may_begin_like_keywords():
    query = parse('{a="b"} | json | json_field > 1 | by = "x" | logfmt')
    assert [type(s) for s in query.stages] == [Parser, LabelFilter, LabelFilter, Parser]


def test_metric_queries():
    assert parse("vector(1)+vector(1)") == Binary("+", VectorLiteral(1.0), VectorLiteral(1.0))
    grafana_volume = parse(
        'sum by (level, detected_level) (count_over_time({service_name="x"} | drop __error__ [1m]))'
    )
    assert grafana_volume == VectorAggregation(
        "sum",
        RangeAggregation(
            "count_over_time",
            LogRange(
                LogQuery(
                    (Matcher("service_name", "=", "x"),), (Drop((NamedMatcher("__error__"),)),)
                ),
                60_000,
            ),
        ),
        grafana_volume.grouping,
    )
    assert grafana_volume.grouping.labels == ("level", "detected_level")
    after = parse('sum(rate({a="b"}[5m])) without (level)')
    assert after.grouping.without and after.grouping.labels == ("level",)
    top = parse('topk(3, sum by (service_name) (bytes_over_time({a="b"}[1h30m])))')
    assert (top.op, top.parameter, top.inner.inner.range.range_ms) == ("topk", 3, 5_400_000)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("", "is required"),
        ('{a=""}', "at least one regexp or equality matcher"),
        ('{a!="b"}', "at least one regexp or equality matcher"),
        ('{a="b"', "the query ends too soon; expected `,` or `}`"),
        # What would have been taken there, in words.
        ('rate({a="b"})', "expected `!=`, `!>`, `!~`, `|=`, `|~`, `|>`, a range like [5m] or `|`"),
        ('sum by (level) (count_over_time({a="b"}[5m])', "ends too soon; expected `,` or `)`"),
        ('{a="b"} |= "x" )', "col 16 near ')'"),
        ('{a="b"} | json |', "expected one of `decolorize`, `drop`, `json`,"),
        ('{a="b"} | unwrap latency', "parse error"),
        ('quantile_over_time({a="b"} | unwrap x [1m])', "parameter required"),
        ('sum_over_time({a="b"}[1m])', "invalid aggregation sum_over_time without unwrap"),
        ('count_over_time({a="b"} | unwrap x [1m])', "count_over_time with unwrap"),
        ('count_over_time({a="b"}[1m]) by (x)', "grouping not allowed for count_over_time"),
        ('{a="b"} | pattern "<_>"', "at least one named capture"),
        ('{a="b"} | pattern "<a><b>"', "consecutive captures"),
        ('{a="b"} | regexp "(a)"', "at least one named capture"),
        ('{a="b"} | line_format "{{ .x | nosuch }}"', 'function "nosuch" not defined'),
        ('{a="b"} | line_format "{{ if .x }}"', "not closed"),
        ('{a="b"} | xml', "xml parser is not supported"),
        ('{a="b"} | logfmt --loose', "logfmt has no flag --loose"),
        ('{a="b"} |= ip("300.1.1.1")', "is not an address"),
        ('{a="b"} | x > ip("1.2.3.4")', "ip() compares with = or !="),
        ('{a=~"("}', "is not a valid regular expression"),
        ('{a="b"} | x > "text"', "compares numbers"),
        ('count_over_time({a="b"}[5 minutes])', "parse error"),
        ('topk(0, count_over_time({a="b"}[1m]))', "whole number"),
        ('topk(count_over_time({a="b"}[1m]))', "parameter required for operation topk"),
        ('sum(3, count_over_time({a="b"}[1m]))', "unsupported parameter for operation sum"),
        ('rate({a="b"}[1m]) + bool 1', "bool modifier can only be used on comparison"),
        ('rate({a="b"}[1m]) and 1', "set operator and is only allowed between vectors"),
        ('rate({a="b"}[1m]) or on(x) group_left rate({a="c"}[1m])', "no grouping allowed"),
        ('label_replace(rate({a="b"}[1m]), "x", "$1", "y", "(")', "not a valid regular"),
        ('{a="b"} + 1', "parse error"),
        ("x" * 10_001, "at most 10000 characters"),
    ],
)
def test_what_the_subset_refuses_names_the_part(query, says):
    with pytest.raises(LogQLError, match=None) as refused:
        parse(query)
    assert says in refused.value.message
    assert refused.value.field == "query"


def test_a_word_inside_a_string_is_not_refused():
    assert parse('{a="b"} |= "unwrap the offset"').stages == (
        line_filter("|=", "unwrap the offset"),
    )


def test_durations_and_sizes():
    assert duration_ms("1h30m") == 5_400_000
    assert duration_ms("250ms") == 250
    assert byte_count("10KB") == 10_000 and byte_count("1MiB") == 1_048_576
    with pytest.raises(LogQLError):
        duration_ms("5 m")


def test_line_filters_take_alternatives_joined_by_or():
    query = parse('{a="b"} |= "timeout" or "refused" !~ `db-\\d+` or "cache"')
    assert query.stages == (
        line_filter("|=", "timeout", "refused"),
        line_filter("!~", "db-\\d+", "cache"),
    )


def test_the_range_may_stand_before_the_pipeline():
    before = parse('count_over_time({a="b"}[5m] |= "e" | json)')
    after = parse('count_over_time({a="b"} |= "e" | json [5m])')
    assert before == after


def test_keywords_are_read_in_any_case_and_comments_are_ignored():
    upper = parse('SUM BY (level) (COUNT_OVER_TIME({a="b"} | JSON [1m])) # per level')
    lower = parse('sum by (level) (count_over_time({a="b"} | json [1m]))')
    assert upper == lower


def test_strings_are_go_strings():
    query = parse('{a="\\x41\\u00e9"} |= "tab\\there"')
    assert query.matchers == (Matcher("a", "=", "Aé"),)
    assert query.stages == (line_filter("|=", "tab\there"),)


def test_labels_named_like_unsupported_words_parse():
    query = parse('{ip="10.0.0.1", sort="asc"} | json | on="x" and bool="true"')
    assert [m.label for m in query.matchers] == ["ip", "sort"]


def test_unwrap_offset_and_the_range_aggregation_family():
    query = parse(
        'quantile_over_time(0.99, {a="b"} | json | unwrap duration(took) | __error__="" '
        "[5m] offset 1h) by (path)"
    )
    assert query.function == "quantile_over_time" and query.parameter == 0.99
    assert query.range == LogRange(
        LogQuery((Matcher("a", "=", "b"),), (Parser("json"),)),
        300_000,
        3_600_000,
        Unwrap("took", "duration", (LabelFilter(Compare("__error__", "=", "")),)),
    )
    assert query.grouping.labels == ("path",)
    # The unwrap may also stand before the range, and the range before the pipeline.
    after = parse('sum_over_time({a="b"}[5m] | logfmt | unwrap bytes(size))')
    before = parse('sum_over_time({a="b"} | logfmt | unwrap bytes(size) [5m])')
    assert after == before


def test_binary_operators_bind_as_loki_binds_them():
    query = parse('rate({a="b"}[1m]) + rate({a="c"}[1m]) * 2 ^ 3 ^ 2 > bool 1 or vector(0)')
    assert query.op == "or"
    compare = query.left
    assert (compare.op, compare.matching.return_bool) == (">", True)
    assert compare.left.op == "+" and compare.left.right.op == "*"
    power = compare.left.right.right
    assert power == Number(2**9)  # numbers fold, and ^ binds right to left
    matched = parse(
        'sum by (x, y) (rate({a="b"}[1m])) / ignoring(y) group_left(z) sum by (x, z) '
        '(rate({a="c"}[1m]))'
    )
    assert matched.matching == Matching(False, False, ("y",), "many_to_one", ("z",))
    assert parse("1 + 2 * 3") == Number(7)
    assert parse("-1 + vector(1)") == Binary("+", Number(-1), VectorLiteral(1))


def test_pipeline_stages_beyond_filters():
    query = parse(
        '{a="b"} |> "<_> error <_>" != ip("10.0.0.0/8") | regexp `(?P<verb>\\w+)` '
        '| pattern "<ip> <_>" | logfmt --strict x, y="z" | json a="b.c[0]" | unpack '
        '| label_format n=verb, m="{{.ip}}" | keep n, m=~"1.*" | decolorize'
    )
    kinds = [type(stage).__name__ for stage in query.stages]
    assert kinds == [
        "LineFilter", "LineFilter", "Parser", "Parser", "Parser", "Parser", "Parser",
        "LabelFormat", "Keep", "Decolorize",
    ]  # fmt: skip
    assert query.stages[1] == LineFilter("!=", (Needle("10.0.0.0/8", ip=True),))
    assert query.stages[4] == Parser(
        "logfmt", extract=(("x", "x"), ("y", "z")), flags=("--strict",)
    )
