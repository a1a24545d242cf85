"""Search, single entries, services, stats and recent, through the search function."""

import time

import pytest

DAY = 86_400_000


@pytest.fixture
def stored(api_any_db):
    """Ten entries across two services at known timestamps; returns their ids by message."""
    now = int(time.time() * 1000)
    logs = [
        {
            "service_name": "checkout",
            "level": "INFO",
            "message": "order 1 placed",
            "timestamp": now - 3 * DAY,
        },
        {
            "service_name": "checkout",
            "level": "ERROR",
            "message": "Payment TIMEOUT after 30s",
            "timestamp": now - 2 * DAY,
        },
        {
            "service_name": "checkout",
            "level": "WARN",
            "message": "50% of quota_used",
            "timestamp": now - 60_000,
        },
        {
            "service_name": "checkout",
            "level": "ERROR",
            "message": "payment timeout again",
            "timestamp": now - 50_000,
        },
        {
            "service_name": "checkout",
            "level": "CRITICAL",
            "message": "db down",
            "timestamp": now - 40_000,
        },
        {
            "service_name": "checkout",
            "level": "DEBUG",
            "message": "cache miss",
            "timestamp": now - 30_000,
        },
        {
            "service_name": "search",
            "level": "INFO",
            "message": "query served",
            "timestamp": now - 20_000,
        },
        {
            "service_name": "search",
            "level": "ERROR",
            "message": "index timeout",
            "timestamp": now - 10_000,
        },
        {
            "service_name": "search",
            "level": "INFO",
            "message": "query served",
            "timestamp": now - 5_000,
        },
        {
            "service_name": "search",
            "level": "INFO",
            "message": "query served",
            "timestamp": now - 1_000,
        },
    ]
    response = api_any_db.post("/api/v1/logs/ingest/batch", {"logs": logs})
    assert response.body["accepted"] == 10
    return {
        "api": api_any_db,
        "now": now,
        "logs": logs,
        "ids": dict(zip([x["message"] for x in logs], response.body["ids"], strict=False)),
    }


def messages(response):
    return [entry["message"] for entry in response.body["logs"]]


def test_search_filters_by_service_and_level_newest_first(stored):
    api = stored["api"]
    response = api.get("/api/v1/logs/search", service="checkout", level="error")
    assert response.status == 200
    assert messages(response) == ["payment timeout again", "Payment TIMEOUT after 30s"]
    assert (response.body["limit"], response.body["offset"], response.body["has_more"]) == (
        100,
        0,
        False,
    )


def test_search_time_range_is_inclusive(stored):
    api, now = stored["api"], stored["now"]
    response = api.get("/api/v1/logs/search", start_time=now - 50_000, end_time=now - 20_000)
    assert messages(response) == ["query served", "cache miss", "db down", "payment timeout again"]


def test_q_is_a_case_insensitive_substring_with_no_wildcards(stored):
    api = stored["api"]
    assert messages(api.get("/api/v1/logs/search", q="timeout")) == [
        "index timeout",
        "payment timeout again",
        "Payment TIMEOUT after 30s",
    ]
    assert messages(api.get("/api/v1/logs/search", q="50%")) == ["50% of quota_used"]
    assert messages(api.get("/api/v1/logs/search", q="o_d")) == []  # LIKE would match "ord"
    assert messages(api.get("/api/v1/logs/search", q="%")) == ["50% of quota_used"]


def test_limit_offset_and_has_more_page_through_everything(stored):
    api = stored["api"]
    seen = []
    for offset in range(0, 10, 4):
        page = api.get("/api/v1/logs/search", limit=4, offset=offset)
        seen += messages(page)
        assert page.body["has_more"] is (offset + 4 < 10)
    assert len(seen) == 10
    assert seen == [x["message"] for x in sorted(stored["logs"], key=lambda x: -x["timestamp"])]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"end_time": -5}, "end_time"),
        ({"level": "LOUD"}, "level"),
        ({"service": "bad name"}, "service"),
        ({"start_time": 10, "end_time": 5}, "start_time"),
    ],
)
def test_bad_search_parameters_are_400_naming_the_field(stored, query, field):
    response = stored["api"].get("/api/v1/logs/search", **query)
    assert response.status == 400
    assert response.body["field"] == field


@pytest.mark.parametrize(
    "query",
    [
        {"q": "' OR '1'='1"},
        {"q": "x'); DROP TABLE logs; --"},
        {"q": '" OR 1=1 --'},
        {"service": "checkout' OR '1'='1"},
        {"level": "INFO' OR 1=1"},
        {"q": "\u0000"},
    ],
)
def test_sql_metacharacters_in_filters_are_plain_text(stored, query):
    response = stored["api"].get("/api/v1/logs/search", **query)
    assert response.status in (200, 400)
    if response.status == 200:
        assert response.body["logs"] == []
    assert stored["api"].get("/api/v1/logs/search", limit=1000).body["logs"].__len__() == 10


def test_get_by_id_and_full(stored):
    api = stored["api"]
    log_id = stored["ids"]["db down"]
    entry = api.get(f"/api/v1/logs/logs/{log_id}").body
    assert (entry["id"], entry["level"], entry["message"]) == (log_id, "CRITICAL", "db down")
    full = api.get(f"/api/v1/logs/logs/{log_id}/full").body
    assert full["message"] == "db down"
    assert full["r2_key"] == entry["r2_key"]


@pytest.mark.parametrize("path", ["/api/v1/logs/logs/{}", "/api/v1/logs/logs/{}/full"])
@pytest.mark.parametrize("log_id", ["nope", "01a218a7-f917-7e7f-8f2c-190548869ae7", "x' OR '1'='1"])
def test_unknown_ids_are_404_naming_the_field(stored, path, log_id):
    response = stored["api"].get(path.format(log_id))
    assert response.status == 404
    assert response.body["field"] == "id"


def test_full_when_the_archive_object_is_gone_is_404(stored, archive_dir):
    for path in archive_dir.rglob("*.ndjson.gz"):
        path.unlink()
    response = stored["api"].get(f"/api/v1/logs/logs/{stored['ids']['db down']}/full")
    assert response.status == 404
    assert "no longer in the archive" in response.body["error"]


def test_services_lists_counts_and_last_seen(stored):
    services = stored["api"].get("/api/v1/logs/services").body["services"]
    assert services == [
        {"service_name": "checkout", "log_count": 6, "last_seen": stored["now"] - 30_000},
        {"service_name": "search", "log_count": 4, "last_seen": stored["now"] - 1_000},
    ]


def test_stats_counts_levels_overall_and_in_the_last_24_hours(stored):
    stats = stored["api"].get("/api/v1/logs/stats/checkout").body
    assert stats["total"] == 6
    assert stats["levels"] == {"DEBUG": 1, "INFO": 1, "WARN": 1, "ERROR": 2, "CRITICAL": 1}
    assert stats["last_24h"] == {
        "total": 4,
        "levels": {"DEBUG": 1, "INFO": 0, "WARN": 1, "ERROR": 1, "CRITICAL": 1},
    }
    assert stats["first_timestamp"] == stored["now"] - 3 * DAY
    assert stats["last_timestamp"] == stored["now"] - 30_000


def test_stats_of_a_service_without_logs_are_zero(stored):
    stats = stored["api"].get("/api/v1/logs/stats/nobody").body
    assert (stats["total"], stats["first_timestamp"]) == (0, None)


def test_recent_returns_the_newest_first(stored):
    response = stored["api"].get("/api/v1/logs/recent/search", limit=2)
    assert response.body["service_name"] == "search"
    assert [e["timestamp"] for e in response.body["logs"]] == [
        stored["now"] - 1_000,
        stored["now"] - 5_000,
    ]
    assert stored["api"].get("/api/v1/logs/recent/search", limit=0).status == 400
    assert stored["api"].get("/api/v1/logs/recent/bad%20name").status == 400
