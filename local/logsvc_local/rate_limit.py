"""Per-IP rate limits for the local server, mirroring the deployed WAF rules.

Off by default. ``logsvc serve --rate-limit`` (or LOGSVC_RATE_LIMIT=on) turns them on:
every request counts against RATE_LIMIT_PER_MINUTE (default 100) per client IP, and batch
ingestion also against BATCH_RATE_LIMIT_PER_MINUTE (default 20), each over a moving
60-second window, as the WAF's rate-based rules count. Over a limit: 429 + Retry-After.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute, storage, strategies

BATCH_INGEST_PATH = "/api/v1/logs/ingest/batch"


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after: int


class RateLimiter:
    def __init__(self, per_minute: int = 100, batch_per_minute: int = 20):
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self.api = RateLimitItemPerMinute(per_minute)
        self.batch = RateLimitItemPerMinute(batch_per_minute)

    @classmethod
    def from_env(cls, force: bool = False) -> RateLimiter | None:
        if not force and os.environ.get("LOGSVC_RATE_LIMIT", "").lower() not in ("1", "on", "true"):
            return None
        return cls(
            _positive(os.environ.get("RATE_LIMIT_PER_MINUTE"), 100),
            _positive(os.environ.get("BATCH_RATE_LIMIT_PER_MINUTE"), 20),
        )

    def check(self, client_ip: str, path: str) -> Refusal | None:
        """Count the request; a Refusal when it goes over a limit (then it is not served)."""
        rules = [("api", self.api)]
        if path.endswith(BATCH_INGEST_PATH):
            rules.insert(0, ("batch", self.batch))
        for name, rule in rules:
            if not self._limiter.hit(rule, name, client_ip):
                stats = self._limiter.get_window_stats(rule, name, client_ip)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                return Refusal(
                    f"rate limit: more than {rule.amount} {'batch ' if name == 'batch' else ''}"
                    f"requests per minute from {client_ip}; retry in {wait} s",
                    wait,
                )
        return None


def _positive(raw: str | None, default: int) -> int:
    if not raw:
        return default
    value = int(raw)
    if value < 1:
        raise ValueError(f"rate limits must be positive, got {value}")
    return value
