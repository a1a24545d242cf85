"""LogQL from a hostile reader: regular expressions are RE2's (Loki's syntax, linear time),
so no pattern stalls a route, a tail or ingest; and a key's services narrow the SQL before
any text does, so a text's presence in another tenant's logs cannot be timed."""

import json
import time

import pytest

from logsvc.entries import LogEntry
from logsvc.live_tail.subscriptions import Subscription

NS = 1_000_000
# Each of these backtracks for seconds (or for ever) in a backtracking engine on a line of
# a few dozen characters; RE2 answers in microseconds.
CATASTROPHIC_LINE = '{service_name="s"} |~ "(a+)+$"'
CATASTROPHIC_LABEL = '{service_name=~"(.*.*)*x"}'
ROUTES = (
    "query_range",
    "series",
    "label/service_name/values",
    "index/volume",
    "index/stats",
    "detected_labels",
    "detected_fields",
    "patterns",
)


@pytest.fixture
def lines(api):
    now = int(time.time() * 1000)
    logs = [
        {"service_name": "s", "level": "INFO", "message": "a" * 28 + "!", "timestamp": now - 1000},
        {"service_name": "s", "level": "INFO", "message": "Grüße 42", "timestamp": now - 2000},
        {"service_name": "payments-gateway", "level": "INFO", "message": "ok", "timestamp": now},
    ]
    assert api.post("/api/v1/logs/ingest/batch", {"logs": logs}).status == 201
    return api, now


def loki(api, route: str, query: str, now: int, key: str = "default"):
    params = {"query": query, "start": str((now - 3_600_000) * NS), "end": str((now + 1) * NS)}
    if route == "series":
        params = {"match[]": query, "start": params["start"], "end": params["end"]}
    return api.call("GET", f"/loki/api/v1/{route}", query=params, key=key)


def found_lines(answer) -> list[str]:
    assert answer.status == 200, answer.body
    return [line for s in answer.body["data"]["result"] for _, line in s["values"]]


def test_a_catastrophic_line_regex_answers_at_once(lines):
    api, now = lines
    started = time.monotonic()
    assert found_lines(loki(api, "query_range", CATASTROPHIC_LINE, now)) == []
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("route", ROUTES)
def test_a_catastrophic_label_regex_answers_at_once_on_every_route(lines, route):
    api, now = lines
    started = time.monotonic()
    answer = loki(api, route, CATASTROPHIC_LABEL, now)
    assert answer.status in (200, 400), answer.body
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('{service_name="s"} |~ "^[[:alpha:]]+$"', []),  # POSIX classes match letters
        ('{service_name="s"} |~ "[[:alpha:]]{28}"', ["a" * 28 + "!"]),
        ('{service_name="s"} |~ "^\\\\pL+ \\\\d+$"', ["Grüße 42"]),  # Unicode classes
        ('{service_name="s"} |~ "GR(?i)üße"', []),  # flags apply from where they stand
        ('{service_name="s"} |~ "G(?i)RÜSSE|g(?i)rüße"', ["Grüße 42"]),
        ('{service_name="s"} |~ "!\\\\z"', ["a" * 28 + "!"]),  # end of text
    ],
)
def test_regular_expressions_mean_what_re2_says(lines, query, expected):
    api, now = lines
    assert found_lines(loki(api, "query_range", query, now)) == expected


@pytest.mark.parametrize("pattern", ["a(?=b)", "(a)\\\\1", "(?<!a)b", "("])
def test_what_re2_refuses_is_a_400_naming_the_query(lines, pattern):
    api, now = lines
    answer = loki(api, "query_range", f'{{service_name="s"}} |~ "{pattern}"', now)
    assert answer.status == 400
    assert "is not a valid regular expression" in answer.body["message"]


def test_a_catastrophic_tail_costs_ingest_nothing():
    """What the publisher runs for each new entry on the ingest (or writer) path."""
    subscription = Subscription(loki_query='{service_name="s"} |~ "(.*.*)*x"')
    entries = [
        LogEntry(f"id-{i}", "s", "INFO", "a" * 16, 1_790_000_000_000, {}) for i in range(200)
    ]
    started = time.monotonic()
    assert subscription.messages(entries) == []
    assert time.monotonic() - started < 1


def test_a_restricted_key_narrows_by_its_services_before_any_text(api_d1, d1):
    now = int(time.time() * 1000)
    logs = [
        {"service_name": "mine", "level": "INFO", "message": "hello", "timestamp": now},
        {"service_name": "theirs", "level": "INFO", "message": "salary=98000", "timestamp": now},
    ]
    assert api_d1.post("/api/v1/logs/ingest/batch", {"logs": logs}).status == 201
    key = api_d1.post(
        "/api/v1/admin/keys", {"name": "mine-only", "scopes": ["read"], "services": ["mine"]}
    ).body["key"]
    before = len(d1.requests)
    answer = loki(api_d1, "query_range", '{service_name=~".+"} |= "salary=98000"', now, key)
    assert found_lines(answer) == []
    searches = [
        r for r in d1.requests[before:] for s in r.get("batch", [r]) if "log_blocks" in s["sql"]
    ]
    assert searches, "the query read the index"
    for request in searches:
        for statement in request.get("batch", [request]):
            if "log_blocks" in statement["sql"]:
                assert json.dumps(["mine"]) in statement["params"], statement


def instant(api, query: str):
    return api.get("/loki/api/v1/query", query=query)


def test_an_infinite_sample_is_written_as_prometheus_writes_it(api):
    answer = instant(api, "vector(1e308) * 10")
    assert answer.status == 200, answer.body
    assert [s["value"][1] for s in answer.body["data"]["result"]] == ["+Inf"]


def test_a_query_chained_past_the_recursion_limit_is_a_400(api):
    numbers = instant(api, "+".join(["1"] * 5000))  # numbers fold as they are read
    assert numbers.status == 200 and numbers.body["data"]["result"][0]["value"][1] == "5000"
    answer = instant(api, "sum(" * 1900 + "vector(1)" + ")" * 1900)
    assert answer.status == 400
    assert "too deeply" in answer.body["message"]


def test_times_out_of_lokis_range_are_400s_or_clamped(lines):
    api, _ = lines
    query = '{service_name="s"}'
    too_late = api.get("/loki/api/v1/query_range", query=query, end="1" + "0" * 30)
    assert too_late.status == 400 and too_late.body["message"].startswith("end: ")
    forever = api.get("/loki/api/v1/query_range", query=query, since="1000000y")
    assert len(found_lines(forever)) == 2  # since before 1970: everything


def test_a_stored_line_nested_past_what_json_unpacks_is_flagged_not_a_500(api):
    nested = '{"a": ' + "[" * 990 + "]" * 990 + "}"
    body = {"service_name": "deep", "level": "INFO", "message": nested}
    assert api.post("/api/v1/logs/ingest", body).status == 201
    answer = api.get("/loki/api/v1/query_range", query='{service_name="deep"} | json')
    assert answer.status == 200, answer.body
    assert len(answer.body["data"]["result"]) == 1


def test_a_long_unicode_contains_filter_is_searched_not_a_500(api):
    body = {"service_name": "u", "level": "INFO", "message": "m", "metadata": {"user": "Ж" * 60}}
    assert api.post("/api/v1/logs/ingest", body).status == 201
    answer = api.get("/api/v1/logs/search", filter="metadata.user~=" + "ж" * 49)
    assert answer.status == 200, answer.body
    assert [e["metadata"]["user"] for e in answer.body["logs"]] == ["Ж" * 60]


def test_one_deadline_stops_native_and_loki_searches_with_a_504(api, monkeypatch):
    from logsvc import components

    now = int(time.time() * 1000)
    logs = [{"service_name": "d", "level": "INFO", "message": "m", "timestamp": now}]
    assert api.post("/api/v1/logs/ingest/batch", {"logs": logs}).status == 201
    monkeypatch.setenv("SEARCH_TIMEOUT_MS", "1000")
    monkeypatch.setenv("LOKI_QUERY_TIMEOUT_MS", "1000")
    components.reset()

    class SlowClock:
        """Each look at the deadline's clock finds a minute gone: every search outlives
        its budget at its first check (a controlled clock, not a slow database)."""

        now = 0.0

        @classmethod
        def monotonic(cls) -> float:
            cls.now += 60
            return cls.now

    monkeypatch.setattr("logsvc.deadline.time", SlowClock)
    native = api.get("/api/v1/logs/search", service="d")
    assert native.status == 504
    assert "narrow the time range" in native.body["error"]
    assert api.get("/api/v1/logs/patterns/d").status == 504
    loki = api.get("/loki/api/v1/query_range", query='{service_name="d"}')
    assert loki.status == 504 and "timed out" in loki.body["message"]
    counted = api.get("/loki/api/v1/query", query='count_over_time({service_name="d"}[1h])')
    assert counted.status == 504
