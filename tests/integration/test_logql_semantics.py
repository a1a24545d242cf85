"""What LogQL's constructs compute, checked on known lines against Loki's documented
behaviour (and, for the vector rules, Prometheus's, which Loki follows): unwrap and the
range functions, offset, comparisons with and without bool, vector matching, set
operators, label_replace, the parsers, templates, label stages and line filters."""

from __future__ import annotations

import json
import time

import pytest

NS = 1_000_000
MINUTE = 60_000


@pytest.fixture
def shop(api):
    """Six lines a minute apart, the newest a minute before ``end``; structured metadata
    on each (region, attempt)."""
    end = (int(time.time() * 1000) // MINUTE) * MINUTE
    lines = [
        (
            "ERROR",
            {"status": 503, "latency": "1.5s", "size": "2KB", "path": "/a", "ip": "10.0.0.7"},
        ),
        (
            "ERROR",
            {"status": 500, "latency": "500ms", "size": "1KB", "path": "/b", "ip": "10.0.0.8"},
        ),
        (
            "WARN",
            {"status": 404, "latency": "250ms", "size": "512B", "path": "/a", "ip": "8.8.8.8"},
        ),
        (
            "INFO",
            {"status": 200, "latency": "100ms", "size": "1KB", "path": "/b", "ip": "10.9.9.9"},
        ),
        ("INFO", {"status": 200, "latency": "50ms", "size": "2KB", "path": "/a", "ip": "1.1.1.1"}),
        ("INFO", {"status": "abc", "latency": "x", "size": "?", "path": "/c", "ip": "nope"}),
    ]
    logs = [
        {
            "service_name": "shop",
            "level": level,
            "message": json.dumps(fields),
            "timestamp": end - MINUTE * (i + 1),
            "metadata": {"region": "eu" if i % 2 else "us", "attempt": i},
        }
        for i, (level, fields) in enumerate(lines)
    ]
    assert api.post("/api/v1/logs/ingest/batch", {"logs": logs}).status == 201
    return api, end


def instant(shop, query: str) -> dict[tuple, float]:
    api, end = shop
    answer = api.get("/loki/api/v1/query", query=query, time=str(end * NS))
    assert answer.status == 200, answer.body
    return {
        tuple(sorted(s["metric"].items())): float(s["value"][1])
        for s in answer.body["data"]["result"]
    }


def log_lines(shop, query: str) -> list[tuple[dict, str]]:
    api, end = shop
    answer = api.get(
        "/loki/api/v1/query_range",
        query=query,
        start=str((end - 10 * MINUTE) * NS),
        end=str(end * NS),
        limit="100",
    )
    assert answer.status == 200, answer.body
    return [
        (stream["stream"], line)
        for stream in answer.body["data"]["result"]
        for _, line in stream["values"]
    ]


def one(values: dict[tuple, float]) -> float:
    (value,) = values.values()
    return value


S = '{service_name="shop"} | json'


def test_unwrap_feeds_the_range_functions(shop):
    over = f'{S} | unwrap status | __error__="" [10m]'
    assert one(instant(shop, f"sum(sum_over_time({over}))")) == 503 + 500 + 404 + 200 + 200
    assert one(instant(shop, f"max(max_over_time({over}))")) == 503
    assert one(instant(shop, f"min(min_over_time({over}))")) == 200
    assert instant(shop, f"quantile_over_time(0.5, {over}) by ()") == {(): 404.0}
    assert instant(shop, f"avg_over_time({over}) by ()") == {(): pytest.approx(361.4)}
    # first and last are by time: the oldest readable line is the 200 of /a, the newest 503
    assert instant(shop, f"first_over_time({over}) by ()") == {(): 200.0}
    assert instant(shop, f"last_over_time({over}) by ()") == {(): 503.0}
    stddev = instant(shop, f"stddev_over_time({over}) by ()")[()]
    assert stddev == pytest.approx(136.51, abs=0.01)  # population, as Prometheus
    # durations unwrap to seconds, sizes to bytes
    seconds = f'{S} | unwrap duration(latency) | __error__="" [10m]'
    assert instant(shop, f"sum(sum_over_time({seconds}))") == {(): pytest.approx(2.4)}
    sizes = f'{S} | unwrap bytes(size) | __error__="" [10m]'
    assert instant(shop, f"sum(sum_over_time({sizes}))") == {(): 6512.0}


def test_an_unwrap_that_fails_is_a_pipeline_error_unless_filtered(shop):
    api, end = shop
    answer = api.get(
        "/loki/api/v1/query",
        query=f"sum(sum_over_time({S} | unwrap status [10m]))",
        time=str(end * NS),
    )
    assert answer.status == 400
    assert "pipeline error: 'SampleExtractionErr'" in answer.body["message"]
    # the unwrapped label leaves the series; the others stay
    series = instant(shop, f'max_over_time({S} | unwrap status | __error__="" [10m])')
    assert series and all("status" not in dict(k) and "path" in dict(k) for k in series)


def test_offset_moves_the_window_back(shop):
    now = one(instant(shop, 'sum(count_over_time({service_name="shop"}[2m]))'))
    before = one(instant(shop, 'sum(count_over_time({service_name="shop"}[2m] offset 2m))'))
    # windows are (step - range, step]: the newest line is a minute old, the next two
    assert (now, before) == (1, 2)
    assert instant(shop, 'sum(count_over_time({service_name="shop"}[2m] offset 1h))') == {}


def test_comparisons_filter_or_answer_bool(shop):
    per_level = 'sum by (level) (count_over_time({service_name="shop"}[10m]))'
    assert instant(shop, f"{per_level} > 2") == {(("level", "info"),): 3.0}
    assert instant(shop, f"{per_level} > bool 2") == {
        (("level", "error"),): 0.0,
        (("level", "info"),): 1.0,
        (("level", "warn"),): 0.0,
    }
    assert one(instant(shop, "vector(3) % 2 + 2 ^ 3")) == 9.0


def test_vector_matching_on_ignoring_and_group_left(shop):
    by_level = 'sum by (level) (count_over_time({service_name="shop"}[10m]))'
    share = instant(shop, f"{by_level} / on(level) {by_level}")
    assert set(share.values()) == {1.0}
    assert {dict(k)["level"] for k in share} == {"error", "warn", "info"}
    # many (level, path) to one (level): the many side keeps its labels
    per_path = f"sum by (level, path) (count_over_time({S} [10m]))"
    ratios = instant(shop, f"{per_path} / on(level) group_left {by_level}")
    assert ratios[(("level", "info"), ("path", "/a"))] == pytest.approx(1 / 3)
    # one to many, with a label copied from the one side
    copied = instant(
        shop,
        f'label_replace({by_level}, "team", "core", "", "") * on(level) group_right(team) '
        f"{per_path}",
    )
    assert all(dict(k)["team"] == "core" for k in copied)
    assert (("level", "error"), ("path", "/a"), ("team", "core")) in copied


def test_set_operators(shop):
    errors = 'sum by (level) (count_over_time({service_name="shop", level="error"}[10m]))'
    every = 'sum by (level) (count_over_time({service_name="shop"}[10m]))'
    assert set(instant(shop, f"{every} and {errors}")) == {(("level", "error"),)}
    assert {dict(k)["level"] for k in instant(shop, f"{every} unless {errors}")} == {"warn", "info"}
    assert instant(shop, f"{errors} or vector(0)") == {(("level", "error"),): 2.0, (): 0.0}


def test_label_replace_and_the_ranking_aggregations(shop):
    every = 'sum by (level) (count_over_time({service_name="shop"}[10m]))'
    renamed = instant(shop, f'label_replace({every}, "short", "$1", "level", "(.).*")')
    assert {dict(k)["short"] for k in renamed} == {"e", "w", "i"}
    assert set(instant(shop, f"topk(1, {every})")) == {(("level", "info"),)}
    assert set(instant(shop, f"bottomk(1, {every})")) == {(("level", "warn"),)}
    api, end = shop
    answer = api.get("/loki/api/v1/query", query=f"sort_desc({every})", time=str(end * NS))
    order = [s["metric"]["level"] for s in answer.body["data"]["result"]]
    assert order == ["info", "error", "warn"]
    assert instant(shop, f"stdvar({every})") == {(): pytest.approx(2 / 3)}


def test_absent_over_time_answers_where_nothing_was_logged(shop):
    assert instant(shop, 'absent_over_time({service_name="shop", level="debug"}[10m])') == {
        (("level", "debug"), ("service_name", "shop")): 1.0
    }
    assert instant(shop, 'absent_over_time({service_name="shop"}[10m])') == {}


def test_json_flags_a_line_that_is_no_json_and_reads_paths(api):
    now = int(time.time() * 1000)
    body = {
        "logs": [
            {"service_name": "p", "level": "INFO", "message": "plain text", "timestamp": now - 2},
            {
                "service_name": "p",
                "level": "INFO",
                "message": json.dumps({"a": {"b": [10, 20]}, "c d": 1}),
                "timestamp": now - 1,
            },
        ]
    }
    assert api.post("/api/v1/logs/ingest/batch", body).status == 201
    shop = (api, now)
    found = dict((line, stream) for stream, line in log_lines(shop, '{service_name="p"} | json'))
    assert found["plain text"]["__error__"] == "JSONParserErr"
    assert found['{"a": {"b": [10, 20]}, "c d": 1}']["c_d"] == "1"
    paths = log_lines(shop, '{service_name="p"} | json x="a.b[1]", y="[\\"c d\\"]" | x != ""')
    assert [(s["x"], s["y"]) for s, _ in paths] == [("20", "1")]


def test_logfmt_regexp_pattern_and_unpack(api):
    now = int(time.time() * 1000)
    messages = [
        'level=warn msg="not found" empty= path=/a',
        "GET /api/orders 500",
        json.dumps({"_entry": "the packed line", "pod": "p-1"}),
        'broken="unterminated',
    ]
    body = {
        "logs": [
            {"service_name": "q", "level": "INFO", "message": m, "timestamp": now - i}
            for i, m in enumerate(messages)
        ]
    }
    assert api.post("/api/v1/logs/ingest/batch", body).status == 201
    shop = (api, now + 1)
    logfmt = dict(log_lines(shop, '{service_name="q"} |= "level=warn" | logfmt')[0][0])
    assert (logfmt["msg"], "empty" in logfmt) == ("not found", False)
    kept = dict(log_lines(shop, '{service_name="q"} |= "level=warn" | logfmt --keep-empty')[0][0])
    assert kept["empty"] == ""
    strict = log_lines(shop, '{service_name="q"} |= "broken" | logfmt --strict')
    assert strict[0][0]["__error__"] == "LogfmtParserErr"
    regexp = log_lines(
        shop, '{service_name="q"} | regexp "(?P<verb>[A-Z]+) (?P<path>\\\\S+)" | verb="GET"'
    )
    assert [(s["verb"], s["path"]) for s, _ in regexp] == [("GET", "/api/orders")]
    pattern = log_lines(shop, '{service_name="q"} | pattern "<verb> <_> <status>" | status="500"')
    assert [s["verb"] for s, _ in pattern] == ["GET"]
    unpacked = log_lines(shop, '{service_name="q"} |= "_entry" | unpack')
    assert [(s["pod"], line) for s, line in unpacked] == [("p-1", "the packed line")]


def test_templates_label_stages_and_line_filters(shop):
    template = (
        '{{ .path | ToUpper }}={{ if eq .status "503" }}down'
        '{{ else }}{{ .status | printf "%s!" }}{{ end }}'
    )
    formatted = log_lines(shop, f'{S} | status >= 500 | __error__="" | line_format `{template}`')
    assert sorted(line for _, line in formatted) == ["/A=down", "/B=500!"]
    renamed = log_lines(shop, f'{S} | path="/b" | label_format where=path, code="{{{{.status}}}}x"')
    assert {(s["where"], s["code"], "path" in s) for s, _ in renamed} == {
        ("/b", "500x", False),
        ("/b", "200x", False),
    }
    kept = log_lines(shop, f'{S} | keep level, status=~"5.."')
    assert {tuple(sorted(s)) for s, _ in kept} >= {("level", "status")}
    dropped = log_lines(shop, f'{S} | drop ip, status="503"')
    assert all("ip" not in s for s, _ in dropped)
    assert any("status" not in s for s, _ in dropped) and any("status" in s for s, _ in dropped)
    in_network = log_lines(shop, '{service_name="shop"} |= ip("10.0.0.0/8")')
    assert len(in_network) == 3
    label_ip = log_lines(shop, f'{S} | ip = ip("10.0.0.0/24")')
    assert len(label_ip) == 2
    patterned = log_lines(shop, '{service_name="shop"} |> "<_>\\"path\\": \\"/c\\"<_>"')
    assert len(patterned) == 1
    # structured metadata filters without a parser
    assert len(log_lines(shop, '{service_name="shop"} | region="eu"')) == 3


def test_decolorize_and_variants(api):
    now = int(time.time() * 1000)
    body = {
        "logs": [
            {
                "service_name": "c",
                "level": "ERROR",
                "message": "\x1b[31mERROR\x1b[0m disk",
                "timestamp": now - 1,
            }
        ]
    }
    assert api.post("/api/v1/logs/ingest/batch", body).status == 201
    shop = (api, now + 1)
    assert [line for _, line in log_lines(shop, '{service_name="c"} | decolorize')] == [
        "ERROR disk"
    ]
    series = instant(
        shop,
        'variants(count_over_time({service_name="c"}[1m]), '
        'bytes_over_time({service_name="c"}[1m])) of ({service_name="c"}[1m])',
    )
    assert {dict(k)["__variant__"]: v for k, v in series.items()} == {"0": 1.0, "1": 19.0}


def test_an_unwrap_read_in_sql_answers_as_the_line_pipeline(api_any_db):
    """`| json | unwrap x` by stream labels, and `| unwrap x` over structured metadata,
    read the values in SQL; a stage that needs the line pipeline (`| drop zz`) gives the
    same answer the slow way: a field of the line before structured metadata, a line that
    is no JSON falling back on structured metadata, errors kept or skipped alike."""
    api = api_any_db  # SQLite, the D1 stand-in and D1 in workerd
    now = int(time.time() * 1000)
    lines = [
        ("ERROR", {"took_ms": 120}, {"attempt": 0}),
        ("ERROR", {"took_ms": "80"}, {"took_ms": 1}),
        ("INFO", {"took": {"ms": 10}}, {}),
        ("INFO", {"other": 1}, {"took_ms": 7}),
        ("INFO", {"other": 2}, {"took_ms": [1, 2]}),
        ("INFO", {"took_ms": {"nested": 1}}, {}),
        ("WARN", {"took_ms": 5.5}, {"structured_metadata": {"attempt": 50}}),
        ("WARN", {"took_ms": True}, {}),
        ("WARN", {"took_ms": "slow"}, {"took_ms": "slow"}),
    ]
    logs = [
        {
            "service_name": "u",
            "level": level,
            "message": json.dumps(fields),
            "timestamp": now - 1000 * (i + 1),
            "metadata": {"attempt": i, **metadata},
        }
        for i, (level, fields, metadata) in enumerate(lines)
    ]
    logs.append(
        {
            "service_name": "u",
            "level": "INFO",
            "message": "not json",
            "timestamp": now - 9000,
            "metadata": {"took_ms": 3},
        }
    )
    assert api.post("/api/v1/logs/ingest/batch", {"logs": logs}).status == 201
    shop = (api, now)
    for skip in ('| __error__=""', ""):
        fast = f'{{service_name="u"}} | json | unwrap took_ms {skip} [1m]'
        slow = f'{{service_name="u"}} | json | drop zz | unwrap took_ms {skip} [1m]'
        for query in (
            "max_over_time({}) by (level)",
            "sum by (level) (sum_over_time({}))",
            "rate({}) by (level)",
        ):
            if skip:
                assert instant(shop, query.format(fast)) == instant(shop, query.format(slow))
                continue
            # a line that is no JSON, or a value that is no number: Loki's pipeline error,
            # whatever the grouping
            for path in (fast, slow):
                answer = api.get("/loki/api/v1/query", query=query.format(path), time=str(now * NS))
                assert answer.status == 400 and "pipeline error" in answer.body["message"]
    for fast, slow in [
        (
            'max_over_time({service_name="u"} | unwrap attempt [1m]) by (level)',
            'max_over_time({service_name="u"} | drop zz | unwrap attempt [1m]) by (level)',
        ),
        (
            'sum(sum_over_time({service_name="u"} | unwrap attempt [1m]))',
            'sum(sum_over_time({service_name="u"} | drop zz | unwrap attempt [1m]))',
        ),
    ]:
        assert instant(shop, fast) == instant(shop, slow), fast
    skipping = '{service_name="u"} | json | unwrap took_ms | __error__="" [1m]'
    # the line's field first (120, 80), then structured metadata (7 for a line without
    # the field), nested keys at their underscores (10); "slow" and true are no numbers
    assert instant(shop, f"sum by (level) (sum_over_time({skipping}))") == {
        (("level", "error"),): 200.0,
        (("level", "info"),): 17.0,
        (("level", "warn"),): 5.5,
    }
    # structured metadata an agent sent comes first, as the pipeline reads it
    assert instant(shop, 'max_over_time({service_name="u"} | unwrap attempt [1m]) by ()') == {
        (): 50.0
    }
    # without a grouping that drops it, an error is the query's, on both paths (the
    # metadata's took_ms "slow" is no number)
    for query in (
        'sum_over_time({service_name="u", level="warn"} | unwrap took_ms [1m])',
        'sum_over_time({service_name="u", level="warn"} | drop zz | unwrap took_ms [1m])',
    ):
        refused = api.get("/loki/api/v1/query", query=query, time=str(now * NS))
        assert refused.status == 400, query


def test_a_template_that_fails_on_a_line_keeps_it_marked(shop):
    """A function given too few arguments fails for each line: as in Loki, the line stays
    as it was, marked __error__="TemplateFormatErr"."""
    found = log_lines(shop, f'{S} | path="/c" | line_format "{{{{ trunc }}}}"')
    assert [(s["__error__"], json.loads(line)["path"]) for s, line in found] == [
        ("TemplateFormatErr", "/c")
    ]
