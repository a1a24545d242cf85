"""The packed layout: blocks per request and service, ids into blocks, the logs view,
windowed search against a brute-force answer, and the migration from one row per log."""

import random
import shutil

import pytest

from logsvc import components
from logsvc.entries import LogEntry
from logsvc.filters import SearchFilters
from logsvc.ids import entry_id
from logsvc.sql import open_database
from logsvc.sql.migrations import apply_migrations
from logsvc.store.blocks import MAX_BLOCK_BYTES
from logsvc.store.log_index import LogIndex
from logsvc_local.project import MIGRATIONS_DIR

LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"]


def block_count(db) -> int:
    return db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"]


def test_one_block_per_service_per_request_counting_each_level(api_any_db):
    logs = [
        {"service_name": f"s{i % 2}", "level": LEVELS[i % 5], "message": f"m{i}"}
        for i in range(1000)
    ]
    ids = api_any_db.post("/api/v1/logs/ingest/batch", {"logs": logs}).body["ids"]
    blocks = components.database().query(
        "SELECT service_name, entry_count, debug_count, info_count, warn_count, error_count, "
        "critical_count FROM log_blocks ORDER BY service_name"
    )
    assert [b["service_name"] for b in blocks] == ["s0", "s1"]
    assert [list(b.values())[1:] for b in blocks] == [[500, 100, 100, 100, 100, 100]] * 2
    assert len(set(ids)) == 1000
    # Every id leads back to its entry.
    for i in (0, 1, 499, 998, 999):
        entry = api_any_db.get(f"/api/v1/logs/logs/{ids[i]}").body
        assert (entry["message"], entry["level"]) == (f"m{i}", LEVELS[i % 5])


def test_large_entries_split_blocks_under_the_row_limit(api):
    logs = [
        {
            "service_name": "big",
            "level": "INFO",
            "message": "x" * 1000,
            "metadata": {"blob": "y" * 15_000},
        }
        for _ in range(200)
    ]
    ids = api.post("/api/v1/logs/ingest/batch", {"logs": logs}).body["ids"]
    rows = components.database().query("SELECT length(entries) AS size FROM log_blocks")
    assert len(rows) > 1
    assert all(row["size"] <= MAX_BLOCK_BYTES for row in rows)
    assert api.get(f"/api/v1/logs/logs/{ids[-1]}").body["metadata"] == {"blob": "y" * 15_000}


def test_plain_sql_reads_the_logs_view_like_the_original_table(api_any_db):
    body = {
        "logs": [
            {"service_name": "checkout", "level": "ERROR", "message": "one", "metadata": {"k": 1}},
            {"service_name": "checkout", "level": "ERROR", "message": "two"},
            {"service_name": "checkout", "level": "INFO", "message": "three"},
        ]
    }
    ids = api_any_db.post("/api/v1/logs/ingest/batch", body).body["ids"]
    rows = components.database().query(
        "SELECT * FROM logs WHERE service_name = ? ORDER BY id", ("checkout",)
    )
    assert [
        (r["id"], r["level"], r["message"], r["metadata_json"], r["source_type"]) for r in rows
    ] == sorted(
        [
            (ids[0], "ERROR", "one", '{"k":1}', "http"),
            (ids[1], "ERROR", "two", None, "http"),
            (ids[2], "INFO", "three", None, "http"),
        ]
    )
    assert all(r["r2_key"].startswith("logs/checkout/") for r in rows)


@pytest.fixture
def store(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'logs.db'}", create=True)
    apply_migrations(db, MIGRATIONS_DIR)
    yield LogIndex(db)
    db.close()


def test_windowed_search_equals_a_brute_force_sort(store):
    """Many overlapping blocks (requests with scattered timestamps), every filter shape."""
    rng = random.Random(7)
    everything = []
    for request in range(120):
        entries = [
            LogEntry(
                id="",
                service_name=rng.choice(["a", "b", "c"]),
                level=rng.choice(LEVELS),
                message=rng.choice(["disk full", "Timeout talking to db", "ok", "50% done"]),
                timestamp=rng.randrange(1_000, 1_000 + request * 50 + 500),
            )
            for _ in range(rng.randrange(1, 40))
        ]
        numbered(entries)
        batch = store.prepare(entries)
        store.write(batch, {})
        everything += batch.entries

    def brute(f: SearchFilters):
        hits = [
            e
            for e in everything
            if (f.service is None or e.service_name == f.service)
            and (f.level is None or e.level == f.level)
            and (f.start_time is None or e.timestamp >= f.start_time)
            and (f.end_time is None or e.timestamp <= f.end_time)
            and (f.q is None or f.q.lower() in e.message.lower())
        ]
        hits.sort(key=lambda e: (e.timestamp, e.id), reverse=True)
        end = f.offset + f.limit
        return [e.id for e in hits[f.offset : end]], len(hits) > end

    cases = [
        SearchFilters(limit=50),
        SearchFilters(service="a", limit=7, offset=30),
        SearchFilters(service="b", level="ERROR", limit=5),
        SearchFilters(level="CRITICAL", limit=1000),
        SearchFilters(start_time=2_000, end_time=3_000, limit=100, offset=10),
        SearchFilters(q="timeout", limit=20),
        SearchFilters(q="50%", service="c"),
        SearchFilters(service="a", q="o", start_time=4_000, limit=3, offset=200),
        SearchFilters(offset=100_000),
    ]
    for filters in cases:
        found, has_more = store.search(filters)
        assert ([e["id"] for e in found], has_more) == brute(filters), filters


def test_stats_count_the_last_24_hours_inside_blocks_that_straddle_it(store):
    now = 10 * 86_400_000
    entries = [
        LogEntry(id="", service_name="s", level="ERROR", message="m", timestamp=t)
        for t in (now - 86_400_001, now - 86_400_000, now - 1000)
    ]
    store.write(store.prepare(numbered(entries)), {})
    stats = store.stats("s", now)
    assert (stats["total"], stats["last_24h"]["total"]) == (3, 2)


def test_level_counts_from_headers_equal_a_brute_force_count_before_and_after_expiry(store):
    """Blocks mix levels and straddle the 24-hour mark, an error window's ends and the
    cleanup cutoff: the counts read from headers (and the straddling blocks' entries) agree
    with counting every entry, and cleanup keeps them so."""
    rng = random.Random(11)
    hour = 3_600_000
    now = 30 * 24 * hour
    everything: list[LogEntry] = []
    for _ in range(60):
        start = rng.randrange(now - 72 * hour, now - hour)
        entries = [
            LogEntry(
                id="",
                service_name="s",
                level=rng.choice(LEVELS),
                message="m",
                timestamp=rng.randrange(start, start + 3 * hour),
            )
            for _ in range(rng.randrange(1, 60))
        ]
        store.write(store.prepare(numbered(entries)), {})
        everything += entries

    def check() -> None:
        recent = [e for e in everything if e.timestamp >= now - 24 * hour]
        stats = store.stats("s", now)
        assert stats["levels"] == {lv: sum(e.level == lv for e in everything) for lv in LEVELS}
        assert stats["last_24h"]["levels"] == {
            lv: sum(e.level == lv for e in recent) for lv in LEVELS
        }
        start, end = now - 30 * hour, now - 20 * hour
        window = [e for e in everything if start <= e.timestamp <= end]
        assert store.error_counts("s", start, end) == {
            lv: sum(e.level == lv for e in window) for lv in ("ERROR", "CRITICAL")
        }

    check()
    cutoff = now - 40 * hour
    while not store.expire("s", cutoff, batch_size=7).finished:
        pass
    everything = [e for e in everything if e.timestamp >= cutoff]
    check()
    found, _ = store.search(SearchFilters(service="s", level="WARN", limit=10_000))
    assert sorted(e["id"] for e in found) == sorted(e.id for e in everything if e.level == "WARN")


def test_migration_converts_one_row_per_log_and_keeps_ids(tmp_path):
    path = tmp_path / "old.db"
    old_only = tmp_path / "old-migrations"
    old_only.mkdir()
    shutil.copy(MIGRATIONS_DIR / "0001_initial_schema.sql", old_only)
    db = open_database(f"sqlite:///{path}", create=True)
    apply_migrations(db, old_only)
    old_ids = ["01a218a7-f917-7e7f-8f2c-190548869ae7", "01a218a7-f918-7000-8000-000000000000"]
    db.execute(
        "INSERT INTO logs (id, service_name, level, message, timestamp, r2_key, metadata_json, "
        "source_type) VALUES (?, 'legacy', 'ERROR', 'old one', 100, 'logs/legacy/k', "
        "'{\"a\":1}', 'http'), (?, 'legacy', 'INFO', 'old two', 200, NULL, NULL, 'tail')",
        tuple(old_ids),
    )

    assert apply_migrations(db, MIGRATIONS_DIR)[0] == "0002_packed_log_blocks.sql"
    store = LogIndex(db)
    one = store.get(old_ids[0])
    assert (one["message"], one["metadata"], one["r2_key"]) == (
        "old one",
        {"a": 1},
        "logs/legacy/k",
    )
    assert store.get(old_ids[1])["source_type"] == "tail"
    # 0007 counted each old block's entries under its level.
    assert [e["id"] for e in store.search(SearchFilters(level="ERROR"))[0]] == old_ids[:1]
    assert store.stats("legacy", 1000)["levels"] == {
        "DEBUG": 0,
        "INFO": 1,
        "WARN": 0,
        "ERROR": 1,
        "CRITICAL": 0,
    }
    assert [e["id"] for e in store.search(SearchFilters(service="legacy"))[0]] == old_ids[::-1]
    assert {r["id"] for r in db.query("SELECT id FROM logs")} == set(old_ids)
    assert store.services() == [{"service_name": "legacy", "log_count": 2, "last_seen": 200}]


def numbered(entries: list[LogEntry]) -> list[LogEntry]:
    """Give entries their ids, as ingest's number step does."""
    for entry in entries:
        entry.id = entry_id(entry.timestamp)
    return entries
