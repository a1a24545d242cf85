"""Where services' blocks live when the index spans several databases
(logsvc.store.placements, logsvc.store.shards), on SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from logsvc.entries import LogEntry
from logsvc.filters import SearchFilters
from logsvc.ids import entry_id
from logsvc.sql import open_database
from logsvc.store.log_index import LogIndex
from logsvc.store.placements import MOVE_NOTICE_MS, Placements
from logsvc.store.shards import ShardedIndex
from tests.conftest import migrated_sqlite

NOW = 1_790_000_000_000


class Counting:
    """A database that counts the statements it is asked (to see which were asked)."""

    def __init__(self, db):
        self.db, self.queries = db, 0

    def query(self, *args, **kwargs):
        self.queries += 1
        return self.db.query(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.db, name)


@pytest.fixture
def databases(tmp_path: Path):
    opened = [Counting(open_database(migrated_sqlite(tmp_path / f"db{n}.db"))) for n in range(3)]
    yield opened
    for db in opened:
        db.close()


def sharded(databases, budget=None, clock=lambda: NOW) -> ShardedIndex:
    return ShardedIndex(
        [LogIndex(db, budget) for db in databases], Placements(databases[0], clock=clock)
    )


def entries(service: str, start: int, count: int, size: int = 40) -> list[LogEntry]:
    return [
        LogEntry(entry_id(start + n), service, "INFO", f"{service} {n} " + "x" * size, start + n)
        for n in range(count)
    ]


def held(db) -> set[str]:
    return {r["service_name"] for r in db.query("SELECT DISTINCT service_name FROM log_blocks")}


def test_new_services_spread_over_the_emptiest_databases(databases):
    index = sharded(databases)
    batch = [e for n in range(6) for e in entries(f"svc-{n}", NOW, 5)]
    index.write(index.prepare(batch, "first"), {})
    assert [len(held(db)) for db in databases] == [2, 2, 2]
    for n in range(6):
        found, _ = index.search(SearchFilters(service=f"svc-{n}", start_time=NOW, limit=10))
        assert len(found) == 5


def test_a_services_search_asks_only_its_database(databases):
    index = sharded(databases)
    index.write(index.prepare(entries("checkout", NOW, 5) + entries("search", NOW, 5), "b"), {})
    before = [db.queries for db in databases]
    index.search(SearchFilters(service="checkout", start_time=NOW, limit=10))
    asked = [db.queries - b for db, b in zip(databases, before, strict=True)]
    holder = next(n for n, db in enumerate(databases) if "checkout" in held(db))
    assert [n for n, count in enumerate(asked) if count] == [holder]


def test_an_index_grown_from_one_database_keeps_services_where_their_blocks_are(databases):
    alone = LogIndex(databases[1])  # the services were written before shards existed
    alone.write(alone.prepare(entries("checkout", NOW, 5), "before"), {})
    index = sharded(databases)
    index.write(index.prepare(entries("checkout", NOW + 100, 5), "after"), {})
    assert held(databases[1]) == {"checkout"}
    found, _ = index.search(SearchFilters(service="checkout", start_time=NOW, limit=20))
    assert len(found) == 10


def test_a_service_moves_off_a_full_database_after_notice_and_is_found_in_both(databases):
    clock = [NOW]
    two = databases[:2]
    index = sharded(two, budget=400_000, clock=lambda: clock[0])
    index.write(index.prepare(entries("quiet", NOW, 1), "q"), {})  # database 0 or 1
    number = 0
    while True:  # a busy service fills its database past the budget
        index.write(index.prepare(entries("busy", NOW + number * 1000, 200, 400), f"b{number}"), {})
        number += 1
        rows = Placements(two[0]).read()["busy"]
        if len(rows) == 2:
            break
        assert number < 50
    _, (new, since) = sorted(rows, key=lambda row: row[1])
    assert since == clock[0] + MOVE_NOTICE_MS  # announced ahead
    index.write(index.prepare(entries("busy", NOW + 99_000, 3), "during"), {})
    assert "busy" not in held(two[new])  # nothing moves before the notice is up
    clock[0] += MOVE_NOTICE_MS
    index.write(index.prepare(entries("busy", NOW + 200_000, 3), "after"), {})
    assert "busy" in held(two[new])
    found, _ = index.search(SearchFilters(service="busy", start_time=NOW + 199_000, limit=10))
    assert len(found) == 3
    found, _ = index.search(SearchFilters(service="busy", start_time=NOW + 99_000, limit=10))
    assert len(found) == 6  # the newest in the new database, the rest in the old one
    # Once the old database holds none of its blocks, cleanup forgets it.
    index.expire("busy", NOW + 150_000, 1000)
    assert [row[0] for row in Placements(two[0]).read()["busy"]] == [new]


def test_a_flush_retried_after_the_first_database_failed_stores_nothing_twice(databases):
    """The other database took its share (appended to its open blocks) and then the first
    one failed: the retried flush skips the share that database has, by its checkpoint."""
    from logsvc.archive import LogArchive
    from logsvc.archive.local import LocalObjectStore
    from logsvc.errors import DatabaseUnavailable
    from logsvc.store.open_blocks import OpenBlocks
    from logsvc.writer import Writer

    class FailingOnce:
        def __init__(self, db):
            self.db, self.failed = db, False

        def batch(self, statements):
            second = [s for s in statements if "writer_checkpoints" in s.sql and s.params[1] == "5"]
            if not self.failed and second:  # the second flush's checkpoint, the first time
                self.failed = True
                raise DatabaseUnavailable("D1 lost the connection")
            return self.db.batch(statements)

        def __getattr__(self, name):
            return getattr(self.db, name)

    first, second = FailingOnce(databases[0]), databases[1]
    index = ShardedIndex(
        [LogIndex(first, None, OpenBlocks()), LogIndex(second, None, OpenBlocks())],
        Placements(databases[0]),
    )
    Placements(databases[0]).place("elsewhere", 1, 0)  # this service's blocks: database 1
    archive = LogArchive(LocalObjectStore(str(databases[0].path) + ".archive"))
    writer = Writer(archive, index)

    def records(start: int, count: int) -> list[tuple[int, list[LogEntry]]]:
        return [(start + n, entries("elsewhere", NOW + start + n, 1)) for n in range(count)]

    writer.flush("shard-0", records(0, 3))  # opens a block in database 1
    with pytest.raises(DatabaseUnavailable):
        writer.flush("shard-0", records(3, 3))  # database 1 took it, database 0 failed
    writer.flush("shard-0", records(3, 3))  # Lambda's retry of the same records
    writer.flush("shard-0", records(6, 3))
    rows = databases[1].query("SELECT entry_count FROM log_blocks")
    assert [row["entry_count"] for row in rows] == [9]  # one block, appended, no duplicate
    found, _ = index.search(SearchFilters(service="elsewhere", start_time=NOW, limit=50))
    assert len(found) == len({e["id"] for e in found}) == 9
