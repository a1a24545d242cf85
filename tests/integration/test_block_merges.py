"""Small blocks merged once their hour has passed: fewer bytes per log for quiet services,
the same answers (logsvc.store.block_merges), on SQLite and D1 (REST stand-in)."""

from __future__ import annotations

import sqlite3

from logsvc import components
from logsvc.entries import LogEntry
from logsvc.filters import SearchFilters
from logsvc.ids import entry_id
from logsvc.store.block_merges import MERGE_BUCKET_MS, merge_small_blocks
from logsvc.store.log_index import LogIndex

HOUR = MERGE_BUCKET_MS


def flushes(now: int, services=("checkout", "search"), count: int = 40) -> list[list[LogEntry]]:
    """What a writer stores every few seconds for quiet services: a block of 1-3 entries
    per service and flush, over the hour before the last one."""
    start = (now // HOUR - 2) * HOUR
    batches = []
    for flush in range(count):
        entries = []
        for service in services:
            for n in range(1 + flush % 3):
                timestamp = start + flush * 4000 + n
                level = "ERROR" if (flush + n) % 5 == 0 else "INFO"
                metadata = {"request_id": f"r{flush}-{n}", "labels": {"env": "prod"}}
                entries.append(
                    LogEntry(
                        entry_id(timestamp),
                        service,
                        level,
                        f"{service} flush {flush} entry {n}",
                        timestamp,
                        metadata,
                    )
                )
        batches.append(entries)
    return batches


def page_bytes(path) -> int:
    with sqlite3.connect(path) as connection:
        pages, free, size = (
            connection.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("page_count", "freelist_count", "page_size")
        )
    return (pages - free) * size


def everything(index: LogIndex, service: str, start: int) -> list[dict]:
    found, more = index.search(SearchFilters(service=service, start_time=start, limit=1000))
    assert not more
    return found


def test_merging_keeps_every_answer_and_spends_fewer_bytes(api_any_db, any_database):
    index = components.log_index()
    now = 1_790_000_000_000
    for number, batch in enumerate(flushes(now)):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    start = now - 3 * HOUR
    before = {s: everything(index, s, start) for s in ("checkout", "search")}
    stats_before = index.stats("checkout", now)
    streams_before = sorted(index.streams(start, now))
    blocks_before = index.db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"]

    summary = merge_small_blocks(index.db, now, max_groups=10)

    assert summary.groups == 2 and summary.blocks_merged == blocks_before == 80
    assert index.db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"] == 2
    after = {s: everything(index, s, start) for s in ("checkout", "search")}
    for service in before:  # the same entries, ids and all; only the archive key is gone
        assert [{**e, "r2_key": None} for e in before[service]] == after[service]
    assert index.stats("checkout", now) == stats_before
    assert sorted(index.streams(start, now)) == streams_before
    some = before["search"][17]
    assert index.get(some["id"]) == {**some, "r2_key": None}
    error_filter = SearchFilters(service="checkout", level="ERROR", start_time=start, limit=1000)
    assert len(index.search(error_filter)[0]) == stats_before["levels"]["ERROR"]
    # Merging again changes nothing.
    assert merge_small_blocks(index.db, now, max_groups=10).groups == 0


def test_merging_spends_fewer_bytes(api):
    index = components.log_index()
    now = 1_790_000_000_000
    for number, batch in enumerate(flushes(now, count=400)):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    path = index.db.path
    index.db.query("PRAGMA wal_checkpoint(TRUNCATE)")
    logs = index.db.query("SELECT sum(entry_count) AS n FROM log_blocks")[0]["n"]
    before = page_bytes(path) / logs
    merge_small_blocks(index.db, now, max_groups=10)
    index.db.query("PRAGMA wal_checkpoint(TRUNCATE)")
    after = page_bytes(path) / logs
    assert after < before * 0.6, (before, after)  # measured: 387 -> 197


def test_an_hour_not_yet_over_and_full_blocks_are_left_alone(api):
    index = components.log_index()
    now = 1_790_000_000_000
    current = now // HOUR * HOUR
    for number in range(5):  # small blocks of the current hour
        t = current + number
        batch = [LogEntry(entry_id(t), "checkout", "INFO", f"m{number}", t, {})]
        index.write(index.prepare(batch, f"now-{number}"), {})
    assert merge_small_blocks(index.db, now, max_groups=10).groups == 0


def test_a_merge_whose_blocks_changed_meanwhile_changes_nothing(api):
    """Two writers merge the same hour: the second one's blocks are gone, so it inserts
    nothing and deletes nothing."""
    from logsvc.store import block_merges

    index = components.log_index()
    now = 1_790_000_000_000
    for number, batch in enumerate(flushes(now, services=("checkout",), count=6)):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    ids = [row["id"] for row in index.db.query("SELECT id FROM log_blocks ORDER BY id")]
    merged = block_merges._merged(index.db, ids)
    # Meanwhile another writer merged all but the first block.
    index.db.batch(block_merges._replacing(ids[1:], block_merges._merged(index.db, ids[1:])))
    remaining = index.db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"]
    assert remaining == 2
    index.db.batch(block_merges._replacing(ids, merged))  # the stale merge
    assert index.db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"] == 2
    entries = everything(index, "checkout", now - 3 * HOUR)
    assert len(entries) == len({e["id"] for e in entries}) == 1 + 2 + 3 + 1 + 2 + 3


def test_the_writer_merges_past_hours_as_it_flushes(api):
    from logsvc.writer import Writer

    now = 1_790_000_000_000
    clock = [now]
    index = components.log_index()
    writer = Writer(components.log_archive(), index, clock=lambda: clock[0])
    for number, batch in enumerate(flushes(now, count=30)):
        writer.store(batch, f"flush-{number}")
        if number == 0:
            assert index.db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"] == 2
    clock[0] += 60_000
    writer.store(flushes(now + HOUR, count=1)[0], "later")
    counts = index.db.query("SELECT service_name, count(*) AS n FROM log_blocks GROUP BY 1")
    # Each service: its merged hour and the later flush's block.
    assert {row["service_name"]: row["n"] for row in counts} == {"checkout": 2, "search": 2}
