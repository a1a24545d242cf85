"""max_logs_per_day: a per-service, per-UTC-day count, raised atomically at ingest.

Each request's entries for a service are admitted or refused together, by one conditional
upsert, so counts stay exact across batches and concurrent requests (SQLite and D1 alike).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence

from logsvc.clock import DAY_MS, utc_date
from logsvc.entries import LogEntry
from logsvc.sql import SqlDatabase
from logsvc.store.configs import ConfigStore

LIMIT_CACHE_SECONDS = 30.0  # a changed max_logs_per_day applies within this time


class Quotas:
    def __init__(self, db: SqlDatabase, configs: ConfigStore):
        self.db = db
        self.configs = configs
        self._limits: dict[str, tuple[float, int | None]] = {}

    def admit(
        self, entries: Sequence[tuple[int, LogEntry]], now_ms: int
    ) -> tuple[list[tuple[int, LogEntry]], list[tuple[int, LogEntry, int]]]:
        """(admitted, refused with the service's daily limit)."""
        by_service: dict[str, list[tuple[int, LogEntry]]] = defaultdict(list)
        for pair in entries:
            by_service[pair[1].service_name].append(pair)
        admitted, refused = [], []
        day = utc_date(now_ms)
        limits = self._limits_of(list(by_service))
        for service, group in by_service.items():
            limit = limits[service]
            if limit is None or self._reserve(service, day, len(group), limit):
                admitted += group
            else:
                refused += [(index, entry, limit) for index, entry in group]
        admitted.sort(key=lambda pair: pair[0])  # ids come back in request order
        return admitted, refused

    def _reserve(self, service: str, day: str, count: int, limit: int) -> bool:
        if count > limit:
            return False
        rows = self.db.query(
            "INSERT INTO daily_counts (service_name, day, count) VALUES (?, ?, ?) "
            "ON CONFLICT (service_name, day) DO UPDATE SET count = count + excluded.count "
            "WHERE count + excluded.count <= ? RETURNING count",
            (service, day, count, limit),
        )
        return bool(rows)

    def _limits_of(self, services: list[str]) -> dict[str, int | None]:
        """Each service's max_logs_per_day, read in one query for those not cached."""
        now = time.monotonic()
        stale = [
            s
            for s in services
            if s not in self._limits or now - self._limits[s][0] > LIMIT_CACHE_SECONDS
        ]
        if stale:
            rows = self.configs.db.query(
                "SELECT service_name, max_logs_per_day FROM service_configs "
                "WHERE service_name IN (SELECT value FROM json_each(?))",
                (json.dumps(stale),),
            )
            found = {row["service_name"]: row["max_logs_per_day"] for row in rows}
            for service in stale:
                self._limits[service] = (now, found.get(service))
        return {service: self._limits[service][1] for service in services}

    def delete_before(self, day: str) -> int:
        return len(
            self.db.query("DELETE FROM daily_counts WHERE day < ? RETURNING service_name", (day,))
        )


def seconds_until_next_utc_day(now_ms: int) -> int:
    return max(1, (DAY_MS - now_ms % DAY_MS + 999) // 1000)
