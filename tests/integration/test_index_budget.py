"""A D1 database holds at most 10 GB: the index keeps under its budget by shrinking the hot
window of its largest services, and what leaves it is still found in the archive.

Measured on the D1 REST stand-in with a cap (it refuses writes past it with D1's
"Exceeded maximum DB size", and says its size on every answer, as D1 does)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logsvc import components, refreshed
from logsvc.archive import LogArchive
from logsvc.archive.local import LocalObjectStore
from logsvc.buffer import entry_from_record
from logsvc.entries import LogEntry
from logsvc.errors import DatabaseFull
from logsvc.filters import SearchFilters
from logsvc.ids import entry_id
from logsvc.sql import open_database
from logsvc.store.log_index import LogIndex
from logsvc.writer import Writer
from tests.conftest import API_KEY, migrated_sqlite
from tests.support.api import Api
from tests.support.d1_standin import TOKEN, D1StandIn

CAP = 1_500_000  # the stand-in's "10 GB"
BUDGET = 1_000_000
NOW = 1_790_000_000_000


@pytest.fixture
def capped_d1(tmp_path: Path) -> Iterator[D1StandIn]:
    migrated_sqlite(tmp_path / "d1.sqlite")
    with D1StandIn(str(tmp_path / "d1.sqlite"), max_bytes=CAP) as standin:
        yield standin


@pytest.fixture
def capped_api(capped_d1, tmp_path, monkeypatch) -> Iterator[Api]:
    monkeypatch.setenv("DATABASE_URL", capped_d1.url)
    monkeypatch.setenv("D1_API_TOKEN", TOKEN)
    monkeypatch.setenv("D1_API_BASE_URL", capped_d1.base_url)
    monkeypatch.setenv("ARCHIVE_URL", (tmp_path / "archive").as_uri())
    monkeypatch.setenv("LOG_SERVICE_API_KEY", API_KEY)
    monkeypatch.setenv("INDEX_BUDGET_BYTES", str(BUDGET))
    monkeypatch.setenv("DEFAULT_TTL_DAYS", "3650")
    # A shrunken window reaches searches when instances next read the windows (30 s);
    # here at once, as after that time.
    monkeypatch.setattr(refreshed, "REFRESH_SECONDS", 0.0)
    components.reset()
    yield Api(API_KEY)
    components.reset()


def batch(service: str, number: int, size: int = 200) -> list[dict]:
    start = NOW + number * 60_000
    return [
        {
            "service_name": service,
            "level": "INFO",
            "message": f"request {number}-{i} served in {i % 97} ms for tenant t{i % 13}",
            "timestamp": start + i * 100,
            "metadata": {"request_id": f"req-{number:04d}-{i:04d}", "region": "eu-west-1"},
        }
        for i in range(size)
    ]


def test_traffic_past_the_cap_stays_under_budget_and_every_entry_is_found(capped_api, capped_d1):
    api = capped_api
    marks: list[tuple[str, int, str]] = []  # (service, timestamp, message)
    for number in range(60):
        service = "checkout" if number % 3 else "search"  # checkout: twice the traffic
        logs = batch(service, number)
        response = api.post("/api/v1/logs/ingest/batch", {"logs": logs})
        assert response.status == 201, response.body
        marks.append((service, logs[7]["timestamp"], logs[7]["message"]))

    # Three times the budget went in; the database never passed the budget, let alone its
    # cap, and refused no write.
    assert capped_d1.largest_size <= BUDGET
    assert capped_d1.refused_full == 0
    windows = components.log_index().windows()
    assert "checkout" in windows  # the largest service's window shrank

    for service, timestamp, message in marks:
        found = api.get(
            "/api/v1/logs/search",
            service=service,
            q=message,
            start_time=timestamp,
            end_time=timestamp,
        )
        assert found.status == 200, found.body
        assert [e["message"] for e in found.body["logs"]] == [message], (service, timestamp)
        tier = found.body["logs"][0]["tier"]
        assert tier == ("archive" if timestamp < windows.get(service, 0) else "index")

    stats = api.get("/api/v1/logs/stats/checkout").body
    assert stats["hot_since"] == windows["checkout"]
    assert 0.5 < stats["index_fill"] <= 1.0
    assert stats["total"] < 40 * 200  # the index holds the window; the archive holds all

    health = api.call("GET", "/health", key=None)
    (capacity,) = health.body["index"]
    assert capacity["budget_bytes"] == BUDGET
    assert 0.5 < capacity["fill"] <= 1.0


def test_a_write_refused_for_size_makes_room_and_is_stored_not_dead_lettered(tmp_path):
    """The database is full before the budget says so (another writer, a budget set too
    high): the refused write makes room and goes in; no entry is set aside."""
    db = open_database(migrated_sqlite(tmp_path / "logs.db"))
    # The database is capped just above what is in it now, with no budget kept.
    full = LogIndex(_capped(tmp_path / "logs.db", 600_000), None)
    archive = LogArchive(LocalObjectStore(tmp_path / "archive"))
    dead: list = []
    writer = Writer(archive, full, lambda entries, reason: dead.append(reason))
    number = 0
    with pytest.raises(DatabaseFull):
        while True:
            writer.store(_entries("checkout", number), f"fill-{number}")
            number += 1
    # The same database with a budget: the next write makes room and is stored.
    kept = LogIndex(_capped(tmp_path / "logs.db", 600_000), 2_000_000)
    writer = Writer(archive, kept, lambda entries, reason: dead.append(reason))
    stored = writer.store(_entries("checkout", number), f"fill-{number}")
    found, _ = kept.search(SearchFilters(service="checkout", limit=1000))
    assert {e.id for e in stored} <= {e["id"] for e in found}
    assert dead == []
    assert kept.windows()["checkout"] > NOW
    db.close()


def _capped(path: Path, max_bytes: int):
    from logsvc.sql.sqlite import SqliteDatabase

    return SqliteDatabase(str(path), max_bytes=max_bytes)


def _entries(service: str, number: int) -> list[LogEntry]:
    return [
        entry_from_record({**log, "id": entry_id(log["timestamp"])})
        for log in batch(service, number)
    ]
