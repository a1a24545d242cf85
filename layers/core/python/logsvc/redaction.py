"""Redaction: secrets and personal data scrubbed from messages and metadata at ingest,
before the entry reaches the archive, the index or a live-tail subscriber.

Built-in rules (REDACT, comma-separated; default ``bearer,card,secret_fields``):

- ``bearer``: the token after "Bearer " (as in a logged Authorization header);
- ``card``: 13-19 digit card numbers (spaces or dashes allowed) that pass the Luhn check;
- ``secret_fields``: metadata values under keys such as password, token, api_key,
  authorization, cookie or secret;
- ``email``: e-mail addresses (off by default: often wanted when debugging sign-ups).

REDACT_PATTERNS adds regular expressions of your own (a JSON list); matches become
``[REDACTED]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

RULES = ("bearer", "card", "email", "secret_fields")
DEFAULT_RULES = ("bearer", "card", "secret_fields")
MASK = "[REDACTED]"

_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/-]+=*")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SECRET_KEY = re.compile(  # password, access_token, x-api-key; not prompt_tokens
    r"(?i)^(?:.*[_.-])?(?:pass(?:word|wd)?|secret|token|api[_-]?key|authorization|cookie|"
    r"credentials?|private[_-]?key)$"
)
MAX_DEPTH = 64  # metadata is at most this deep (logsvc.entries limits it further)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    return "[REDACTED:card]" if luhn_valid(digits) else match.group()


class Redactor:
    def __init__(self, rules: Iterable[str] = DEFAULT_RULES, patterns: Iterable[str] = ()):
        rules = set(rules)
        unknown = rules - set(RULES)
        if unknown:
            raise ValueError(f"unknown redaction rule(s): {', '.join(sorted(unknown))}")
        self.secret_fields = "secret_fields" in rules
        self._steps: list[Callable[[str], str]] = []
        if "bearer" in rules:
            self._steps.append(lambda text: _BEARER.sub(rf"\1\2{MASK}", text))
        if "card" in rules:
            self._steps.append(lambda text: _CARD.sub(_mask_card, text))
        if "email" in rules:
            self._steps.append(lambda text: _EMAIL.sub("[REDACTED:email]", text))
        for pattern in patterns:
            compiled = re.compile(pattern)
            self._steps.append(lambda text, compiled=compiled: compiled.sub(MASK, text))

    @property
    def active(self) -> bool:
        return bool(self._steps) or self.secret_fields

    def text(self, value: str) -> str:
        for step in self._steps:
            value = step(value)
        return value

    def value(self, value: Any, depth: int = 0) -> Any:
        """A metadata value with every string in it redacted (keys are kept)."""
        if isinstance(value, str):
            return self.text(value)
        if depth >= MAX_DEPTH:
            return value
        if isinstance(value, dict):
            return {
                key: MASK
                if self.secret_fields and _SECRET_KEY.search(key) and _scalar(item)
                else self.value(item, depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.value(item, depth + 1) for item in value]
        return value


def _scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, dict | list)
