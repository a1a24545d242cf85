"""Time phrases in a question: "in the last 15 minutes", "since 9am", "yesterday",
"between 2 and 3 pm UTC", "on 2026-12-01", "today", "3 hours ago", "since monday", "on
friday".

``find_range`` returns the range a phrase names (Unix ms, end exclusive) and the question
without it. Clock times and dates are read by python-dateutil in the caller's time zone
(an IANA name; a zone written in the question, "UTC" or "Europe/Paris", wins); the
phrases around them are ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil import parser as dateutil_parser

from logsvc.clock import DAY_MS

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

UNITS_MS = {
    "second": 1000,
    "minute": MINUTE_MS,
    "hour": HOUR_MS,
    "day": DAY_MS,
    "week": 7 * DAY_MS,
}
_UNIT_WORDS = {
    "s": "second", "sec": "second", "secs": "second", "second": "second",
    "m": "minute", "min": "minute", "mins": "minute", "minute": "minute",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour",
    "d": "day", "day": "day", "w": "week", "wk": "week", "week": "week",
}  # fmt: skip
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "few": 5, "couple": 2, "couple of": 2,
}  # fmt: skip
_COUNT = r"(?P<n>\d+|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"
_UNIT = r"(?P<unit>" + "|".join(sorted(_UNIT_WORDS, key=len, reverse=True)) + r")s?"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_CLOCK = (
    r"(?:\d{1,2}(?::\d{2}){0,2}\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}(?::\d{2})?|noon|midnight)"
)
_DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|{_MONTH}\s+{_DAY}(?:,?\s+\d{{4}})?"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}(?:\s+\d{{4}})?)"
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORD = r"(?:today|yesterday|(?:last\s+)?(?:" + "|".join(WEEKDAYS) + r"))"
_MOMENT = (
    rf"(?:{_DATE}(?:(?:\s+at|,|\s+|t){_CLOCK})?|{_DAY_WORD}(?:\s+at)?\s+{_CLOCK}"
    rf"|{_CLOCK}(?:\s+{_DAY_WORD}|\s+on\s+{_DATE})?|{_DATE}|{_DAY_WORD})"
)
_ZONE = r"(?:\s+(?:in\s+)?(?P<zone>utc|gmt|z|[a-z]+/[a-z_]+(?:/[a-z_]+)?))?"
_HOUR_ALONE = r"\d{1,2}(?::\d{2})?\s*(?:am|pm)?"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "between",
        re.compile(
            rf"\b(?:between|from)\s+(?P<a>{_MOMENT}|{_HOUR_ALONE})\s+(?:and|to|until|till|-)\s+"
            rf"(?P<b>{_MOMENT}){_ZONE}",
        ),
    ),
    ("since", re.compile(rf"\b(?:since|after|from)\s+(?P<a>{_MOMENT}){_ZONE}")),
    ("ago", re.compile(rf"\b(?:since\s+)?{_COUNT}\s+{_UNIT}\s+ago\b")),
    (
        "last",
        re.compile(
            rf"\b(?:(?:in|over|during|for|within)\s+)?(?:the\s+)?(?:last|past|previous)\s+"
            rf"(?:{_COUNT}\s*)?{_UNIT}\b"
        ),
    ),
    ("on", re.compile(rf"\b(?:on|for|during)?\s*(?P<a>{_DATE}|{_DAY_WORD}){_ZONE}\b")),
]


class TimeError(ValueError):
    """A time phrase that names no moment, or an unknown time zone."""


@dataclass(frozen=True)
class TimeRange:
    start: int
    end: int
    words: str  # the range in words, for the explanation


def zone_named(name: str) -> ZoneInfo:
    """An IANA zone by name, in any case ("utc", "europe/paris")."""
    if name.lower() in ("utc", "gmt", "z"):
        return ZoneInfo("UTC")
    canonical = _zone_names().get(name.lower())
    if canonical is None:
        raise TimeError(f"time_zone: {name[:60]!r} is not an IANA time zone (Europe/Paris, UTC)")
    try:
        return ZoneInfo(canonical)
    except ZoneInfoNotFoundError:
        raise TimeError(f"time_zone: {name[:60]!r} is not known here") from None


@cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def find_range(question: str, now_ms: int, zone: ZoneInfo) -> tuple[TimeRange | None, str]:
    """The range the question names (None when it names none), and the question with the
    phrase blanked out (spaces: the same length). ``question`` is lower case."""
    for kind, pattern in _PATTERNS:
        found = pattern.search(question)
        if found is None:
            continue
        groups = found.groupdict()
        here = zone_named(groups["zone"]) if groups.get("zone") else zone
        rest = (
            question[: found.start()]
            + " " * (found.end() - found.start())
            + question[found.end() :]
        )
        return _range(kind, groups, now_ms, here), rest
    return None, question


def last(span_ms: int, now_ms: int) -> TimeRange:
    """The range ending now, for a question that names none."""
    hours = span_ms // HOUR_MS
    words = "in the last hour" if hours == 1 else f"in the last {hours} hours"
    return TimeRange(now_ms - span_ms, now_ms, words)


def _range(kind: str, groups: dict[str, str | None], now_ms: int, zone: ZoneInfo) -> TimeRange:
    now = datetime.fromtimestamp(now_ms / 1000, zone)
    if kind in ("last", "ago"):
        n = _count(groups["n"])
        unit = _UNIT_WORDS[groups["unit"] or ""]
        span = n * UNITS_MS[unit]
        plural = f"{n} {unit}s" if n != 1 else unit
        words = f"in the last {plural}" if kind == "last" else f"since {plural} ago"
        return TimeRange(now_ms - span, now_ms, words)
    if kind == "on":
        day = _moment(groups["a"] or "", now, zone)
        start = day.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=1)
        named = {0: "today, ", 1: "yesterday, "}.get(
            (now.date() - start.date()).days, f"on {start:%A} "
        )
        words = f"{named}{start:%Y-%m-%d} ({zone.key})"
        return TimeRange(_ms(start), min(_ms(end), now_ms), words)
    if kind == "since":
        start = _moment(groups["a"] or "", now, zone, past=True)
        return TimeRange(_ms(start), now_ms, f"since {_shown(start, now)} ({zone.key})")
    # between: "2 and 3 pm" reads the first as the second's half of the day
    end = _moment(groups["b"] or "", now, zone, past=True)
    first = groups["a"] or ""
    meridiem = re.search(r"(am|pm)\s*$", groups["b"] or "")
    if re.fullmatch(r"\d{1,2}(?::\d{2})?", first.strip()) and meridiem:
        first = f"{first} {meridiem.group(1)}"
    start = _moment(first, end, zone)
    if start >= end:  # "between 11pm and 1am"
        start -= timedelta(days=1)
    if start >= end:
        raise TimeError(f"the range starts after it ends: {groups['a']!r} to {groups['b']!r}")
    words = f"between {_shown(start, now)} and {_shown(end, now)} ({zone.key})"
    return TimeRange(_ms(start), min(_ms(end), now_ms), words)


def _moment(text: str, now: datetime, zone: ZoneInfo, past: bool = False) -> datetime:
    """A clock time or date, on ``now``'s day unless it names one; with ``past``, a clock
    time later than now means yesterday's."""
    text = text.strip()
    day = now
    if text.startswith("yesterday") or text.endswith("yesterday"):
        day = now - timedelta(days=1)
    named = re.search(r"\b(" + "|".join(WEEKDAYS) + r")\b", text)
    if named:  # the latest such day, today included ("last friday" alike)
        day = now - timedelta(days=(now.weekday() - WEEKDAYS.index(named.group(1))) % 7)
    text = re.sub(r"\b(?:today|yesterday|at|on|of|last|" + "|".join(WEEKDAYS) + r")\b", " ", text)
    text = text.replace(".", "").strip()
    if not text:
        return day.replace(hour=0, minute=0, second=0, microsecond=0)
    text = {"noon": "12:00", "midnight": "00:00"}.get(text, text)
    default = day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    try:
        moment = dateutil_parser.parse(text, default=default, fuzzy=False)
    except (ValueError, OverflowError):
        raise TimeError(f"{text!r} is not a time or date") from None
    moment = moment.replace(tzinfo=zone)
    if past and moment > now and not re.search(r"\d{4}|" + _MONTH, text):
        moment -= timedelta(days=1)
    return moment


def _count(word: str | None) -> int:
    if not word:
        return 1
    return int(word) if word.isdigit() else _NUMBERS[word]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _shown(moment: datetime, now: datetime) -> str:
    return f"{moment:%H:%M}" if moment.date() == now.date() else f"{moment:%Y-%m-%d %H:%M}"
