"""The Loki query routes against a brute-force reading of the same entries."""

import random
import time
from collections import Counter

import pytest

LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"]
MINUTE = 60_000


@pytest.fixture
def corpus(api_any_db):
    rng = random.Random(5)
    now = (int(time.time() * 1000) // MINUTE) * MINUTE
    logs = [
        {
            "service_name": rng.choice(["a", "b", "c"]),
            "level": rng.choice(LEVELS),
            "message": rng.choice(["timeout talking to db", "Timeout", "ok", "db down", "x=1"]),
            "timestamp": now - rng.randrange(0, 30 * MINUTE),
            "metadata": {"http": {"status": rng.choice([200, 404, 500, 503])}},
        }
        for _ in range(600)
    ]
    for start in range(0, len(logs), 200):
        assert (
            api_any_db.post("/api/v1/logs/ingest/batch", {"logs": logs[start : start + 200]}).status
            == 201
        )
    return api_any_db, logs, now


def lines(api, query: str, start: int, end: int, limit: int = 5000, **more) -> list[tuple]:
    body = api.get(
        "/loki/api/v1/query_range",
        query=query,
        start=str(start * 1_000_000),
        end=str(end * 1_000_000),
        limit=str(limit),
        **more,
    ).body
    assert body["status"] == "success", body
    found = [
        (int(ts) // 1_000_000, stream["stream"]["service_name"], line)
        for stream in body["data"]["result"]
        for ts, line in stream["values"]
    ]
    return sorted(found, reverse=True)


def expected(logs, keep, limit=5000):
    found = sorted(
        ((e["timestamp"], e["service_name"], e["message"]) for e in logs if keep(e)), reverse=True
    )
    return found[:limit]


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        (
            '{service_name="a"} |= "time"',
            lambda e: e["service_name"] == "a" and "time" in e["message"],
        ),
        (
            '{level=~"error|critical"} != "db"',
            lambda e: e["level"] in ("ERROR", "CRITICAL") and "db" not in e["message"],
        ),
        (
            '{service_name!="a", detected_level="warn"} |~ "^[Tt]ime"',
            lambda e: (
                e["service_name"] != "a"
                and e["level"] == "WARN"
                and e["message"].lower().startswith("time")
            ),
        ),
        (
            '{service_name=~"a|b"} | json | http_status >= 500 and http_status != 503',
            lambda e: e["service_name"] in "ab" and e["metadata"]["http"]["status"] == 500,
        ),
        (
            '{service_name="c"} | logfmt | x = "1"',
            lambda e: e["service_name"] == "c" and e["message"] == "x=1",
        ),
    ],
)
def test_log_queries_return_what_a_brute_force_reading_does(corpus, query, keep):
    api, logs, now = corpus
    start = now - 30 * MINUTE
    assert lines(api, query, start, now) == expected(logs, keep)
    assert lines(api, query, start, now, limit=7) == expected(logs, keep, 7)


def test_forward_returns_the_oldest_first(corpus):
    api, logs, now = corpus
    body = api.get(
        "/loki/api/v1/query_range",
        query='{service_name="b"}',
        start=str((now - 30 * MINUTE) * 1_000_000),
        end=str(now * 1_000_000),
        limit="5",
        direction="forward",
    ).body
    found = sorted(int(ts) // 1_000_000 for s in body["data"]["result"] for ts, _ in s["values"])
    assert found == sorted(e["timestamp"] for e in logs if e["service_name"] == "b")[:5]


def query_range(api, query: str, start: int, end: int, step_ms: int) -> dict:
    """The body of a range query over [start, end] (Unix ms)."""
    return api.get(
        "/loki/api/v1/query_range",
        query=query,
        start=str(start * 1_000_000),
        end=str(end * 1_000_000),
        step=f"{step_ms}ms",
    ).body


def counts_by_level(api, query: str, start: int, end: int, step_ms: int) -> dict:
    body = query_range(api, query, start, end, step_ms)
    assert body["data"]["resultType"] == "matrix", body
    return {
        (series["metric"].get("level"), int(t * 1000)): int(value)
        for series in body["data"]["result"]
        for t, value in series["values"]
    }


def test_count_over_time_by_level_counts_each_window(corpus):
    api, logs, now = corpus
    start, step = now - 20 * MINUTE, 5 * MINUTE
    found = counts_by_level(
        api, 'sum by (level) (count_over_time({service_name="a"}[5m]))', start, now, step
    )
    brute = Counter()
    for e in logs:
        if e["service_name"] != "a":
            continue
        for t in range(start, now + 1, step):
            if t - step < e["timestamp"] <= t:
                brute[(e["level"].lower(), t)] += 1
    assert found == dict(brute)


def test_the_counted_and_the_walked_paths_agree(corpus):
    """A selector alone is counted in SQL; a line filter walks the entries."""
    api, _, now = corpus
    start = now - 30 * MINUTE
    counted = counts_by_level(
        api, 'sum by (level) (count_over_time({service_name="b"}[1m]))', start, now, MINUTE
    )
    walked = counts_by_level(
        api, 'sum by (level) (count_over_time({service_name="b"} |= "" [1m]))', start, now, MINUTE
    )
    assert counted == walked and counted


@pytest.mark.parametrize(
    ("template", "step"),
    [
        ('sum by (level) (count_over_time({{service_name="a"}}{stage} [5m]))', 5 * MINUTE),
        ('sum(rate({{service_name=~"a|b"}}{stage} [1m]))', MINUTE),
        ('sum by (service_name) (bytes_over_time({{level="error"}}{stage} [10m]))', 5 * MINUTE),
        ('bytes_rate({{service_name="c"}}{stage} [2m])', MINUTE),
        ('count_over_time({{service_name="a"}}{stage} [5m] offset 5m)', 5 * MINUTE),
        ('sum without (level) (count_over_time({{service_name="b"}}{stage} [3m]))', 3 * MINUTE),
    ],
)
def test_counts_per_bucket_equal_a_walk_of_every_entry(corpus, template, step):
    """Counts, rates and bytes of a bare selector whose range is whole steps are counted
    per bucket in SQL; the same query with a line filter that keeps every line walks each
    entry: the answers are the same."""
    api, _, now = corpus
    start = now - 25 * MINUTE

    def matrix(query: str) -> dict:
        body = query_range(api, query, start, now, step)
        assert body["status"] == "success", body
        return {
            tuple(sorted(s["metric"].items())): [(t, float(v)) for t, v in s["values"]]
            for s in body["data"]["result"]
        }

    counted = matrix(template.format(stage=""))
    walked = matrix(template.format(stage=' |= ""'))
    assert counted == walked and counted


def test_a_key_limited_to_services_sees_only_them(corpus):
    api, _, now = corpus
    key = api.post(
        "/api/v1/admin/keys", {"name": "only-a", "scopes": ["read"], "services": ["a"]}
    ).body["key"]
    body = api.call(
        "GET",
        "/loki/api/v1/query_range",
        query={
            "query": '{level=~".+"}',
            "limit": "5000",
            "start": str((now - 30 * MINUTE) * 1_000_000),
        },
        key=key,
    ).body
    assert {s["stream"]["service_name"] for s in body["data"]["result"]} == {"a"}
    values = api.call("GET", "/loki/api/v1/label/service_name/values", key=key).body["data"]
    assert values == ["a"]


def test_limits_are_lokis(corpus):
    api, _, _ = corpus
    too_many = api.get("/loki/api/v1/query_range", query='{service_name="a"}', limit="5001")
    assert too_many.status == 400 and "max_entries_limit" in too_many.body["message"]
    fine_steps = api.get(
        "/loki/api/v1/query_range",
        query='count_over_time({service_name="a"}[1m])',
        start="0",
        end=str(int(time.time())),
        step="1ms",
    )
    assert fine_steps.status == 400 and "11000 points" in fine_steps.body["message"]
    bad_time = api.get("/loki/api/v1/query_range", query='{service_name="a"}', start="yesterday")
    assert bad_time.status == 400 and bad_time.body["message"].startswith("start:")


def test_the_values_of_the_labels_every_entry_has_come_from_the_time_index(corpus):
    """level, detected_level, service_name and source_type without a query: the blocks'
    columns answer, as the entries would."""
    api, logs, now = corpus
    start = str((now - 30 * MINUTE) * 1_000_000)

    def values(name: str) -> list[str]:
        return api.get(f"/loki/api/v1/label/{name}/values", start=start).body["data"]

    assert values("level") == sorted({log["level"].lower() for log in logs})
    assert values("detected_level") == values("level")
    assert values("service_name") == ["a", "b", "c"]
    assert values("source_type") == ["http"]
