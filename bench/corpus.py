"""Realistic, repeatable log traffic: 20 services, a production-like level mix, templated
messages with ids and numbers in them, and a few metadata fields per entry."""

from __future__ import annotations

import random
from typing import Any

SERVICES = [
    f"{name}-{kind}"
    for name in ("checkout", "search", "auth", "billing", "catalog")
    for kind in ("api", "worker", "cron", "edge")
]
LEVEL_WEIGHTS = {"DEBUG": 20, "INFO": 60, "WARN": 10, "ERROR": 8, "CRITICAL": 2}
TEMPLATES = [
    "GET /api/v1/orders/{n} 200 in {ms}ms",
    "POST /api/v1/cart/{n}/items 201 in {ms}ms",
    "user {user} signed in from {ip}",
    "cache miss for key product:{n}",
    "Timeout after {ms}ms calling inventory-service (attempt {k}/3)",
    "Connection refused: postgres://db-{k}.internal:5432",
    "payment {uuid} declined: insufficient funds",
    "job {uuid} finished: processed {n} records in {ms}ms",
    "Unhandled exception in worker: KeyError('{word}')",
    "rate limited by upstream (429), retrying in {k}s",
]
WORDS = ["sku", "price", "tenant", "region", "currency", "locale"]


class Corpus:
    def __init__(self, seed: int = 42):
        self.rng = random.Random(seed)

    def entry(self, service: str, timestamp: int) -> dict[str, Any]:
        rng = self.rng
        level = rng.choices(list(LEVEL_WEIGHTS), weights=list(LEVEL_WEIGHTS.values()))[0]
        message = rng.choice(TEMPLATES).format(
            n=rng.randrange(1, 10**6),
            ms=rng.randrange(1, 30_000),
            k=rng.randrange(1, 9),
            user=f"u{rng.randrange(10**5)}",
            word=rng.choice(WORDS),
            ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            uuid=f"{rng.getrandbits(128):032x}",
        )
        return {
            "service_name": service,
            "level": level,
            "message": message,
            "timestamp": timestamp,
            "metadata": {
                "request_id": f"req-{rng.getrandbits(48):012x}",
                "region": rng.choice(["eu-west-1", "us-east-1", "ap-south-1"]),
                "duration_ms": rng.randrange(1, 5000),
            },
        }

    def batch(
        self, service: str, size: int, start_ms: int, spacing_ms: int = 3
    ) -> list[dict[str, Any]]:
        """One request's worth: one service, timestamps rising from start_ms."""
        return [self.entry(service, start_ms + i * spacing_ms) for i in range(size)]
