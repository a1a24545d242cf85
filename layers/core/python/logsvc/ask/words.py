"""The deterministic translator: the common shapes of a question, read with rules.

It reads levels ("errors", "warnings", "critical"), services (the caller's, matched
loosely: "check out", "checkout-svc", "payments"), times (logsvc.ask.times), quoted and
unquoted text ("timeouts", "connection refused"), metadata fields seen lately ("status
500", "region eu-west-1", "user 42", "status 5xx", "latency over 2000"), counts and rates
("how many", "per minute", "by level") and top patterns ("most common errors"). A word it
cannot place is read as text only in a short run (at most MAX_TEXT_WORDS); a question that
asks for more than it reads ("why", "compare", "p99", "which service...") is
NotUnderstood, with suggestions, never guessed at.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from logsvc.ask import Context, Kind, NotUnderstood, Translation
from logsvc.ask.logql_text import (
    EVERY_SERVICE,
    field_filter,
    matcher,
    metric,
    quoted,
    regex_escaped,
)
from logsvc.ask.times import HOUR_MS, TimeError, find_range, zone_named
from logsvc.ask.times import last as last_range
from logsvc.ask.vocabulary import (
    BEYOND,
    BY_GROUP,
    COMPARATORS,
    COUNT_PHRASES,
    FIELD_FILLERS,
    GROUPS,
    LABELS,
    LEVEL_NAMES,
    LEVEL_ORDER,
    LEVEL_WORDS,
    PATTERN_PHRASES,
    PER_UNIT,
    QUOTED,
    RANKING,
    RATE_WORDS,
    SERVICE_SUFFIXES,
    STOPWORDS,
    TOKEN,
)
from logsvc.clock import DAY_MS

MAX_TEXT_WORDS = 4
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")  # what a field's comparison reads (LogQL's numbers)


@dataclass
class _Reading:
    """What has been read of one question so far."""

    context: Context
    said: list[str]  # the question's words as written, quoted texts taken out
    used: set[int] = field(default_factory=set)  # indexes of words read
    quoted: list[str] = field(default_factory=list)
    levels: set[str] = field(default_factory=set)
    services: list[str] = field(default_factory=list)
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (name, op, value)

    def __post_init__(self) -> None:
        self.words = [word.lower() for word in self.said]  # what is compared

    def selected(self) -> list[str]:
        """The services the query names: those the question named, else all a restricted
        caller may read, else none (every service)."""
        return self.services or (self.context.services if self.context.restricted else [])

    def free(self, i: int) -> bool:
        return 0 <= i < len(self.words) and i not in self.used


class WordsTranslator:
    """Rules for the common shapes; ``translate`` answers a Translation or NotUnderstood."""

    name = "words"

    def translate(self, question: str, context: Context) -> Translation:
        try:
            zone = zone_named(context.time_zone)
        except TimeError as error:
            raise NotUnderstood(str(error)) from None
        texts = [next(part for part in parts if part) for parts in QUOTED.findall(question)]
        original = re.sub(r"(?<=\w)'s\b", "  ", QUOTED.sub(" ", question))  # checkout's
        # Lower case of the same length, so what is read out of it can be blanked in both.
        rest = "".join(c.lower() if len(c.lower()) == 1 else c for c in original)
        beyond = sorted(set(re.findall(r"[a-z0-9]+", rest)) & BEYOND) or (
            ["which service"] if RANKING.search(rest) else []
        )
        if beyond:
            raise NotUnderstood(
                f"the question asks for more than the built-in rules read ({', '.join(beyond)})",
                suggestions(context),
            )
        try:
            span, rest = find_range(rest, context.now_ms, zone)
        except TimeError as error:
            raise NotUnderstood(str(error), suggestions(context)) from None
        kind: Kind = "patterns" if PATTERN_PHRASES.search(rest) else "logs"
        rate = bool(RATE_WORDS.search(rest))
        per = PER_UNIT.search(rest)
        grouping = BY_GROUP.search(rest)
        if kind == "logs" and (COUNT_PHRASES.search(rest) or rate or per or grouping):
            kind = "metric"
        for pattern in (PATTERN_PHRASES, COUNT_PHRASES, RATE_WORDS, PER_UNIT, BY_GROUP):
            rest = pattern.sub(lambda m: " " * len(m.group(0)), rest)
        original = "".join(o if r != " " else " " for o, r in zip(original, rest, strict=True))
        reading = _Reading(context, TOKEN.findall(original), quoted=texts)
        _read_services(reading)
        _read_fields(reading)
        _read_levels(reading)
        text = _read_text(reading)
        if span is None:
            span = last_range(DAY_MS if kind == "patterns" else HOUR_MS, context.now_ms)
        if kind == "patterns" and not reading.levels:
            reading.levels = {"error", "critical"}
        query = _log_query(reading, text)
        words = _described(reading, text)
        if kind == "logs":
            return Translation(
                query, span.start, span.end, f"The newest {words} {span.words}.", "logs"
            )
        if kind == "patterns":
            explanation = f"The most common patterns among {words} {span.words}."
            return Translation(query, span.start, span.end, explanation, "patterns")
        unit = per.group(1) if per else None
        return metric(
            query, span, rate, unit, GROUPS[grouping.group(1)] if grouping else None, words
        )


def _read_fields(reading: _Reading) -> None:
    """``key=value`` words, and a field seen lately followed by a value ("status 500",
    "region is eu-west-1", "latency over 2000", "status 5xx")."""
    known = [name for name in reading.context.fields() if name not in LABELS]
    words = reading.words
    for i, word in enumerate(words):
        if not reading.free(i):
            continue
        pair = re.fullmatch(r"([a-z_][\w.]*)(=|:|!=|>=|<=|>|<)(\S+)", word)
        if pair:
            name = pair.group(1).replace(".", "_")
            value = reading.said[i][pair.end(2) :]
            _add_field(reading, name, COMPARATORS.get(pair.group(2), "="), value)
            reading.used.add(i)
            continue
        name, width = _field_named(words, i, known)
        if name is None:
            continue
        j, op = i + width, "="
        while reading.free(j) and (words[j] in COMPARATORS or words[j] in FIELD_FILLERS):
            if COMPARATORS.get(words[j], "=") != "=":  # "at least", "is not", "more than"
                op = COMPARATORS[words[j]]
            j += 1
        if not reading.free(j) or words[j] in STOPWORDS or words[j] in LEVEL_WORDS:
            continue
        _add_field(reading, name, op, reading.said[j])
        reading.used.update(range(i, j + 1))


def _add_field(reading: _Reading, name: str, op: str, value: str) -> None:
    """A field filter; a comparison of something that is no number is not guessed at."""
    if op in (">", ">=", "<", "<=") and not NUMBER.fullmatch(value):
        raise NotUnderstood(
            f"{name} {op} {value[:40]}: a comparison needs a number", suggestions(reading.context)
        )
    reading.fields.append((name, op, value))


def _field_named(words: list[str], i: int, known: list[str]) -> tuple[str | None, int]:
    """The field the words at ``i`` name, and how many words name it: "http status" is
    ``http_status``, "status" ``status`` or else the shortest field with a part
    ``status``, "user" ``user_id``."""
    word = words[i]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", word) or word in STOPWORDS or word in LEVEL_WORDS:
        return None, 0
    if i + 1 < len(words) and f"{word}_{words[i + 1]}" in known:
        return f"{word}_{words[i + 1]}", 2
    if word in known:
        return word, 1
    parts = [name for name in known if word in re.split(r"[_.]", name)]
    return (min(parts, key=len), 1) if parts else (None, 0)


def _read_levels(reading: _Reading) -> None:
    for i, word in enumerate(reading.words):
        if reading.free(i) and word in LEVEL_WORDS:
            reading.levels.update(LEVEL_WORDS[word])
            reading.used.add(i)


def _read_services(reading: _Reading) -> None:
    """The caller's services the question names, loosely: a service's name without its
    punctuation, its suffix (-svc, -service, -api) or a plural s, or one typo away."""
    services = reading.context.services
    words = reading.words
    for width in (3, 2, 1):
        for i in range(len(words) - width + 1):
            span = range(i, i + width)
            if not all(reading.free(j) for j in span):
                continue
            if width == 1 and (words[i] in STOPWORDS or words[i] in LEVEL_WORDS):
                continue
            named = _service_named("".join(words[j] for j in span), services)
            if named:
                if named not in reading.services:
                    reading.services.append(named)
                reading.used.update(span)
    if reading.context.restricted and not reading.services and len(services) == 1:
        reading.services = list(services)


def _service_named(phrase: str, services: list[str]) -> str | None:
    said = _bare(phrase)
    if len(said) < 3:
        return None
    for service in services:
        if said in (_bare(service), _stem(service)) or _stem(phrase) == _stem(service):
            return service
    close = difflib.get_close_matches(said, [_bare(s) for s in services], n=1, cutoff=0.85)
    if close and len(said) >= 5:
        return next(s for s in services if _bare(s) == close[0])
    return None


def _bare(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _stem(name: str) -> str:
    bare = _bare(name)
    for suffix in SERVICE_SUFFIXES:
        if bare.endswith(suffix) and len(bare) > len(suffix) + 2:
            bare = bare[: -len(suffix)]
            break
    return bare[:-1] if bare.endswith("s") and len(bare) > 4 else bare


def _read_text(reading: _Reading) -> list[str]:
    """The words nothing else read, run by run: each run is a text the line must hold."""
    runs: list[list[str]] = [[]]
    for i, word in enumerate(reading.words):
        if reading.free(i) and word not in STOPWORDS and re.search(r"\w", word):
            runs[-1].append(_singular(word))
        elif runs[-1]:
            runs.append([])
    runs = [run for run in runs if run]
    too_long = [run for run in runs if len(run) > MAX_TEXT_WORDS]
    if too_long:
        raise NotUnderstood(
            f"could not place the words {' '.join(too_long[0])!r}: put a text to search for "
            'in quotes ("connection refused")',
            suggestions(reading.context),
        )
    return [" ".join(run) for run in runs]


def _singular(word: str) -> str:
    """A plural's singular for an unquoted text ("timeouts" finds "timeout" and
    "timeouts"); other words as they are."""
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]  # misses, crashes
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _log_query(reading: _Reading, texts: list[str]) -> str:
    matchers = []
    services = reading.selected()
    if services:
        matchers.append(matcher("service_name", services))
    if reading.levels:
        matchers.append(matcher("level", sorted(reading.levels, key=LEVEL_ORDER.index)))
    if not matchers:
        matchers.append(EVERY_SERVICE)
    stages = [f"|= {quoted(text)}" for text in reading.quoted]
    stages += [f"|~ {quoted('(?i)' + regex_escaped(text))}" for text in texts]
    for name, op, value in reading.fields:
        stages.append(field_filter(name, op, value))
    return "{" + ", ".join(matchers) + "}" + "".join(f" {stage}" for stage in stages)


def _described(reading: _Reading, texts: list[str]) -> str:
    """The entries the query selects, in words."""
    levels = [LEVEL_NAMES[level] for level in sorted(reading.levels, key=LEVEL_ORDER.index)]
    level_words = f"{' or '.join(levels)} entries" if levels else "entries"
    services = reading.selected()
    whose = f" of {' and '.join(services)}" if services else " of all services"
    found = [f'containing "{t}"' for t in reading.quoted]
    found += [f'mentioning "{t}" (any case)' for t in texts]
    found += [f"with {name} {_op_words(op, value)}" for name, op, value in reading.fields]
    return " ".join([level_words + whose, *found[:1], *(f"and {f}" for f in found[1:])])


def _op_words(op: str, value: str) -> str:
    if re.fullmatch(r"[1-5]xx", value):
        return f"in the {value} range"
    return f"{OP_WORDS[op]} {value}"


OP_WORDS = {"=": "=", "!=": "not", ">": "above", ">=": "at least", "<": "below", "<=": "at most"}


def suggestions(context: Context) -> list[str]:
    """Questions these rules read, with the caller's own service names."""
    service = context.services[0] if context.services else "checkout"
    return [
        f"{service} errors in the last hour",
        f'"connection refused" in {service} since 9am',
        "how many errors per minute by service in the last 6 hours",
        f"most common errors in {service} yesterday",
        f"{service} warnings with status 5xx in the last 15 minutes",
    ]
