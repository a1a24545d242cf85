"""The words the built-in rules know (logsvc.ask.words): levels, words that carry no
meaning of their own, words that ask for more than the rules read, comparisons, and the
phrases of counts, rates, groupings and patterns."""

from __future__ import annotations

import re


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


LEVEL_WORDS = {
    "error": ("error", "critical"), "errors": ("error", "critical"),
    "erroring": ("error", "critical"), "failing": ("error", "critical"),
    "warning": ("warn",), "warnings": ("warn",), "warn": ("warn",), "warns": ("warn",),
    "critical": ("critical",), "crit": ("critical",), "fatal": ("critical",),
    "criticals": ("critical",), "debug": ("debug",), "info": ("info",),
}  # fmt: skip
LEVEL_ORDER = ("debug", "info", "warn", "error", "critical")
LEVEL_NAMES = {"debug": "debug", "info": "info", "warn": "warning", "error": "error",
               "critical": "critical"}  # fmt: skip
# Words that carry no meaning of their own here (markers of text included: "about").
STOPWORDS = _word_set(
    """
    a about all also an and any app application are at be been by can contain containing
    contains could did display do does entries entry event events fetch find for from
    get give had happened happening has have i in is it its just latest level levels
    like line lines list log logs look looking match matches matching me mention
    mentioning mentions message messages my new newest occurred occurring of on one ones
    only or our please recent recently records regarding related said say saying says
    search see service services severity show so some system than that the then there
    these this those to today us was we were what where which who whose will with would
    you
    """
)
# Asking for more than these rules read: left to a model, or refused with suggestions.
BEYOND = _word_set(
    """
    average avg best bypass cause caused causing compare compared comparing correlate
    correlated decrease decreased delete disregard drop explain fastest forecast forget
    ignore increase increased increasing insert instruction instructions mean median
    override p50 p75 p90 p95 p99 percentile predict pretend prompt rank ranking remove
    root slowest spike spiked spikes summarise summarize summary trend trending trends
    update versus vs why worst
    """
)
COMPARATORS = {
    ">": ">", "above": ">", "over": ">", "exceeding": ">", "greater": ">", "more": ">",
    ">=": ">=", "least": ">=", "<": "<", "below": "<", "under": "<", "less": "<",
    "fewer": "<", "<=": "<=", "most": "<=", "not": "!=", "!=": "!=", "isn't": "!=",
    "=": "=", "==": "=", "is": "=", "equals": "=", ":": "=",
}  # fmt: skip
FIELD_FILLERS = frozenset({"than", "at", "of", "to", "equal", "code", "id", "with", "was"})
SERVICE_SUFFIXES = ("service", "svc", "server", "srv", "api", "app", "worker")
PATTERN_PHRASES = re.compile(
    r"\b(?:most (?:common|frequent)|(?:common|frequent|recurring|top|repeated)"
    r"(?= (?:errors?|warnings?|messages?|problems?|issues?|failures?|exceptions?))"
    r"|patterns?|kinds? of|types? of|group(?:ed)? by message)\b"
)
COUNT_PHRASES = re.compile(r"\b(?:how many|how much|count(?:s|ed)?|number of|volume|tally)\b")
RATE_WORDS = re.compile(r"\b(?:rate|per second|/s|a second|each second|every second)\b")
PER_UNIT = re.compile(r"\b(?:per|each|every|a|/)\s*(second|minute|min|hour|day)\b")
GROUPS = {"level": "level", "severity": "level", "service": "service_name"}
BY_GROUP = re.compile(
    r"\b(?:by|per|for each|each|across|broken down by)\s+(level|severity|service)s?\b"
)
RANKING = re.compile(r"\b(?:which|what) (?:services?|apps?|applications?)\b")
# "text", “text”, and 'text' (not an apostrophe: a quote follows a space and ends a word)
QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|(?:(?<=\s)|^)\'([^\']{2,})\'(?=[\s.,;:!?]|$)')
# A word: a key=value pair whole ("region=eu-west-1", "http.status>=500"), a comparison,
# or a run of word characters with the punctuation of names and values inside.
TOKEN = re.compile(
    r"[A-Za-z_][\w.]*(?:!=|>=|<=|==|=|>|<|:)[^\s,;]+|>=|<=|!=|==|[<>=:]|[\w][\w.\-/@+]*[\w%]|[\w]"
)
# The stream labels every entry has: never a metadata field.
LABELS = frozenset({"service_name", "level", "detected_level", "source_type"})
