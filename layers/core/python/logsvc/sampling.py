"""Sampling: a per-service share of DEBUG and INFO entries kept (``debug_sample_rate``,
``info_sample_rate`` in the service's config); WARN and above are always kept.

The decision rests on the entry's id (its random or key-derived bits), so a retried request
or a replayed flush decides the same way. What is left out is counted per service, UTC day
and level in ``sampled_counts``, written in the same request as the kept entries' blocks
(LogIndex.tally_statements), so a service's stats say how many were dropped.

Rates are read from service_configs at most every 30 seconds (logsvc.refreshed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from logsvc.clock import utc_date
from logsvc.entries import LogEntry
from logsvc.refreshed import Refreshed
from logsvc.store.configs import ConfigStore

Tally = Counter[tuple[str, str, str]]  # (service, day, level) -> entries left out


def kept(entry: LogEntry, rate: float) -> bool:
    """Whether an entry is in the ``rate`` share kept: its id's last 32 bits, as a fraction."""
    return int(entry.id[-8:], 16) < rate * (1 << 32)


class Sampler:
    def __init__(self, configs: ConfigStore):
        self._rates = Refreshed(configs.sample_rates, {}, "sample rates")

    def split(self, entries: Sequence[LogEntry]) -> tuple[list[LogEntry], Tally]:
        """(the entries kept, the count of those left out)."""
        rates = self._rates.get()
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
