"""Blocks that fill across flushes (logsvc.store.open_blocks): the writer appends a quiet
service's next flushes to its newest small block. Fewer bytes per log, the same answers,
on SQLite, the D1 REST stand-in and real D1 (workerd, through the bridge)."""

from __future__ import annotations

import sqlite3

import pytest

from logsvc import components
from logsvc.entries import LogEntry
from logsvc.filters import SearchFilters
from logsvc.ids import entry_id
from logsvc.sql import SqlError
from logsvc.store.log_index import LogIndex
from logsvc.store.open_blocks import OPEN_BLOCK_ENTRIES, OpenBlocks

NOW = 1_790_000_000_000


def flushes(count: int, services=("checkout", "search")) -> list[list[LogEntry]]:
    """What a writer stores every 4 seconds for quiet services: 1-3 entries each."""
    batches = []
    for flush in range(count):
        entries = []
        for service in services:
            for n in range(1 + flush % 3):
                timestamp = NOW + flush * 4000 + n
                level = "ERROR" if (flush + n) % 5 == 0 else "INFO"
                metadata = {"request_id": f"r{flush}-{n}", "labels": {"env": f"e{flush % 2}"}}
                message = f"{service} flush {flush} entry {n} — ünïcode"
                entries.append(
                    LogEntry(entry_id(timestamp), service, level, message, timestamp, metadata)
                )
        batches.append(entries)
    return batches


def store(index: LogIndex, batches: list[list[LogEntry]]) -> None:
    for number, batch in enumerate(batches):
        index.write(index.prepare(batch, f"flush-{number}"), {"checkout": "k1", "search": "k2"})


def blocks(index: LogIndex) -> int:
    return index.db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"]


def everything(index: LogIndex, service: str) -> list[dict]:
    found, more = index.search(SearchFilters(service=service, start_time=NOW, limit=1000))
    assert not more
    return found


def test_appended_blocks_answer_as_separate_ones_do(api_any_db, any_database):
    db = components.database()
    batches = flushes(60)  # 120 entries a service
    appending = LogIndex(db, open_blocks=OpenBlocks())
    store(appending, batches)
    assert blocks(appending) == 2  # one block a service, open still
    answers = {
        "checkout": everything(appending, "checkout"),
        "search": everything(appending, "search"),
        "stats": appending.stats("checkout", NOW + 3_600_000),
        "streams": sorted(appending.streams(NOW, NOW + 3_600_000)),
        "errors": appending.search(
            SearchFilters(service="search", level="ERROR", start_time=NOW, limit=1000)
        )[0],
    }
    some = answers["search"][17]
    assert appending.get(some["id"]) == some
    db.execute("DELETE FROM log_blocks")
    separate = LogIndex(db)
    store(separate, batches)
    assert blocks(separate) == 120
    for service in ("checkout", "search"):
        assert everything(separate, service) == [
            {**e, "r2_key": "k1" if service == "checkout" else "k2"} for e in answers[service]
        ]
    assert separate.stats("checkout", NOW + 3_600_000) == answers["stats"]
    assert sorted(separate.streams(NOW, NOW + 3_600_000)) == answers["streams"]
    errors = separate.search(
        SearchFilters(service="search", level="ERROR", start_time=NOW, limit=1000)
    )[0]
    assert [e["id"] for e in errors] == [e["id"] for e in answers["errors"]]


def test_a_block_takes_appends_until_it_is_full(api):
    index = LogIndex(components.database(), open_blocks=OpenBlocks())
    batches = flushes(400, services=("checkout",))  # 799 entries
    store(index, batches)
    counts = [
        row["entry_count"]
        for row in index.db.query("SELECT entry_count FROM log_blocks ORDER BY first_ts")
    ]
    assert sum(counts) == 799
    assert all(count <= OPEN_BLOCK_ENTRIES for count in counts)
    assert len(counts) == 4  # 256 at most each: 3 full (give or take a flush) and one open


def page_bytes(path: str) -> int:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (
            connection.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("page_count", "freelist_count", "page_size")
        )
    return (pages - free) * size


def test_quiet_services_spend_half_the_bytes(api, tmp_path):
    from logsvc.sql import open_database
    from tests.conftest import migrated_sqlite

    batches = flushes(600, services=[f"svc-{n}" for n in range(10)])
    per_log = {}
    for name, open_blocks in (("separate", None), ("appending", OpenBlocks())):
        db = open_database(migrated_sqlite(tmp_path / f"{name}.db"))
        empty = page_bytes(str(tmp_path / f"{name}.db"))
        index = LogIndex(db, open_blocks=open_blocks)
        store(index, batches)
        logs = sum(len(batch) for batch in batches)
        per_log[name] = (page_bytes(str(tmp_path / f"{name}.db")) - empty) / logs
        db.close()
    # Measured: 320 and 158 bytes a log.
    assert per_log["appending"] < per_log["separate"] * 0.65, per_log


def test_an_open_block_that_changed_or_went_meanwhile_gets_a_new_block(api):
    """Expiry, the size budget or another writer changed or deleted the open block: the
    entries go into a block of their own; nothing is lost or stored twice."""
    index = LogIndex(components.database(), open_blocks=OpenBlocks())
    batches = flushes(9, services=("checkout",))  # 1, 2, 3, 1, 2, 3... entries
    store(index, batches[:3])
    assert blocks(index) == 1
    # Changed behind this writer's back (as expiry nulling an entry would).
    index.db.execute("UPDATE log_blocks SET entry_count = entry_count - 1")
    store(index, batches[3:5])
    assert blocks(index) == 2  # the changed one, and a new one that took the next flush
    # Deleted behind its back (the size budget): the next flush starts another block.
    gone = index.db.query("SELECT id FROM log_blocks WHERE entry_count = 3")
    index.db.execute("DELETE FROM log_blocks WHERE id = ?", (gone[0]["id"],))
    store(index, batches[5:9])
    assert blocks(index) == 2
    ids = [e["id"] for e in everything(index, "checkout")]
    assert len(ids) == len(set(ids))
    expected = {e.id for batch in batches for e in batch}
    assert expected - set(ids) == {e.id for batch in batches[3:5] for e in batch}


def test_after_a_failed_write_nothing_is_assumed_open(api):
    index = LogIndex(components.database(), open_blocks=OpenBlocks())
    batches = flushes(4, services=("checkout",))
    store(index, batches[:2])
    with pytest.raises(SqlError):
        index.write(index.prepare(batches[2], "bad"), {}, [_failing()])
    store(index, batches[2:])
    found = everything(index, "checkout")
    assert len(found) == sum(len(b) for b in batches)
    assert blocks(index) == 2  # the failed flush left the first block closed


def _failing():
    from logsvc.sql import Statement

    return Statement("INSERT INTO no_such_table VALUES (1)")


def test_a_batch_with_two_blocks_of_a_service_appends_and_inserts_in_order(api):
    index = LogIndex(components.database(), open_blocks=OpenBlocks())
    first = [LogEntry(entry_id(NOW), "checkout", "INFO", "first", NOW)]
    store(index, [first])
    late = NOW + 3 * 3_600_000  # past a block's two hours: a second block of the batch
    batch = [
        LogEntry(entry_id(NOW + 1000), "checkout", "INFO", "soon after", NOW + 1000),
        LogEntry(entry_id(NOW + 2000), "checkout", "WARN", "and again", NOW + 2000),
        LogEntry(entry_id(late), "checkout", "ERROR", "much later", late),
    ]
    index.write(index.prepare(batch, "two-blocks"), {})
    rows = index.db.query("SELECT entry_count FROM log_blocks ORDER BY first_ts")
    assert [row["entry_count"] for row in rows] == [3, 1]  # appended, then its own
    found, _ = index.search(SearchFilters(service="checkout", start_time=NOW, limit=10))
    assert [e["message"] for e in found] == ["much later", "and again", "soon after", "first"]
    more = [LogEntry(entry_id(late + 1), "checkout", "INFO", "after that", late + 1)]
    store(index, [more])
    rows = index.db.query("SELECT entry_count FROM log_blocks ORDER BY first_ts")
    assert [row["entry_count"] for row in rows] == [3, 2]  # the newest block is the open one


def test_an_open_block_sealed_meanwhile_gets_a_new_block(api_any_db, any_database):
    """Cleanup's sweep sealed the open block (its newest entry was old): it takes no more
    appends; the next flush's entries go into a block of their own, once."""
    index = LogIndex(components.database(), open_blocks=OpenBlocks())
    batches = flushes(6, services=("checkout",))
    store(index, batches[:2])
    assert index.seal_open(before_ms=NOW + 3_600_000, limit=10) == 1
    store(index, batches[2:4])  # a new block, which takes the next flush
    rows = index.db.query("SELECT entry_count, words_doc FROM log_blocks ORDER BY first_ts")
    assert [(r["entry_count"], r["words_doc"] is None) for r in rows] == [(3, False), (4, True)]
    store(index, batches[4:])
    ids = [e["id"] for e in everything(index, "checkout")]
    assert sorted(ids) == sorted(e.id for batch in batches for e in batch)


def test_an_append_sends_its_entries_once(api):
    """The statement that appends also inserts them when the open block is not as this
    writer left it: its entries are in it once (they were twice: an UPDATE, and an INSERT
    in case it did not apply)."""
    index = LogIndex(components.database(), open_blocks=OpenBlocks())
    batches = flushes(2, services=("checkout",))
    store(index, batches[:1])
    statements, plans = index.open_blocks.statements(index.prepare(batches[1], "next").blocks, {})
    assert [plan.appended is not None for plan in plans] == [True]
    message = batches[1][0].message
    sent = [p for s in statements for p in s.params if isinstance(p, str) and message in p]
    assert len(sent) == 1
    assert len(statements) == 1
