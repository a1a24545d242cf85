"""Where Loki's own behaviour is the contract (its query API and its line pipeline), in
the cases a client sees: an instant log query is refused, a label filter over a value
that is no number keeps the line marked with __error__, a missing label drops it."""

import time

NS = 1_000_000


def test_an_instant_log_query_is_refused_as_loki_refuses_it(api):
    answer = api.get("/loki/api/v1/query", query='{service_name="s"}')
    assert answer.status == 400
    assert answer.body["message"] == (
        "query: log queries are not supported as an instant query type, please change "
        "your query to a range query type"
    )


def ingest_lines(api, service: str, lines: list[str]) -> int:
    """The lines stored a millisecond apart, the first newest; the time of the first."""
    now = int(time.time() * 1000)
    body = {
        "logs": [
            {"service_name": service, "level": "INFO", "message": m, "timestamp": now - i}
            for i, m in enumerate(lines)
        ]
    }
    assert api.post("/api/v1/logs/ingest/batch", body).status == 201
    return now


def test_a_numeric_label_filter_keeps_a_line_whose_value_is_no_number_marked(api):
    lines = ["status=503 path=/a", "status=abc path=/b", "status=200 path=/c", "path=/d"]
    now = ingest_lines(api, "s", lines)

    def found(query: str) -> dict[str, str]:
        answer = api.get(
            "/loki/api/v1/query_range",
            query=query,
            start=str((now - 60_000) * NS),
            end=str((now + 1000) * NS),
        )
        assert answer.status == 200, answer.body
        result = answer.body["data"]["result"]
        return {v[1]: s["stream"].get("__error__", "") for s in result for v in s["values"]}

    assert found('{service_name="s"} | logfmt | status >= 500') == {
        "status=503 path=/a": "",
        "status=abc path=/b": "LabelFilterErr",
    }
    assert found('{service_name="s"} | logfmt | status >= 500 | __error__ = ""') == {
        "status=503 path=/a": ""
    }


def test_the_log_context_pair_grafana_sends_gets_the_right_neighbours(api):
    """Before a row: end is the row's time, exclusive; after it: start is the row's time,
    inclusive (Grafana drops the row itself)."""
    anchor = int(time.time() * 1000) - 10_000
    body = {
        "logs": [
            {"service_name": "ctx", "level": "INFO", "message": f"m{d}", "timestamp": anchor + d}
            for d in (-3, -2, -1, 0, 1, 2)
        ]
    }
    assert api.post("/api/v1/logs/ingest/batch", body).status == 201

    def context(direction: str, **range_ns: int) -> list[str]:
        answer = api.get(
            "/loki/api/v1/query_range",
            query='{service_name="ctx"}',
            limit="2",
            direction=direction,
            **{k: str(v) for k, v in range_ns.items()},
        )
        assert answer.status == 200, answer.body
        return [v[1] for s in answer.body["data"]["result"] for v in s["values"]]

    before = context("backward", start=(anchor - 7_200_000) * NS, end=anchor * NS)
    assert sorted(before) == ["m-1", "m-2"]
    after = context("forward", start=anchor * NS, end=(anchor + 7_200_000) * NS)
    assert sorted(after) == ["m0", "m1"]


def test_alternatives_and_a_range_before_the_pipeline_answer_as_loki(api):
    now = ingest_lines(api, "alt", ["db timeout", "conn refused", "all good", "timeout again"])
    window = {"start": str((now - 60_000) * NS), "end": str((now + 1000) * NS)}
    answer = api.get(
        "/loki/api/v1/query_range", query='{service_name="alt"} |= "timeout" or "refused"', **window
    )
    found = sorted(v[1] for s in answer.body["data"]["result"] for v in s["values"])
    assert found == ["conn refused", "db timeout", "timeout again"]
    counted = api.get(
        "/loki/api/v1/query",
        query='SUM(COUNT_OVER_TIME({service_name="alt"}[1m] != "good" or "again"))',
        time=str((now + 1000) * NS),
    )
    assert counted.status == 200, counted.body
    assert [s["value"][1] for s in counted.body["data"]["result"]] == ["2"]


def test_binary_operations_match_vectors_one_to_one_and_apply_numbers_to_all(api):
    ingest_lines(api, "bin", ["a", "b", "c"])
    api.post(
        "/api/v1/logs/ingest",
        {"service_name": "bin", "level": "ERROR", "message": "d"},
    )

    def vector(query: str) -> dict:
        answer = api.get("/loki/api/v1/query", query=query)
        assert answer.status == 200, answer.body
        return {s["metric"].get("level"): s["value"][1] for s in answer.body["data"]["result"]}

    per_level = 'sum by (level) (count_over_time({service_name="bin"}[1h]))'
    total = 'sum(count_over_time({service_name="bin"}[1h]))'
    assert vector(f"{per_level} / {per_level}") == {"info": "1", "error": "1"}
    assert vector(f"{per_level} * 2") == {"info": "6", "error": "2"}
    assert vector(f"2 * {total}") == {None: "8"}
    assert vector(f"{per_level} / {total}") == {}  # no series carries both label sets
    assert vector("vector(1) + vector(2)") == {None: "3"}


def test_a_query_answer_carries_loki_stats(api):
    now = ingest_lines(api, "st", ["a 1", "b 2", "a 3"])
    answer = api.get(
        "/loki/api/v1/query_range",
        query='{service_name="st"} |= "a"',
        start=str((now - 60_000) * NS),
        end=str((now + 1) * NS),
    ).body
    summary = answer["data"]["stats"]["summary"]
    assert summary["totalEntriesReturned"] == 2
    assert summary["totalLinesProcessed"] >= 2 and summary["totalBytesProcessed"] >= 6
    assert summary["execTime"] > 0
    metric = api.get(
        "/loki/api/v1/query",
        query='sum(count_over_time({service_name="st"}[1m]))',
        time=str((now + 1) * NS),
    ).body
    assert metric["data"]["stats"]["summary"]["totalLinesProcessed"] == 3
