"""Sampling: a per-service share of DEBUG and INFO entries kept (``debug_sample_rate``,
``info_sample_rate`` in the service's config); WARN and above are always kept.

The decision rests on the entry's id (its random or key-derived bits), so a retried request
or a replayed flush decides the same way. What is left out is counted per service, UTC day
and level in ``sampled_counts``, written in the same request as the kept entries' blocks,
so a service's stats say how many were dropped (logsvc.store.log_index.stats).

Rates are read from service_configs at most every 30 seconds; while they cannot be read,
the last known rates apply.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence

from logsvc.clock import utc_date
from logsvc.entries import LogEntry
from logsvc.errors import StoreUnavailable
from logsvc.sql import Statement
from logsvc.store.configs import ConfigStore

RATE_CACHE_SECONDS = 30.0
SAMPLED_LEVELS = ("DEBUG", "INFO")
_ROWS_PER_STATEMENT = 25  # 4 parameters a row, D1's limit of 100 a statement
logger = logging.getLogger(__name__)

Tally = Counter[tuple[str, str, str]]  # (service, day, level) -> entries left out


def kept(entry: LogEntry, rate: float) -> bool:
    """Whether an entry is in the ``rate`` share kept: its id's last 32 bits, as a fraction."""
    return int(entry.id[-8:], 16) < rate * (1 << 32)


class Sampler:
    def __init__(self, configs: ConfigStore):
        self.configs = configs
        self._rates: dict[str, dict[str, float]] = {}
        self._read_at: float | None = None

    def split(self, entries: Sequence[LogEntry]) -> tuple[list[LogEntry], Tally]:
        """(the entries kept, the count of those left out)."""
        rates = self._current_rates()
        left_out: Tally = Counter()
        if not rates:
            return list(entries), left_out
        keep = []
        for entry in entries:
            rate = rates.get(entry.service_name, {}).get(entry.level)
            if rate is None or kept(entry, rate):
                keep.append(entry)
            else:
                left_out[(entry.service_name, utc_date(entry.timestamp), entry.level)] += 1
        return keep, left_out

    def _current_rates(self) -> dict[str, dict[str, float]]:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at > RATE_CACHE_SECONDS:
            try:
                self._rates = self.configs.sample_rates()
            except StoreUnavailable as exc:
                logger.warning("sample rates unavailable; the last known apply: %s", exc)
            self._read_at = now
        return self._rates


def tally_statements(tally: Tally) -> list[Statement]:
    """What adds a tally to sampled_counts (none for an empty tally)."""
    rows = sorted(tally.items())
    statements = []
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        statements.append(
            Statement(
                "INSERT INTO sampled_counts (service_name, day, level, count) VALUES "  # noqa: S608 - placeholders only
                + ", ".join("(?, ?, ?, ?)" for _ in chunk)
                + " ON CONFLICT (service_name, day, level) "
                "DO UPDATE SET count = count + excluded.count",
                tuple(
                    value
                    for (service, day, level), count in chunk
                    for value in (service, day, level, count)
                ),
            )
        )
    return statements
