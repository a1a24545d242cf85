"""Severity and anomaly of a window of errors, against the service's own baseline."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean

# An anomaly: the error rate at least this many times the baseline, with enough errors.
ANOMALY_FACTOR = 3.0
ANOMALY_MIN_ERRORS = 20


@dataclass(frozen=True)
class Assessment:
    severity: str
    anomaly: bool
    error_rate_per_hour: float
    baseline_per_hour: float | None
    change: float | None  # rate / baseline
    critical_share: float


def assess(
    errors: int, critical: int, window_hours: float, earlier_rates: list[float]
) -> Assessment:
    """LOW/MEDIUM/HIGH/CRITICAL from volume, critical share and change against baseline."""
    rate = errors / max(window_hours, 1 / 60)
    baseline = mean(earlier_rates) if earlier_rates else None
    change = rate / max(baseline, 1.0) if baseline is not None else None
    anomaly = change is not None and change >= ANOMALY_FACTOR and errors >= ANOMALY_MIN_ERRORS
    critical_share = critical / errors if errors else 0.0
    if critical_share >= 0.25 or (anomaly and change >= 10):
        severity = "CRITICAL"
    elif anomaly or critical_share >= 0.1 or errors >= 1000:
        severity = "HIGH"
    elif errors >= 100 or (change is not None and change >= 1.5):
        severity = "MEDIUM"
    else:
        severity = "LOW"
    return Assessment(
        severity,
        anomaly,
        round(rate, 3),
        round(baseline, 3) if baseline is not None else None,
        round(change, 2) if change is not None else None,
        round(critical_share, 4),
    )
