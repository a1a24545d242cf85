"""One search over two tiers: the index's hot window and, before it, the archive (DuckDB
over the local archive folder), through the search function."""

import gzip
import time

import pytest

from logsvc import components, field_filters, querier
from logsvc.archive.duckdb_engine import DuckDbArchive
from logsvc.archive.query import ArchiveQuery
from logsvc.clock import utc_date
from logsvc.ids import entry_id
from tests.integration.test_loki_api import lines as loki_lines

DAY = 86_400_000
PLENTY = lambda: 10**9  # noqa: E731 - the cleaner's time budget


@pytest.fixture
def tiers(api):
    """Entries 20 and 10 days old (archive only, once cleanup applied the 7-day hot window)
    and 1 day and 1 hour old (both tiers)."""
    now = int(time.time() * 1000)
    logs = [
        ("checkout", "ERROR", "payment failed: card declined", now - 20 * DAY, {"code": 402}),
        ("checkout", "INFO", "order placed", now - 10 * DAY, {"user": {"tier": "Gold"}}),
        ("search", "INFO", "query served", now - 10 * DAY, {}),
        ("checkout", "ERROR", "payment failed: timeout", now - DAY, {"code": 504}),
        ("checkout", "INFO", "order placed again", now - 3_600_000, {"user": {"tier": "gold"}}),
    ]
    body = {
        "logs": [
            {"service_name": s, "level": lv, "message": m, "timestamp": t, "metadata": md}
            for s, lv, m, t, md in logs
        ]
    }
    response = api.post("/api/v1/logs/ingest/batch", body)
    assert response.status == 201, response.body
    ids = dict(zip([m for _, _, m, _, _ in logs], response.body["ids"], strict=True))
    summary = components.cleaner().run(PLENTY)
    assert summary.logs_deleted == 3  # the 20- and 10-day-old entries left the index
    return api, now, ids


def search(api, **query):
    response = api.get("/api/v1/logs/search", **query)
    assert response.status == 200, response.body
    return response.body


def test_a_range_past_the_hot_window_is_answered_by_both_tiers(tiers):
    api, now, ids = tiers
    body = search(api, service="checkout", start_time=now - 30 * DAY)
    assert [(e["message"], e["tier"]) for e in body["logs"]] == [
        ("order placed again", "index"),
        ("payment failed: timeout", "index"),
        ("order placed", "archive"),
        ("payment failed: card declined", "archive"),
    ]
    assert body["archive"]["status"] == "complete"
    assert body["archive"]["end_time"] == body["hot_since"] - 1
    assert body["hot_since"] == pytest.approx(now - 7 * DAY, abs=60_000)
    assert body["has_more"] is False
    archived = body["logs"][2]
    assert archived["id"] == ids["order placed"]
    assert archived["metadata"] == {"user": {"tier": "Gold"}}


def test_without_a_start_before_the_hot_window_only_the_index_answers(tiers):
    api, now, _ = tiers
    for query in ({}, {"start_time": now - 2 * DAY}):
        body = search(api, service="checkout", **query)
        assert [e["tier"] for e in body["logs"]] == ["index", "index"]
        assert body["archive"] is None


def test_filters_mean_the_same_on_both_tiers(tiers):
    api, now, _ = tiers
    since = now - 30 * DAY
    by_q = search(api, q="PAYMENT FAILED", start_time=since)
    assert [e["message"] for e in by_q["logs"]] == [
        "payment failed: timeout",
        "payment failed: card declined",
    ]
    by_level = search(api, level="INFO", start_time=since)
    assert [e["message"] for e in by_level["logs"]] == [
        "order placed again",
        "query served",
        "order placed",
    ] or [e["message"] for e in by_level["logs"]] == [
        "order placed again",
        "order placed",
        "query served",
    ]
    folded = search(api, filter="metadata.user.tier=GOLD", start_time=since)
    assert [e["tier"] for e in folded["logs"]] == ["index", "archive"]
    numeric = search(api, filter="metadata.code>=500", start_time=since)
    assert [e["message"] for e in numeric["logs"]] == ["payment failed: timeout"]
    absent = search(api, service="checkout", filter="!metadata.code", start_time=since)
    assert [e["message"] for e in absent["logs"]] == ["order placed again", "order placed"]


def test_pages_run_on_from_the_index_into_the_archive(tiers):
    api, now, _ = tiers
    pages = [
        search(api, service="checkout", start_time=now - 30 * DAY, limit=1, offset=offset)
        for offset in range(5)
    ]
    assert [[e["message"] for e in p["logs"]] for p in pages] == [
        ["order placed again"],
        ["payment failed: timeout"],
        ["order placed"],
        ["payment failed: card declined"],
        [],
    ]
    assert [p["has_more"] for p in pages] == [True, True, True, False, False]
    assert pages[0]["archive"] is None  # the index alone filled the page and knew of more


def test_an_entry_past_the_hot_window_is_found_by_its_id(tiers):
    api, _, ids = tiers
    entry = api.get(f"/api/v1/logs/logs/{ids['order placed']}")
    assert entry.status == 200
    assert entry.body["tier"] == "archive" and entry.body["message"] == "order placed"
    full = api.get(f"/api/v1/logs/logs/{ids['order placed']}/full")
    assert full.status == 200 and full.body["metadata"] == {"user": {"tier": "Gold"}}
    missing = api.get("/api/v1/logs/logs/01890000-0000-7000-8000-000000000000/full")
    assert missing.status == 404 and missing.body["field"] == "id"


def test_a_range_without_archive_data_is_complete_and_empty(tiers):
    api, now, _ = tiers
    body = search(api, start_time=now - 300 * DAY, end_time=now - 200 * DAY)
    assert body["logs"] == []
    assert body["archive"]["status"] == "complete"
    assert body["archive"]["objects_read"] == 0


def test_a_corrupt_object_makes_a_partial_answer_not_an_error(tiers, archive_dir):
    api, now, _ = tiers
    # The cleanup in the fixture compacted the past days: one Parquet file per service-day.
    parquet = sorted((archive_dir / "compacted" / "checkout").rglob("*.parquet"))[0]
    parquet.write_bytes(parquet.read_bytes()[:100])  # truncated
    late = archive_dir / "logs" / "search" / utc_date(now - 10 * DAY) / "late.ndjson.gz"
    late.parent.mkdir(parents=True, exist_ok=True)
    late.write_bytes(gzip.compress(b'{"id": "x", "timestamp": ')[:-6])  # truncated
    body = search(api, start_time=now - 30 * DAY)
    assert body["archive"]["status"] == "partial"
    assert body["archive"]["reason"] == "unreadable_objects"
    assert sorted(body["archive"]["skipped_objects"]) == [
        parquet.relative_to(archive_dir).as_posix(),
        late.relative_to(archive_dir).as_posix(),
    ]
    messages = [e["message"] for e in body["logs"]]
    assert "query served" in messages and "order placed" in messages  # the rest answers
    assert "payment failed: card declined" not in messages  # in the truncated file


def test_an_object_gone_between_listing_and_reading_is_skipped(tiers, archive_dir):
    _, now, _ = tiers
    engine = DuckDbArchive(components.log_archive())
    query = ArchiveQuery(now - 30 * DAY, now - 8 * DAY, ("checkout",), limit=10)
    ndjson, parquet = engine.keys_for(query)
    (archive_dir / parquet[0]).unlink()
    answer = engine._run(query, ndjson, parquet, time.monotonic() + 10)
    assert (answer.status, answer.skipped) == ("partial", [parquet[0]])


def test_a_key_limited_to_a_service_never_sees_another_services_archive(tiers):
    api, now, ids = tiers
    created = api.post(
        "/api/v1/admin/keys", {"name": "search-only", "scopes": ["read"], "services": ["search"]}
    )
    key = created.body["key"]
    found = api.call(
        "GET", "/api/v1/logs/search", query={"start_time": now - 30 * DAY}, key=key
    ).body
    assert [e["message"] for e in found["logs"]] == ["query served"]
    hidden = api.call("GET", f"/api/v1/logs/logs/{ids['order placed']}", key=key)
    assert hidden.status == 404


def test_an_engine_past_its_deadline_answers_partial(tiers):
    _, now, _ = tiers
    engine = DuckDbArchive(components.log_archive())
    answer = engine.search(ArchiveQuery(now - 30 * DAY, now), timeout_s=0)
    assert (answer.status, answer.reason, answer.entries) == ("partial", "timeout", [])


@pytest.mark.parametrize(
    "query",
    [
        {"start_time": "yesterday"},
        {"start_time": 5, "end_time": 3},
        {"archive_query_id": "../../etc"},
        {"archive_query_id": "x" * 65},
    ],
)
def test_bad_archive_search_parameters_are_400s_naming_the_field(api, query):
    response = api.get("/api/v1/logs/search", **query)
    assert response.status == 400, response.body
    assert response.body["field"] in query


def test_when_python_decides_the_engine_asks_for_more_rows_until_enough_pass(api):
    """SQL passes numeric strings for a numeric filter (a superset); Python keeps numbers
    only: the engine must ask again for more rows, not stop at the first few."""
    now = int(time.time() * 1000)

    def entry(message, timestamp, code):
        return {
            "service_name": "s",
            "level": "INFO",
            "message": message,
            "timestamp": timestamp,
            "metadata": {"code": code},
        }

    strings = [entry(f"s{i}", now - 20 * DAY + 1000 + i, "600") for i in range(500)]
    numbers = [entry(f"n{i}", now - 20 * DAY + i, 600) for i in range(3)]
    assert api.post("/api/v1/logs/ingest/batch", {"logs": strings + numbers}).status == 201
    engine = DuckDbArchive(components.log_archive())
    query = ArchiveQuery(
        now - 30 * DAY, now, ("s",), fields=field_filters.parse(["metadata.code>=500"]), limit=3
    )
    answer = engine.search(query)
    assert [e["message"] for e in answer.entries] == ["n2", "n1", "n0"]


def test_a_page_of_newest_entries_reads_the_newest_days_first(api):
    now = int(time.time() * 1000)
    logs = [
        {
            "service_name": "daily",
            "level": "INFO",
            "message": f"d{days}-{i}",
            "timestamp": now - days * DAY + i,
        }
        for days in range(16, 21)
        for i in range(3)
    ]
    assert api.post("/api/v1/logs/ingest/batch", {"logs": logs}).status == 201
    engine = DuckDbArchive(components.log_archive())
    two = engine.search(ArchiveQuery(now - 30 * DAY, now, ("daily",), limit=2))
    assert [e["message"] for e in two.entries] == ["d16-2", "d16-1"]
    assert two.objects_read == 1  # one day's object answered the page
    seven = engine.search(ArchiveQuery(now - 30 * DAY, now, ("daily",), limit=7))
    assert [e["message"] for e in seven.entries] == [
        "d16-2",
        "d16-1",
        "d16-0",
        "d17-2",
        "d17-1",
        "d17-0",
        "d18-2",
    ]
    assert seven.objects_read == 3  # a day, then the next two
    everything = engine.search(ArchiveQuery(now - 30 * DAY, now, ("daily",), limit=100))
    assert len(everything.entries) == 15 and everything.objects_read == 5


def test_a_search_costs_one_d1_request_once_the_hot_windows_are_read(api_d1, d1):
    now = int(time.time() * 1000)
    for query in ({}, {"start_time": now - DAY}, {"start_time": now - 30 * DAY}):
        assert api_d1.get("/api/v1/logs/search", **query).status == 200  # windows read once
        before = len(d1.requests)
        assert api_d1.get("/api/v1/logs/search", **query).status == 200
        assert len(d1.requests) - before == 1, query


def test_loki_log_queries_reach_the_archive_too(tiers):
    api, now, _ = tiers
    found = loki_lines(api, '{service_name="checkout"} |= "payment failed"', now - 30 * DAY, now)
    lines = [line for _, _, line in found]
    assert sorted(lines) == ["payment failed: card declined", "payment failed: timeout"]


def test_full_entries_of_a_batch_spanning_days_are_found(api):
    now = int(time.time() * 1000)
    logs = [
        {
            "service_name": "spread",
            "level": "INFO",
            "message": f"day {days} " + "x" * 1500,
            "timestamp": now - days * DAY,
        }
        for days in (0, 3)
    ]
    ids = api.post("/api/v1/logs/ingest/batch", {"logs": logs}).body["ids"]
    for an_id, days in zip(ids, (0, 3), strict=True):
        full = api.get(f"/api/v1/logs/logs/{an_id}/full")
        assert full.status == 200, full.body
        assert full.body["message"].startswith(f"day {days} ") and len(full.body["message"]) > 1500


def test_an_unknown_id_inside_the_hot_window_costs_no_archive_query(tiers, monkeypatch):
    api, now, _ = tiers
    engine = components.archive_engine()
    asked = []
    original = engine.search
    # Counting calls on the real engine (a spy, not a stand-in): the answer is unchanged.
    monkeypatch.setattr(engine, "search", lambda *a, **k: asked.append(a) or original(*a, **k))
    recent = entry_id(now - DAY)
    assert api.get(f"/api/v1/logs/logs/{recent}").status == 404
    assert asked == []
    old = entry_id(now - 20 * DAY)
    assert api.get(f"/api/v1/logs/logs/{old}").status == 404
    assert len(asked) == 1


@pytest.fixture
def old_entries(api):
    """Three entries 10 days old in a service with a 1-day hot window: archive only."""
    now = int(time.time() * 1000)
    assert api.put("/api/v1/logs/config/s", {"ttl_days": 1}).status == 200
    old = [
        {"service_name": "s", "level": "INFO", "message": f"old {i}", "timestamp": now - 10 * DAY}
        for i in range(3)
    ]
    assert api.post("/api/v1/logs/ingest/batch", {"logs": old}).status == 201
    assert components.cleaner().run(PLENTY).logs_deleted == 3  # the index no longer has them
    return now


def instant(api, query: str, now: int):
    return api.get("/loki/api/v1/query", query=query, time=str(now * 1_000_000))


def test_metric_queries_see_the_archive_as_log_queries_do(api, old_entries):
    """Entries past a service's 1-day hot window: a bare selector's count (counted from
    index points) and the same with a line filter (walked) both find them, as search does."""
    now = old_entries

    def count(query: str) -> int:
        body = instant(api, query, now).body
        assert body["data"]["resultType"] == "vector", body
        return sum(int(sample["value"][1]) for sample in body["data"]["result"])

    assert count('sum(count_over_time({service_name="s"}[30d]))') == 3
    assert count('sum(count_over_time({service_name="s"} |= "old" [30d]))') == 3
    assert len(search(api, service="s", start_time=now - 30 * DAY)["logs"]) == 3


def test_a_metric_query_over_more_archived_entries_than_it_may_hold_is_refused(
    api, old_entries, monkeypatch
):
    monkeypatch.setattr(querier, "MAX_ARCHIVE_POINTS", 2)
    refused = instant(api, 'sum(count_over_time({service_name="s"}[30d]))', old_entries)
    assert refused.status == 422
    assert "more than 2 entries before the hot window" in refused.body["message"]
