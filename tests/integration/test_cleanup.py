"""Retention cleanup: per-service TTLs to the millisecond, batches, time budget, archive
folders, old analysis results, and the summary logged as the service's own entry."""

import threading

import pytest

from logsvc import components
from logsvc.archive.log_archive import object_key
from logsvc.cleanup import TIME_RESERVE_MS, Cleaner
from logsvc.clock import DAY_MS
from logsvc.entries import LogEntry
from logsvc.filters import SearchFilters
from logsvc.store.analyses import AnalysisResult
from logsvc.store.configs import RetentionDefaults
from logsvc_local.events import LocalContext
from logsvc_local.project import load_handler

NOW = 1_800_000_000_000
PLENTY = lambda: 10**9  # noqa: E731 - a time budget that never runs out


def entry(service: str, age_ms: int, level: str = "INFO") -> LogEntry:
    return LogEntry(
        id="",
        service_name=service,
        level=level,
        message=f"{service} {age_ms}",
        timestamp=NOW - age_ms,
    )


def ages(service: str) -> list[int]:
    logs, _ = components.log_index().search(SearchFilters(service=service, limit=1000))
    return sorted(NOW - e["timestamp"] for e in logs)


def cleaner(batch_size: int = 1000) -> Cleaner:
    return Cleaner(
        components.log_index(),
        components.config_store(),
        components.log_archive(),
        components.analysis_store(),
        RetentionDefaults(ttl_days=30, archive_ttl_days=60),
        batch_size=batch_size,
        clock=lambda: NOW,
    )


@pytest.fixture
def stored(api_any_db):
    """Three services with different retention; one request per service mixing ages, so
    blocks straddle each cutoff; entries exactly at and just past each cutoff."""
    configs = components.config_store()
    configs.update("seven", {"ttl_days": 7}, NOW)
    configs.update("extended", {"retention_policy": "extended"}, NOW)  # 90 days
    for service, ttl in (("seven", 7), ("extended", 90), ("default", 30)):
        cutoff_age = ttl * DAY_MS
        components.ingestor().record(
            [
                entry(service, 1000),
                entry(service, cutoff_age),
                entry(service, cutoff_age + 1),
                entry(service, cutoff_age - 1, "ERROR"),
                entry(service, cutoff_age + 5 * DAY_MS),
            ]
        )
    return api_any_db


def test_each_service_keeps_exactly_what_its_ttl_says(stored):
    summary = cleaner().run(PLENTY)
    assert summary.complete
    for service, ttl in (("seven", 7), ("extended", 90), ("default", 30)):
        assert ages(service) == [1000, ttl * DAY_MS - 1, ttl * DAY_MS], service
    assert {s.service_name: s.logs_deleted for s in summary.services} == {
        "seven": 2,
        "extended": 2,
        "default": 2,
    }
    # Ids of the kept entries in trimmed blocks still resolve.
    logs, _ = components.log_index().search(SearchFilters(limit=100))
    for log in logs:
        assert components.log_index().get(log["id"])["message"] == log["message"]
    assert components.log_index().stats("seven", NOW)["total"] == 3


def test_running_twice_or_concurrently_changes_nothing_more(stored):
    threads = [threading.Thread(target=cleaner().run, args=(PLENTY,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = cleaner().run(PLENTY)
    assert again.logs_deleted == 0
    assert ages("seven") == [1000, 7 * DAY_MS - 1, 7 * DAY_MS]


HOURS_3 = 3 * 3_600_000  # farther apart than a block spans: each request its own block


def test_more_rows_than_one_batch(api):
    for i in range(12):  # twelve blocks of two entries (and twelve of one), all expired
        components.ingestor().record(
            [entry("bulk", 40 * DAY_MS + i * HOURS_3), entry("bulk", 60 * DAY_MS + i * HOURS_3)]
        )
    summary = cleaner(batch_size=5).run(PLENTY)
    assert (summary.complete, summary.logs_deleted) == (True, 24)
    assert ages("bulk") == []


def test_an_exhausted_time_budget_resumes_at_the_next_run(api):
    for i in range(12):  # twelve blocks
        components.ingestor().record([entry("bulk", 40 * DAY_MS + i * HOURS_3)])
    calls = iter([60_000, 60_000, TIME_RESERVE_MS - 1])
    first = cleaner(batch_size=5).run(lambda: next(calls, 0))
    assert (first.complete, first.logs_deleted) == (False, 10)
    assert len(ages("bulk")) == 2
    second = cleaner(batch_size=5).run(PLENTY)
    assert (second.complete, second.logs_deleted) == (True, 2)
    assert ages("bulk") == []


def test_archive_date_folders_past_the_archive_ttl_go(api, archive_dir):
    components.config_store().update("short", {"archive_ttl_days": 10}, NOW)
    objects = components.log_archive().objects
    for service, date in (
        ("short", "2026-12-25"),
        ("short", "2027-01-04"),
        ("short", "2027-01-05"),
        ("other", "2026-11-01"),
        ("other", "2026-11-17"),
    ):
        objects.put(object_key(service, date, "x"), b"data", "application/x-ndjson", "gzip")
    # NOW is 2027-01-15T08:00Z: "short" keeps 10 days (from 2027-01-05), "other" 60 days.
    summary = cleaner().run(PLENTY)
    assert sorted(objects.list_keys("logs/")) == [
        "logs/other/2026-11-17/x.ndjson.gz",
        "logs/short/2027-01-05/x.ndjson.gz",
    ]
    assert summary.archive_objects_deleted == 3


def test_old_analysis_results_are_pruned(api):
    store = components.analysis_store()
    for age_days in (100, 5):
        store.save(
            AnalysisResult(
                id=f"r{age_days}",
                service_name="s",
                severity="LOW",
                summary="",
                analyzed_at=NOW - age_days * DAY_MS,
            )
        )
    store.record_alert("s", "k", NOW - 100 * DAY_MS)
    summary = cleaner().run(PLENTY)
    assert [r.id for r in store.history("s")] == ["r5"]
    assert (summary.analysis_results_deleted, summary.alert_states_deleted) == (1, 1)


def test_the_handler_logs_its_summary_as_an_agent_entry(stored, monkeypatch):
    handler = load_handler("cleanup").lambda_handler
    result = handler({}, LocalContext("cleanup", timeout_seconds=900))
    assert result["complete"] is True
    own = stored.get("/api/v1/logs/recent/logsService-cleanup").body["logs"]
    assert len(own) == 1
    assert own[0]["source_type"] == "agent"
    assert own[0]["metadata"]["logs_deleted"] == result["logs_deleted"]


def test_expired_live_tail_connections_are_removed(api):
    from logsvc.live_tail.subscriptions import Subscription
    from logsvc.store.connections import CONNECTION_TTL_MS

    registry = components.connection_registry()
    registry.connect("gone", NOW - CONNECTION_TTL_MS - 1)
    registry.connect("here", NOW - 1000)
    for connection_id in ("gone", "here"):
        registry.subscribe(connection_id, Subscription())
    cleaner = Cleaner(
        components.log_index(),
        components.config_store(),
        components.log_archive(),
        components.analysis_store(),
        RetentionDefaults(),
        connections=registry,
        clock=lambda: NOW,
    )
    assert cleaner.run(PLENTY).stream_connections_expired == 1
    assert [c for c, _ in registry.subscribers(NOW)] == ["here"]
