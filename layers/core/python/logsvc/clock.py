"""Time in the service's units: Unix milliseconds, UTC dates."""

import time
from datetime import UTC, datetime

DAY_MS = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def utc_date(timestamp_ms: int) -> str:
    """YYYY-MM-DD of a Unix-ms timestamp, in UTC."""
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
