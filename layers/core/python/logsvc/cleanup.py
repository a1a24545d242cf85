"""Retention: delete what each service's TTL says has expired, in bounded, resumable steps.

Order of work, what keeps D1 from filling first: the index (per service, CLEANUP_BATCH_SIZE
blocks a step), the archive (whole date folders past the service's archive TTL), sealing
the blocks writers left open (logsvc.store.content_index), old analysis results and alert
cooldowns, and last the compaction of the archive's past days into Parquet
(logsvc.archive.compaction), the long part, in slices. Each step is
idempotent; a run that sees its time running out stops between steps and reports itself
incomplete (the cleanup function's CleanupIncomplete metric and alarm), and the next run
carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from logsvc.archive import LogArchive
from logsvc.archive.compaction import CompactionSummary, Compactor
from logsvc.archive.log_archive import SHARED_FOLDER
from logsvc.clock import DAY_MS, now_ms, utc_date
from logsvc.receipts import RECEIPT_TTL_MS
from logsvc.store.analyses import AnalysisStore
from logsvc.store.configs import ConfigStore, RetentionDefaults
from logsvc.store.connections import ConnectionRegistry
from logsvc.store.daily_counts import SqlDailyCounts
from logsvc.store.log_index import LogIndex
from logsvc.store.receipts import ReceiptStore

# Stop starting new steps when less than this much of the invocation's time is left.
TIME_RESERVE_MS = 10_000
# Blocks a writer left open (it stopped, or its service went quiet) are sealed once their
# newest entry is this old, this many a step (two statements each).
SEAL_AFTER_MS = 3_600_000
SEAL_BATCH = 50


@dataclass
class ServiceCleanup:
    service_name: str
    ttl_days: int
    cutoff: int  # entries older than this (Unix ms) are deleted
    logs_deleted: int = 0
    archive_ttl_days: int = 0
    archive_objects_deleted: int = 0


@dataclass
class CleanupSummary:
    started_at: int
    services: list[ServiceCleanup] = field(default_factory=list)
    analysis_results_deleted: int = 0
    alert_states_deleted: int = 0
    stream_connections_expired: int = 0
    daily_counts_deleted: int = 0
    shared_objects_deleted: int = 0  # objects several services shared, past every one's TTL
    blocks_sealed: int = 0  # blocks writers left open, now in the content index
    compaction: CompactionSummary | None = None
    complete: bool = True

    @property
    def logs_deleted(self) -> int:
        return sum(s.logs_deleted for s in self.services)

    @property
    def archive_objects_deleted(self) -> int:
        return self.shared_objects_deleted + sum(s.archive_objects_deleted for s in self.services)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "logs_deleted": self.logs_deleted,
            "archive_objects_deleted": self.archive_objects_deleted,
        }


class OutOfTime(Exception):
    """The invocation is about to end; the next run carries on."""


class Cleaner:
    def __init__(
        self,
        logs: LogIndex,
        configs: ConfigStore,
        archive: LogArchive,
        analyses: AnalysisStore,
        defaults: RetentionDefaults,
        *,
        batch_size: int = 1000,
        analysis_retention_days: int = 90,
        connections: ConnectionRegistry | None = None,
        daily_counts: SqlDailyCounts | None = None,
        receipts: ReceiptStore | None = None,
        compactor: Compactor | None = None,
        clock: Callable[[], int] = now_ms,
    ):
        self.logs = logs
        self.configs = configs
        self.archive = archive
        self.analyses = analyses
        self.defaults = defaults
        self.batch_size = batch_size
        self.analysis_retention_days = analysis_retention_days
        self.connections = connections
        self.daily_counts = daily_counts
        self.receipts = receipts
        self.compactor = compactor
        self.clock = clock

    def run(self, time_left_ms: Callable[[], int]) -> CleanupSummary:
        now = self.clock()
        summary = CleanupSummary(started_at=now)

        def check_time() -> None:
            if time_left_ms() < TIME_RESERVE_MS:
                raise OutOfTime

        try:
            for service_name in sorted(
                set(self.logs.service_names()) | set(self.archive.services())
            ):
                config = self.configs.get(service_name)
                ttl_days = config.effective_ttl_days(self.defaults)
                service = ServiceCleanup(service_name, ttl_days, now - ttl_days * DAY_MS)
                summary.services.append(service)
                self._expire_index(service, check_time)
                self.logs.delete_sampled_counts_before(service_name, utc_date(service.cutoff))
                self.logs.forget_window_before(service_name, service.cutoff)
                service.archive_ttl_days = config.effective_archive_ttl_days(self.defaults)
                self._expire_archive(service, now, check_time)
            longest = max(
                [self.defaults.archive_ttl_days]
                + [c.effective_archive_ttl_days(self.defaults) for c in self.configs.list()]
            )
            summary.shared_objects_deleted = self._expire_shared(now, longest, check_time)
            summary.blocks_sealed = self._seal_open(now, check_time)
            check_time()
            retention_cutoff = now - self.analysis_retention_days * DAY_MS
            summary.analysis_results_deleted = self.analyses.delete_older_than(retention_cutoff)
            summary.alert_states_deleted = self.analyses.delete_alerts_older_than(retention_cutoff)
            if self.connections is not None:  # live-tail clients that vanished
                summary.stream_connections_expired = self.connections.delete_expired(now)
            if self.daily_counts is not None:  # only today's matter; keep yesterday's too
                summary.daily_counts_deleted = self.daily_counts.delete_before(
                    utc_date(now - DAY_MS)
                )
            if self.receipts is not None:  # a client retries within minutes, not days
                self.receipts.delete_before(now - RECEIPT_TTL_MS)
            if self.compactor is not None:
                summary.compaction = CompactionSummary()
                self.compactor.run(check_time, summary.compaction)
        except OutOfTime:
            summary.complete = False
        return summary

    def _expire_index(self, service: ServiceCleanup, check_time: Callable[[], None]) -> None:
        while True:
            check_time()
            step = self.logs.expire(service.service_name, service.cutoff, self.batch_size)
            service.logs_deleted += step.entries
            if step.finished:
                return

    def _seal_open(self, now: int, check_time: Callable[[], None]) -> int:
        sealed = 0
        while True:
            check_time()
            step = self.logs.seal_open(now - SEAL_AFTER_MS, SEAL_BATCH)
            sealed += step
            if step < SEAL_BATCH:
                return sealed

    def _expire_shared(self, now: int, ttl_days: int, check_time: Callable[[], None]) -> int:
        """Objects several services share are split by compaction the next day; left
        uncompacted (compaction off, or an object it cannot read), they go once the longest
        archive TTL of any service has passed them."""
        cutoff_date = utc_date(now - ttl_days * DAY_MS)
        return self._delete(self.archive.expired_keys(SHARED_FOLDER, cutoff_date), check_time)

    def _delete(self, keys: list[str], check_time: Callable[[], None]) -> int:
        for start in range(0, len(keys), self.batch_size):
            check_time()
            self.archive.objects.delete(keys[start : start + self.batch_size])
        return len(keys)

    def _expire_archive(
        self, service: ServiceCleanup, now: int, check_time: Callable[[], None]
    ) -> None:
        cutoff_date = utc_date(now - service.archive_ttl_days * DAY_MS)
        keys = self.archive.expired_keys(service.service_name, cutoff_date)
        service.archive_objects_deleted += self._delete(keys, check_time)
