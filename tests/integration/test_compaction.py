"""Compaction of past days into Parquet, in the daily cleanup: searches, ids and /full work
the same before and after, and a run that stops half-way, a late object or a corrupt one
never duplicates or loses an entry."""

import gzip
import time

import duckdb
import pytest

from logsvc import components
from logsvc.archive.compaction import CompactionSummary, Compactor
from logsvc.archive.log_archive import SHARED_FOLDER

DAY = 86_400_000
PLENTY = lambda: 10**9  # noqa: E731 - the cleaner's time budget
LONG = "stack trace line\n" * 200  # longer than the index keeps (1000 characters)


@pytest.fixture
def archived(api):
    """Three batches for each of three past days and one for today, of two services."""
    now = int(time.time() * 1000)
    ids = []
    for days_ago in (3, 2, 1):
        for batch in range(3):
            logs = [
                {
                    "service_name": service,
                    "level": "ERROR" if i % 4 == 0 else "INFO",
                    "message": f"{service} day-{days_ago} batch-{batch} entry-{i} " + LONG,
                    "timestamp": now - days_ago * DAY + batch * 1000 + i,
                    "metadata": {"i": i, "batch": batch},
                }
                for service in ("checkout", "search")
                for i in range(10)
            ]
            response = api.post("/api/v1/logs/ingest/batch", {"logs": logs})
            assert response.status == 201, response.body
            ids += response.body["ids"]
    today = [{"service_name": "checkout", "level": "INFO", "message": "today", "timestamp": now}]
    assert api.post("/api/v1/logs/ingest/batch", {"logs": today}).status == 201
    return api, now, ids


def everything(api, now, **query):
    """Every entry of the last 30 days from the archive tier (the hot window set to 1 day
    so the three past days are the archive's)."""
    body = api.get(
        "/api/v1/logs/search",
        start_time=now - 30 * DAY,
        end_time=now - DAY + 10_000,
        limit=1000,
        **query,
    ).body
    return [(e["id"], e["message"], e["metadata"]) for e in body["logs"]], body


def compact(clock=None) -> CompactionSummary:
    summary = CompactionSummary()
    Compactor(components.log_archive(), **({"clock": clock} if clock else {})).run(
        lambda: None, summary
    )
    return summary


def parquet_files(archive_dir):
    return sorted((archive_dir / "compacted").rglob("*.parquet"))


def test_searches_answer_the_same_after_compaction(archived, archive_dir):
    api, now, _ = archived
    api.put("/api/v1/logs/config/checkout", {"ttl_days": 1})
    api.put("/api/v1/logs/config/search", {"ttl_days": 1})
    before, _ = everything(api, now)
    by_q_before, _ = everything(api, now, q="DAY-2 BATCH-1")
    assert len(before) == 180 and len(by_q_before) == 20

    summary = compact()

    # Each batch of two services' 10 entries is one shared object: 3 day folders of 3.
    assert (summary.days_compacted, summary.objects_compacted) == (3, 9)
    assert summary.entries_written == 180
    assert not list((archive_dir / "logs").rglob("*.ndjson.gz"))[1:]  # today's only
    assert len(list((archive_dir / "logs" / "checkout").rglob("*.ndjson.gz"))) == 1  # today
    assert len(parquet_files(archive_dir)) == 6
    after, body = everything(api, now)
    assert after == before
    assert body["archive"]["objects_read"] == 6
    assert everything(api, now, q="DAY-2 BATCH-1")[0] == by_q_before
    assert everything(api, now, filter="metadata.i>=8", service="search")[0] == [
        e for e in before if e[2]["i"] >= 8 and e[1].startswith("search")
    ]


def test_the_parquet_is_zstd_sorted_by_time_with_row_group_statistics(archived, archive_dir):
    compact()
    path = str(parquet_files(archive_dir)[0])
    meta = duckdb.sql(
        "SELECT compression, stats_min, stats_max FROM parquet_metadata(?) "
        "WHERE path_in_schema = 'timestamp'",
        params=[path],
    ).fetchall()
    assert meta and all(row[0] == "ZSTD" and row[1] is not None for row in meta)
    times = [
        r[0] for r in duckdb.sql("SELECT timestamp FROM read_parquet(?)", params=[path]).fetchall()
    ]
    assert times == sorted(times)


def test_ids_and_full_entries_resolve_through_the_compacted_file(archived):
    api, now, ids = archived
    # A block of one request keeps its object's key; the fixture's took later requests'
    # entries (logsvc.store.open_blocks), so they keep none.
    alone = {
        "service_name": "billing",
        "level": "INFO",
        "message": "billing alone " + LONG,
        "timestamp": now - 2 * DAY,
    }
    (alone_id,) = api.post("/api/v1/logs/ingest/batch", {"logs": [alone]}).body["ids"]
    compact()
    for entry_id, key in ((alone_id, ".ndjson.gz"), (ids[0], None), (ids[-1], None)):
        indexed = api.get(f"/api/v1/logs/logs/{entry_id}")
        assert indexed.status == 200
        stored = indexed.body["r2_key"]
        assert stored.endswith(key) if key else stored is None
        full = api.get(f"/api/v1/logs/logs/{entry_id}/full")
        assert full.status == 200, full.body
        assert full.body["message"].endswith(LONG) and len(full.body["message"]) > 1000
        assert full.body["r2_key"] == stored  # the id's object, as stored


def test_a_second_run_changes_nothing(archived, archive_dir):
    compact()
    files = parquet_files(archive_dir)
    again = compact()
    assert again.days_compacted == 0 and parquet_files(archive_dir) == files


def test_a_run_stopped_before_deleting_never_duplicates(archived, archive_dir, monkeypatch):
    api, now, _ = archived
    api.put("/api/v1/logs/config/checkout", {"ttl_days": 1})
    api.put("/api/v1/logs/config/search", {"ttl_days": 1})
    before, _ = everything(api, now)
    objects = components.log_archive().objects

    def crash(keys):  # deletes one object, then the function's time runs out
        type(objects).delete(objects, keys[:1])
        raise TimeoutError("the invocation ended")

    monkeypatch.setattr(objects, "delete", crash)
    with pytest.raises(TimeoutError):
        compact()
    monkeypatch.undo()
    compact()
    assert everything(api, now)[0] == before


def test_a_late_object_for_a_compacted_day_adds_a_file_not_duplicates(archived, archive_dir):
    api, now, _ = archived
    api.put("/api/v1/logs/config/checkout", {"ttl_days": 1})
    compact()
    late = {
        "service_name": "checkout",
        "level": "WARN",
        "message": "late backfill",
        "timestamp": now - 2 * DAY + 5,
    }
    assert api.post("/api/v1/logs/ingest/batch", {"logs": [late]}).status == 201
    summary = compact()
    assert summary.entries_written == 1
    found, _ = everything(api, now, service="checkout")
    assert len(found) == 91 and len({e[0] for e in found}) == 91


def test_a_corrupt_object_stays_and_is_reported_the_rest_is_compacted(archived, archive_dir):
    victim = sorted((archive_dir / "logs" / SHARED_FOLDER).rglob("*.ndjson.gz"))[0]
    victim.write_bytes(gzip.compress(b'{"id": "broken"')[:-4])
    summary = compact()
    key = victim.relative_to(archive_dir).as_posix()
    assert summary.unreadable_objects == [key]
    assert victim.exists()  # kept for someone to look at, never silently dropped
    assert summary.objects_compacted == 8


def test_the_cleanup_job_compacts_and_reports_it(archived):
    summary = components.cleaner().run(PLENTY)
    assert summary.compaction is not None
    assert summary.to_dict()["compaction"]["days_compacted"] == 3  # shared day folders


def test_objects_written_before_objects_held_one_day_are_filed_by_entry_day(api, archive_dir):
    """Objects used to be dated by their newest entry and could hold older days' entries
    (a backfill): compaction files each entry under its own day, so searches find it."""
    from logsvc.archive.log_archive import encode_records, object_key
    from logsvc.clock import utc_date

    now = int(time.time() * 1000)
    records = [
        {
            "id": f"0190{i:04x}-0000-7000-8000-000000000000",
            "service_name": "legacy",
            "level": "ERROR",
            "message": f"legacy {days}",
            "timestamp": now - days * DAY,
            "metadata": {},
            "source_type": "http",
        }
        for i, days in enumerate((2, 9))
    ]
    key = object_key("legacy", utc_date(now - 2 * DAY), "old-layout")
    components.log_archive().objects.put(key, encode_records(records), "x", "gzip")
    summary = compact()
    assert summary.entries_written == 2
    days = sorted(p.parent.name for p in (archive_dir / "compacted" / "legacy").rglob("*.parquet"))
    assert days == [utc_date(now - 9 * DAY), utc_date(now - 2 * DAY)]
    found = api.get(
        "/api/v1/logs/search",
        service="legacy",
        start_time=now - 10 * DAY,
        end_time=now - 8 * DAY,  # past the hot window: the archive answers
    ).body
    assert [e["message"] for e in found["logs"]] == ["legacy 9"]


def test_a_day_is_compacted_in_slices_each_run_keeping_its_progress(
    archived, archive_dir, monkeypatch
):
    """A day with more objects than a slice, and runs that stop for time: every slice
    finished stays done, the next run carries on, and no entry is written twice."""
    from logsvc.archive import compaction
    from logsvc.cleanup import OutOfTime

    api, now, _ = archived
    before, _ = everything(api, now)
    monkeypatch.setattr(compaction, "SLICE_OBJECTS", 2)  # each day folder holds 3 objects
    runs = 0
    while True:
        runs += 1
        checks = iter(range(3))  # three slices a run, then time is up

        def check_time(checks=checks) -> None:
            if next(checks, None) is None:
                raise OutOfTime

        summary = CompactionSummary()
        try:
            Compactor(components.log_archive()).run(check_time, summary)
            break
        except OutOfTime:
            assert summary.objects_compacted > 0  # every run makes progress
    assert runs == 2  # 3 day folders x 2 slices = 6 slices, three a run
    assert not list((archive_dir / "logs").rglob("*.ndjson.gz"))[:-2]  # today's stay
    after, _ = everything(api, now)
    assert sorted(after) == sorted(before)


def test_cleanup_expires_the_index_before_compacting(archived, monkeypatch):
    """A run that runs out of time while compacting has expired the index already: the
    part that keeps D1 from filling never waits behind the archive."""
    from logsvc.cleanup import TIME_RESERVE_MS

    components.config_store().update("checkout", {"ttl_days": 1}, int(time.time() * 1000))
    components.config_store().update("search", {"ttl_days": 1}, int(time.time() * 1000))
    slices = []
    real = Compactor.compact

    def counted(self, *args):
        slices.append(args)
        return real(self, *args)

    monkeypatch.setattr(Compactor, "compact", counted)
    # Time runs out once two slices are compacted.
    summary = components.cleaner().run(lambda: 60_000 if len(slices) < 2 else TIME_RESERVE_MS - 1)
    assert not summary.complete
    assert summary.logs_deleted >= 120  # the entries of two days ago and before, at least
    for service in summary.services:  # nothing older than its cutoff is left in the index
        first = components.log_index().stats(service.service_name, service.cutoff)
        assert first["first_timestamp"] is None or first["first_timestamp"] >= service.cutoff
    assert summary.compaction is not None  # reached, and stopped for time
    assert summary.compaction.days_compacted == 2  # of 6


def test_an_entry_archived_twice_is_compacted_once(api, archive_dir):
    """A flush retried in halves (the stream's bisection) archives entries again under
    another object's name: the day's Parquet holds each entry once."""
    from logsvc.entries import LogEntry
    from logsvc.ids import entry_id

    now = int(time.time() * 1000)
    day_ago = now - 2 * DAY
    entries = [
        LogEntry(entry_id(day_ago + n), "checkout", "INFO", f"entry {n}", day_ago + n)
        for n in range(10)
    ]
    archive = components.log_archive()
    archive.archive_batch(entries, "shard-0:100")  # the whole batch's try
    archive.archive_batch(entries[5:], "shard-0:105")  # its second half, retried
    summary = compact()
    assert summary.entries_written == 10
    (path,) = parquet_files(archive_dir)
    rows = duckdb.sql("SELECT id FROM read_parquet(?)", params=[str(path)]).fetchall()
    ids = [row[0] for row in rows]
    assert sorted(ids) == sorted(e.id for e in entries)
