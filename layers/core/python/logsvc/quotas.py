"""max_logs_per_day: a per-service, per-UTC-day count, raised atomically at ingest.

Each request's entries for a service are admitted or refused together, by one conditional
add, so counts stay exact across batches and concurrent requests. Where the count lives
depends on where ingest runs: the index itself when ingest writes it directly, the buffer
file locally, the coordination table on AWS; so a buffered ingest spends no D1 request on
it. The limits come from service_configs, read all at once and cached; if that read fails
(D1 down, its budget spent) the last known limits apply and ingest goes on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from logsvc.clock import DAY_MS, utc_date
from logsvc.entries import LogEntry
from logsvc.refreshed import Refreshed
from logsvc.store.configs import ConfigStore


class DailyCounts(Protocol):
    def reserve_daily(self, service: str, day: str, count: int, limit: int) -> bool:
        """Add ``count`` to the service's day if the total stays within ``limit``."""

    def release_daily(self, service: str, day: str, count: int) -> None:
        """Take back a reservation whose entries were not stored after all."""


class Quotas:
    def __init__(self, counts: DailyCounts, configs: ConfigStore):
        self.counts = counts
        self.configs = configs
        self._limits = Refreshed(configs.daily_limits, {}, "quota limits")

    def admit(
        self, entries: Sequence[tuple[int, LogEntry]], now_ms: int
    ) -> tuple[list[tuple[int, LogEntry]], list[tuple[int, LogEntry, int]]]:
        """(admitted, refused with the service's daily limit)."""
        limits = self._limits.get()
        if not limits:
            return list(entries), []
        by_service: dict[str, list[tuple[int, LogEntry]]] = defaultdict(list)
        for pair in entries:
            by_service[pair[1].service_name].append(pair)
        admitted, refused = [], []
        day = utc_date(now_ms)
        for service, group in by_service.items():
            limit = limits.get(service)
            if limit is None or (
                len(group) <= limit and self.counts.reserve_daily(service, day, len(group), limit)
            ):
                admitted += group
            else:
                refused += [(index, entry, limit) for index, entry in group]
        admitted.sort(key=lambda pair: pair[0])  # ids come back in request order
        return admitted, refused

    def release(self, entries: Sequence[LogEntry], now_ms: int) -> None:
        """Count only what is stored: give back what ``admit`` reserved for these."""
        limits = self._limits.get()
        day = utc_date(now_ms)
        counts: dict[str, int] = defaultdict(int)
        for entry in entries:
            if entry.service_name in limits:
                counts[entry.service_name] += 1
        for service, count in counts.items():
            self.counts.release_daily(service, day, count)


def seconds_until_next_utc_day(now_ms: int) -> int:
    return max(1, (DAY_MS - now_ms % DAY_MS + 999) // 1000)
