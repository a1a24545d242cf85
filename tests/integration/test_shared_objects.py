"""Archive objects several services share: a writer flush of single-entry traffic from many
services is one PUT, not one per service (docs/COST.md: $175 a month of PUTs at 10 M
single-entry requests a day from 50 services); searches read them, compaction splits them
into each service's files, cleanup removes what compaction could not."""

from __future__ import annotations

import time

from logsvc.archive.compaction import CompactionSummary, Compactor
from logsvc.archive.duckdb_engine import DuckDbArchive
from logsvc.archive.local import LocalObjectStore
from logsvc.archive.log_archive import SHARED_BELOW, SHARED_FOLDER, LogArchive
from logsvc.archive.query import ArchiveQuery
from logsvc.cleanup import Cleaner
from logsvc.clock import DAY_MS, utc_date
from logsvc.entries import LogEntry
from logsvc.ids import new_id

NOW = int(time.time() * 1000)


class CountingStore(LocalObjectStore):
    def __init__(self, root: str):
        super().__init__(root)
        self.puts: list[str] = []

    def put(self, key, data, content_type, content_encoding):
        self.puts.append(key)
        super().put(key, data, content_type, content_encoding)


def entries(service: str, count: int, at: int) -> list[LogEntry]:
    return [
        LogEntry(
            id=new_id(),
            service_name=service,
            level="ERROR" if i % 2 else "INFO",
            message=f"{service} entry {i}",
            timestamp=at + i,
        )
        for i in range(count)
    ]


def test_a_flush_of_many_small_services_is_one_object(tmp_path):
    store = CountingStore(str(tmp_path))
    archive = LogArchive(store)
    batch = [e for n in range(50) for e in entries(f"service-{n:02d}", 9, NOW - DAY_MS)]
    keys = archive.archive_batch(batch, "flush-1")
    (key,) = store.puts
    assert key.startswith(f"logs/{SHARED_FOLDER}/{utc_date(NOW - DAY_MS)}/")
    assert set(keys.values()) == {key} and len(keys) == 50
    assert archive.services() == []  # the folder is not a service
    # A retry of the same flush rewrites the same object.
    archive.archive_batch(batch, "flush-1")
    assert store.puts == [key, key]


def test_a_large_group_and_a_lone_service_keep_objects_of_their_own(tmp_path):
    store = CountingStore(str(tmp_path))
    archive = LogArchive(store)
    big = entries("big", SHARED_BELOW, NOW)
    small = entries("a", 3, NOW) + entries("b", 3, NOW)
    archive.archive_batch(big + small)
    assert sorted(k.split("/")[1] for k in store.puts) == ["big", SHARED_FOLDER]
    store.puts.clear()
    archive.archive_batch(entries("alone", 5, NOW))  # one service: nothing to share
    assert [k.split("/")[1] for k in store.puts] == ["alone"]
    assert archive.services() == ["alone", "big"]


def test_searches_read_shared_objects_for_their_services_only_before_and_after_compaction(
    tmp_path,
):
    archive = LogArchive(LocalObjectStore(str(tmp_path)))
    day = NOW - 2 * DAY_MS
    archive.archive_batch(entries("checkout", 4, day) + entries("search", 6, day))
    engine = DuckDbArchive(archive)

    def found(*services: str) -> list[str]:
        query = ArchiveQuery(NOW - 3 * DAY_MS, NOW, services or None, limit=100)
        return sorted(e["message"] for e in engine.search(query).entries)

    before = (found("checkout"), found("search"), found())
    assert len(before[0]) == 4 and all(m.startswith("checkout") for m in before[0])
    assert len(before[1]) == 6 and len(before[2]) == 10
    summary = CompactionSummary()
    Compactor(archive).run(lambda: None, summary)
    assert (summary.objects_compacted, summary.entries_written) == (1, 10)
    assert archive.keys(SHARED_FOLDER, utc_date(day)) == []
    assert [
        len(archive.keys(s, utc_date(day), compacted=True)) for s in ("checkout", "search")
    ] == [
        1,
        1,
    ]
    assert (found("checkout"), found("search"), found()) == before


def test_cleanup_removes_shared_objects_once_past_every_services_archive_ttl(api):
    from logsvc import components
    from logsvc.store.configs import RetentionDefaults

    archive = components.log_archive()
    components.config_store().update("short", {"archive_ttl_days": 2}, NOW)
    components.config_store().update("long", {"archive_ttl_days": 12}, NOW)
    for age in (5, 20):  # days: within "long"'s 12 (the longest), and past it
        at = NOW - age * DAY_MS
        archive.archive_batch(entries("short", 2, at) + entries("long", 2, at))
    cleaner = Cleaner(
        components.log_index(),
        components.config_store(),
        archive,
        components.analysis_store(),
        RetentionDefaults(ttl_days=7, archive_ttl_days=10),
        clock=lambda: NOW,
    )  # no compactor: what compaction has not split stays until every TTL has passed
    summary = cleaner.run(lambda: 10**9)
    assert archive.dates(SHARED_FOLDER) == [utc_date(NOW - 5 * DAY_MS)]
    assert summary.shared_objects_deleted == 1
