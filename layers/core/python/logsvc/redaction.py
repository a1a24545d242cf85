"""Redaction: secrets and personal data scrubbed from messages and metadata at ingest,
before the entry reaches the archive, the index or a live-tail subscriber.

Built-in rules (REDACT, comma-separated; default all but ``card`` and ``email``):

- ``bearer``: the credentials after "Bearer" or "Basic", whatever separates them (spaces,
  tabs, newlines, ":", "=", "%20"), as in a logged Authorization header;
- ``secret_fields``: the whole value (strings, numbers, lists, objects) under a metadata
  key that names a secret. Keys are compared after splitting camelCase and folding case
  and separators (``accessToken``, ``client-secret``, ``db.password``,
  ``aws_secret_access_key``): the last word is password, passwd, pwd, passphrase, secret,
  token, authorization, cookie or credential(s), the last two are api key, private key or
  secret key, or any word is password, passphrase or secret (``prompt_tokens`` is not);
- ``key_value``: ``name=value`` and ``name: value`` in text for such names
  (``password=hunter2``, ``api_key: abc``);
- ``aws_keys``: AWS access key ids (AKIA..., ASIA...);
- ``jwt``: JSON Web Tokens (eyJ... . ... . ...);
- ``private_key``: PEM private-key blocks;
- ``card``: 13-19 digit card numbers (spaces or dashes allowed) that pass the Luhn check
  (off by default: scanning every digit costs about 1.5 ms per 1000 logs, a sixth of
  ingest time; turn it on where payment data could reach logs);
- ``email``: e-mail addresses (off by default: often wanted when debugging sign-ups).

REDACT_PATTERNS adds regular expressions of your own (a JSON list); matches become
``[REDACTED]``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from logsvc.entries import LogEntry

RULES = ("aws_keys", "bearer", "card", "email", "jwt", "key_value", "private_key", "secret_fields")
DEFAULT_RULES = ("bearer", "secret_fields", "key_value", "aws_keys", "jwt", "private_key")
MASK = "[REDACTED]"

# Patterns compile when a Redactor is made (re caches them): importing stays cheap.
_SEPARATOR = r"(?:[\s:=]|%20|%3[aAdD])+"
_BEARER = rf"(?i)\b(bearer)({_SEPARATOR})[A-Za-z0-9._~+/-]+=*"
_BASIC = rf"(?i)\b(basic)({_SEPARATOR})[A-Za-z0-9+/]{{8,}}={{0,2}}"
# The end of a secret's name, then "=" or ":" (a quote may close the name first): the
# name's start is left alone, so no scan backtracks over every identifier.
_SENSITIVE_NAME = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|authorization|"
    r"cookie|credentials?|private[_-]?key)"
)
_KEY_VALUE = rf"(?i)({_SENSITIVE_NAME})([\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&\"']+)"
_AWS_KEY = r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
_JWT = r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
_PRIVATE_KEY = r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
_CARD = r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# A secret key's words (see secret_key); the last word, the last two, or any word.
_LAST_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "pass", "secret", "token", "authorization"}
    | {"cookie", "credential", "credentials"}
)
_LAST_TWO = frozenset({("api", "key"), ("private", "key"), ("secret", "key")})
_ANY_WORDS = frozenset({"password", "passphrase", "secret", "passwd"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
# Lower-case text one of which any secret key contains (a quick first test).
_SECRET_WORDS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "authorization",
    "cookie",
    "credential",
)
# Lower-case text one of which every key=value match contains.
_KEY_VALUE_HINTS = (
    "passw",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "authorization",
    "cookie",
    "credential",
    "private_key",
    "private-key",
    "privatekey",
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


def _is_card(match: re.Match[str]) -> bool:
    return luhn_valid(re.sub(r"[ -]", "", match.group()))


def _mask_card(match: re.Match[str]) -> str:
    return "[REDACTED:card]" if _is_card(match) else match.group()


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    apply: Callable[[str], str]
    # Lower-case texts one of which every match contains: a quick first test (none: always
    # scan).
    hints: tuple[str, ...] = ()
    real: Callable[[re.Match[str]], bool] = lambda match: True

    def may_match(self, lower: str) -> bool:
        return not self.hints or any(hint in lower for hint in self.hints)


class Redactor:
    def __init__(self, rules: Iterable[str] = DEFAULT_RULES, patterns: Iterable[str] = ()):
        rules = set(rules)
        unknown = rules - set(RULES)
        if unknown:
            raise ValueError(f"unknown redaction rule(s): {', '.join(sorted(unknown))}")
        self.secret_fields = "secret_fields" in rules
        self._rules: list[_Rule] = []
        if "bearer" in rules:
            for pattern, hint in ((_BEARER, "bearer"), (_BASIC, "basic")):
                compiled = re.compile(pattern)
                self._rules.append(
                    _Rule(compiled, partial(compiled.sub, rf"\1\2{MASK}"), hints=(hint,))
                )
        if "key_value" in rules:
            pairs = re.compile(_KEY_VALUE)
            self._rules.append(
                _Rule(pairs, partial(pairs.sub, rf"\1\2{MASK}"), hints=_KEY_VALUE_HINTS)
            )
        if "aws_keys" in rules:
            aws = re.compile(_AWS_KEY)
            self._rules.append(_Rule(aws, partial(aws.sub, MASK), hints=("akia", "asia")))
        if "jwt" in rules:
            jwt = re.compile(_JWT)
            self._rules.append(_Rule(jwt, partial(jwt.sub, MASK), hints=("eyj",)))
        if "private_key" in rules:
            block = re.compile(_PRIVATE_KEY)
            self._rules.append(_Rule(block, partial(block.sub, MASK), hints=("private key-----",)))
        if "card" in rules:
            card = re.compile(_CARD)
            self._rules.append(_Rule(card, partial(card.sub, _mask_card), real=_is_card))
        if "email" in rules:
            email = re.compile(_EMAIL)
            self._rules.append(_Rule(email, partial(email.sub, "[REDACTED:email]"), hints=("@",)))
        for pattern in patterns:
            compiled = re.compile(pattern)
            self._rules.append(_Rule(compiled, partial(compiled.sub, MASK)))

    @property
    def active(self) -> bool:
        return bool(self._rules) or self.secret_fields

    def redact_entries(self, entries: list[LogEntry]) -> list[LogEntry]:
        """Redact messages and metadata in place; return the entries whose metadata changed
        (their ``metadata_json``, serialised before, no longer matches).

        One scan over the whole request's text finds the entries that need it, so a request
        with nothing to redact (the common case) costs well under a millisecond per 1000
        entries, instead of a regular-expression pass over every string.
        """
        if not entries or not self.active:
            return []
        for index in self._containing([entry.message for entry in entries], ()):
            entries[index].message = self.text(entries[index].message)
        words = _SECRET_WORDS if self.secret_fields else ()
        # Ingest has serialised each entry's metadata already (metadata_json): reuse it.
        metadata = [
            entry.metadata_json or orjson.dumps(entry.metadata, default=str) for entry in entries
        ]
        if not self._may_occur(b"\n".join(metadata).lower(), words):
            return []
        changed = []
        for index in sorted(self._containing([data.decode() for data in metadata], words)):
            entries[index].metadata = self.value(entries[index].metadata)
            changed.append(entries[index])
        return changed

    def _may_occur(self, blob: bytes, words: tuple[str, ...]) -> bool:
        """Whether some rule or word could occur in this lower-cased JSON (a quick test)."""
        text = blob.decode("utf-8", errors="replace")
        return any(rule.may_match(text) for rule in self._rules) or any(
            word in text for word in words
        )

    def _containing(self, texts: list[str], words: tuple[str, ...]) -> set[int]:
        """Indexes of the texts in which some rule matches, or one of ``words`` occurs."""
        joined = "\n".join(texts)
        starts = _starts(texts)
        lower, lower_starts = joined.lower(), starts
        if len(lower) != len(joined):  # lower() changed a length ("İ"): lower one by one
            lowered = [text.lower() for text in texts]
            lower, lower_starts = "\n".join(lowered), _starts(lowered)
        found: set[int] = set()
        for rule in self._rules:
            if not rule.may_match(lower):
                continue
            for match in rule.pattern.finditer(joined):
                if rule.real(match):
                    found.add(bisect_right(starts, match.start()) - 1)
                    found.add(bisect_right(starts, max(match.start(), match.end() - 1)) - 1)
        for word in words:
            at = lower.find(word)
            while at != -1:
                found.add(bisect_right(lower_starts, at) - 1)
                at = lower.find(word, at + 1)
        return found

    def text(self, value: str) -> str:
        return _apply(self._rules, value)

    def value(self, value: Any) -> Any:
        """A metadata value with every string in it redacted (keys are kept)."""
        return _walk(value, self._rules, self.secret_fields, 0)


def _starts(texts: list[str]) -> list[int]:
    """Where each text begins in "\\n".join(texts)."""
    return list(accumulate((len(text) + 1 for text in texts[:-1]), initial=0))


def _apply(rules: list[_Rule], text: str) -> str:
    for rule in rules:
        text = rule.apply(text)
    return text


def _walk(value: Any, rules: list[_Rule], secret_fields: bool, depth: int) -> Any:
    if isinstance(value, str):
        return _apply(rules, value)
    if depth >= MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            key: MASK
            if secret_fields and item is not None and secret_key(key)
            else _walk(item, rules, secret_fields, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_walk(item, rules, secret_fields, depth + 1) for item in value]
    return value


def secret_key(key: str) -> bool:
    """Whether a metadata key names a secret (see the module's description)."""
    words = _SEPARATORS.split(_CAMEL.sub("_", key).lower())
    words = [word for word in words if word]
    if not words:
        return False
    return (
        words[-1] in _LAST_WORDS
        or tuple(words[-2:]) in _LAST_TWO
        or any(word in _ANY_WORDS for word in words)
    )
