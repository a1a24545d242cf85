"""LogQL's literal values: Go strings (double-quoted with Go's escapes, or raw in
backquotes), numbers (with exponents, hexadecimal, Inf and NaN), durations (``1h30m``,
``250ms``, ``-5m``) and byte sizes (``10KB``, ``1.5KiB``). A value that is none of these is
a 400 naming it."""

from __future__ import annotations

import re
from typing import Any

from logsvc.go_strings import go_unquoted
from logsvc.loki.matching import LogQLError

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_DURATION_MS = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_BYTE_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15, "e": 1e18}


def duration_ms(text: str) -> int:
    negative = text.startswith("-")
    body = text[1:] if negative else text
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise LogQLError(f"query: not a valid duration string: {text!r} (5m, 1h30m, 500ms)")
    total = round(sum(float(number) * _DURATION_MS[unit] for number, unit in parts))
    return -total if negative else total


def byte_count(text: str) -> float:
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([KkMmGgTtPpEe]?)(i?)[Bb]", text)
    if match is None:
        raise LogQLError(f"query: {text!r} is not a byte size (10KB, 1MiB)")
    number, prefix, binary = match.groups()
    power = "kmgtpe".find(prefix.lower()) + 1 if prefix else 0
    return float(number) * ((1024**power) if binary else _BYTE_UNITS[prefix.lower()])


def number(text: str) -> float:
    if text[:2].lower() == "0x":
        return float(int(text, 16))
    return float(text)


def go_string(token: Any) -> str:
    text = str(token)
    if text.startswith("`"):
        return text[1:-1]
    try:
        return go_unquoted(text[1:-1])  # LogQL's strings are Go's
    except ValueError:
        raise LogQLError(f"query: {text[:40]} is not a valid string") from None
