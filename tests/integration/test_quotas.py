"""max_logs_per_day: exact counts across batches and concurrent writers, 429 + Retry-After."""

from __future__ import annotations

import threading

from logsvc import components
from logsvc.clock import DAY_MS, utc_date
from logsvc.quotas import Quotas, seconds_until_next_utc_day
from logsvc.sql import open_database
from logsvc.store.daily_counts import SqlDailyCounts
from tests.support.api import Api


def logs(service: str, count: int) -> list[dict]:
    return [{"service_name": service, "level": "INFO", "message": f"m{i}"} for i in range(count)]


def stored(service: str) -> int:
    rows = components.database().query(
        "SELECT COALESCE(SUM(entry_count), 0) AS n FROM log_blocks WHERE service_name = ?",
        (service,),
    )
    return rows[0]["n"]


def test_single_ingest_beyond_the_quota_gets_429_with_retry_after(api: Api):
    api.put("/api/v1/logs/config/checkout", {"max_logs_per_day": 2})
    for _ in range(2):
        assert api.post("/api/v1/logs/ingest", logs("checkout", 1)[0]).status == 201
    refused = api.post("/api/v1/logs/ingest", logs("checkout", 1)[0])
    assert refused.status == 429
    assert refused.body["field"] == "service_name"
    assert "quota of 2" in refused.body["error"]
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= DAY_MS // 1000
    assert stored("checkout") == 2
    # Other services are not affected.
    assert api.post("/api/v1/logs/ingest", logs("billing", 1)[0]).status == 201


def test_batches_are_counted_exactly(api: Api):
    api.put("/api/v1/logs/config/checkout", {"max_logs_per_day": 10})
    first = api.post("/api/v1/logs/ingest/batch", {"logs": logs("checkout", 6)})
    assert first.body["accepted"] == 6
    # A service's entries in one request are admitted or refused together: 6 + 6 > 10.
    second = api.post(
        "/api/v1/logs/ingest/batch", {"logs": logs("checkout", 6) + logs("billing", 3)}
    )
    assert second.status == 201
    assert (second.body["accepted"], second.body["rejected"]) == (3, 6)
    assert {e["field"] for e in second.body["errors"]} == {"service_name"}
    assert [e["index"] for e in second.body["errors"]] == list(range(6))
    third = api.post("/api/v1/logs/ingest/batch", {"logs": logs("checkout", 4)})
    assert third.body["accepted"] == 4
    only_refused = api.post("/api/v1/logs/ingest/batch", {"logs": logs("checkout", 1)})
    assert only_refused.status == 429
    assert "retry-after" in only_refused.headers
    assert stored("checkout") == 10
    counts = components.database().query("SELECT service_name, count FROM daily_counts")
    assert {r["service_name"]: r["count"] for r in counts} == {"checkout": 10}


def test_concurrent_writers_never_exceed_the_quota(api: Api, sqlite_url: str):
    """Eight threads, each with its own connection to the same SQLite file, race for 50."""
    api.put("/api/v1/logs/config/checkout", {"max_logs_per_day": 50})
    admitted: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def writer() -> None:
        db = open_database(sqlite_url)
        quotas = Quotas(SqlDailyCounts(db), components.config_store().__class__(db))
        barrier.wait()
        for i in range(10):
            entries = [(0, _entry("checkout"))] * 3  # three entries per request
            ok, _ = quotas.admit(entries, now_ms=1_800_000_000_000 + i)
            with lock:
                admitted.append(len(ok))
        db.close()

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 240 asked for, in requests of 3: at most 16 requests (48 entries) fit under 50.
    assert sum(admitted) == 48
    rows = components.database().query(
        "SELECT count FROM daily_counts WHERE service_name = 'checkout'"
    )
    assert [r["count"] for r in rows] == [48]


def test_the_count_starts_again_each_utc_day(api: Api):
    counts = SqlDailyCounts(components.database())
    quotas = Quotas(counts, components.config_store())
    api.put("/api/v1/logs/config/checkout", {"max_logs_per_day": 1})
    day_one = 1_800_000_000_000
    assert len(quotas.admit([(0, _entry("checkout"))], day_one)[0]) == 1
    assert len(quotas.admit([(0, _entry("checkout"))], day_one)[0]) == 0
    next_day = day_one + seconds_until_next_utc_day(day_one) * 1000
    assert utc_date(next_day) != utc_date(day_one)
    assert len(quotas.admit([(0, _entry("checkout"))], next_day)[0]) == 1
    assert counts.delete_before(utc_date(next_day)) == 1


def test_retry_after_points_at_the_next_utc_midnight():
    assert seconds_until_next_utc_day(0) == 86_400
    assert seconds_until_next_utc_day(DAY_MS - 1) == 1
    assert seconds_until_next_utc_day(DAY_MS - 1500) == 2


def _entry(service: str):
    from logsvc.entries import LogEntry

    return LogEntry(
        id="x", service_name=service, level="INFO", message="m", timestamp=1, metadata=None
    )


def test_cleanup_forgets_counts_of_past_days(api: Api):
    db = components.database()
    today = utc_date(components.cleaner().clock())
    db.execute(
        "INSERT INTO daily_counts (service_name, day, count) VALUES "
        "('checkout', '2020-01-01', 5), ('checkout', ?, 7)",
        (today,),
    )
    summary = components.cleaner().run(lambda: 60_000)
    assert summary.daily_counts_deleted == 1
    rows = db.query("SELECT day, count FROM daily_counts")
    assert [(r["day"], r["count"]) for r in rows] == [(today, 7)]


def test_only_what_is_stored_is_counted(api: Api, archive_dir):
    api.put("/api/v1/logs/config/capped", {"max_logs_per_day": 10})
    entry = {"service_name": "capped", "level": "INFO", "message": "m"}
    archive_dir.parent.mkdir(parents=True, exist_ok=True)
    archive_dir.write_text("a file where the archive folder should be")  # the archive fails
    statuses = [
        api.post("/api/v1/logs/ingest/batch", {"logs": [entry] * n}).status for n in (10, 1, 10)
    ]
    assert statuses == [503, 503, 503]
    archive_dir.unlink()  # back: the whole quota is still there
    assert api.post("/api/v1/logs/ingest/batch", {"logs": [entry] * 10}).status == 201
    assert api.post("/api/v1/logs/ingest", entry).status == 429


def test_an_idempotent_replay_is_answered_not_counted(api: Api):
    api.put("/api/v1/logs/config/capped", {"max_logs_per_day": 10})
    body = {"logs": [{"service_name": "capped", "level": "INFO", "message": "m"}] * 6}
    first = api.post("/api/v1/logs/ingest/batch", body, headers={"Idempotency-Key": "q-1"})
    again = api.post("/api/v1/logs/ingest/batch", body, headers={"Idempotency-Key": "q-1"})
    assert (first.status, again.status) == (201, 201)
    assert again.body["ids"] == first.body["ids"]
