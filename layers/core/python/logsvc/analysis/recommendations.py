"""Deterministic recommendations from recognised error classes."""

from __future__ import annotations

import re

from logsvc.analysis.patterns import Pattern

ERROR_CLASSES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE), advice)
    for name, pattern, advice in (
        (
            "timeout",
            r"time[d ]?\s?out|deadline exceeded|ETIMEDOUT",
            "Timeouts: find the slow dependency in the pattern, check its latency and health, "
            "and make callers use explicit timeouts with retries, backoff and jitter.",
        ),
        (
            "connection",
            r"connection refused|ECONNREFUSED|ECONNRESET|ENOTFOUND|getaddrinfo"
            r"|name or service not known|dns|connection reset",
            "Connection failures: check that the dependency is up and reachable (host, port, "
            "DNS, security groups) and that connection pools are not exhausted.",
        ),
        (
            "auth",
            r"\b40[13]\b|unauthori[sz]ed|forbidden|access denied|invalid token"
            r"|expired token|permission denied",
            "Authentication or permission errors: check for expired or rotated credentials and "
            "for missing permissions on the resource named in the pattern.",
        ),
        (
            "rate_limit",
            r"\b429\b|rate.?limit|too many requests|throttl",
            "Rate limiting: back off with jitter, batch or cache requests, or ask for a higher "
            "quota from the service that throttles.",
        ),
        (
            "memory",
            r"out of memory|\bOOM\b|MemoryError|heap|exceededMemory|memory limit",
            "Memory exhaustion: raise the memory limit or find the leak (large payloads, "
            "unbounded caches or buffers).",
        ),
        (
            "database",
            r"database|\bSQL|constraint|deadlock|duplicate key|unique|foreign key"
            r"|SQLITE|D1_ERROR|postgres|mysql",
            "Database errors: check the failing query and schema constraints, connection limits "
            "and migrations; retry only errors that are transient.",
        ),
        (
            "upstream_5xx",
            r"\b50[0234]\b|bad gateway|service unavailable|gateway timeout",
            "Upstream 5xx responses: check the health and recent deploys of the upstream "
            "service; add a circuit breaker so failures do not cascade.",
        ),
        (
            "unhandled",
            r"unhandled|uncaught|traceback|exception|TypeError|KeyError"
            r"|ReferenceError|NullPointer|undefined is not|AttributeError",
            "Unhandled exceptions: fix the failing code path shown in the example and handle the "
            "error where it can be recovered from.",
        ),
    )
)


def classify(text: str) -> list[str]:
    """The error classes a message or template belongs to."""
    return [name for name, pattern, _ in ERROR_CLASSES if pattern.search(text)]


def recommend(patterns: list[Pattern], limit: int = 5) -> list[str]:
    """Advice for the classes seen in the most frequent patterns, most frequent first."""
    advice = {name: text for name, _, text in ERROR_CLASSES}
    chosen: list[str] = []
    for pattern in patterns:
        for name in classify(f"{pattern.template} {pattern.example}"):
            if advice[name] not in chosen:
                chosen.append(advice[name])
    if not chosen and patterns:
        chosen.append(
            f"Review the most frequent error ({patterns[0].share:.0%} of errors): "
            f'"{patterns[0].template}".'
        )
    return chosen[:limit]
