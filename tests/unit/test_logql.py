"""The LogQL grammar: what the subset takes, and what it refuses with a clear message."""

import pytest

from logsvc.loki.logql import (
    AllOf,
    AnyOf,
    Binary,
    Compare,
    Drop,
    LabelFilter,
    LineFilter,
    LineFormat,
    LogQLError,
    LogQuery,
    Matcher,
    Parser,
    RangeAggregation,
    VectorAggregation,
    VectorLiteral,
    byte_count,
    duration_ms,
    parse,
)


def test_a_selector_and_a_chain_of_line_filters():
    query = parse('{service_name="shop", level=~"error|warn"} |= "time" != "retry" |~ `db-\\d+`')
    assert query == LogQuery(
        (Matcher("service_name", "=", "shop"), Matcher("level", "=~", "error|warn")),
        (LineFilter("|=", "time"), LineFilter("!=", "retry"), LineFilter("|~", "db-\\d+")),
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
                    AllOf((Compare("method", "=", "GET"),)),
                )
            )
        ),
        LineFormat("{{.method}} {{ __line__ }}"),
        Drop(("__error__", "x")),
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
            LogQuery((Matcher("service_name", "=", "x"),), (Drop(("__error__",)),)),
            60_000,
        ),
        grafana_volume.grouping,
    )
    assert grafana_volume.grouping.labels == ("level", "detected_level")
    after = parse('sum(rate({a="b"}[5m])) without (level)')
    assert after.grouping.without and after.grouping.labels == ("level",)
    top = parse('topk(3, sum by (service_name) (bytes_over_time({a="b"}[1h30m])))')
    assert (top.op, top.parameter, top.inner.inner.range_ms) == ("topk", 3, 5_400_000)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("", "is required"),
        ('{a=""}', "at least one matcher that does not match the empty value"),
        ('{a!="b"}', "at least one matcher that does not match the empty value"),
        ('{a="b"', "parse error at line 1"),
        ('{a="b"} | unwrap latency', "'unwrap' is not supported"),
        ('quantile_over_time(0.99, {a="b"} | unwrap x [1m])', "'quantile_over_time'"),
        ('{a="b"} | pattern "<ip> <_>"', "'pattern' is not supported"),
        ('{a="b"} | line_format "{{ .x | upper }}"', "line_format takes"),
        ('{a=~"("}', "is not a valid regular expression"),
        ('{a="b"} | x > "text"', "compares numbers"),
        ('count_over_time({a="b"}[5 minutes])', "parse error"),
        ('topk(0, count_over_time({a="b"}[1m]))', "whole number"),
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
        LineFilter("|=", "unwrap the offset"),
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
        LineFilter("|=", "timeout", ("refused",)),
        LineFilter("!~", "db-\\d+", ("cache",)),
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
    assert query.stages == (LineFilter("|=", "tab\there"),)


def test_labels_named_like_unsupported_words_parse():
    query = parse('{ip="10.0.0.1", sort="asc"} | json | on="x" and bool="true"')
    assert [m.label for m in query.matchers] == ["ip", "sort"]
