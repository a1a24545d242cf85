"""How LogQL matches text, apart from parsing it: label matchers (``=``, ``!=``, ``=~``,
``!~``; regular expressions anchored at both ends, as Loki anchors them) and line filters
(``|=``, ``!=``, ``|~``, ``!~``). The parser checks each regular expression with ``regex``
once; the engine and the line pipeline match with the rest."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from logsvc.errors import BadRequest


class LogQLError(BadRequest):
    """A query the service cannot run: a 400 naming ``query``."""

    def __init__(self, message: str):
        super().__init__(message, field="query")


@cache
def regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise LogQLError(
            f"query: {pattern[:40]!r} is not a valid regular expression ({exc})"
        ) from None


def match_text(op: str, value: str, wanted: str) -> bool:
    if op == "=":
        return value == wanted
    if op == "!=":
        return value != wanted
    # Loki anchors label regular expressions at both ends.
    found = regex(wanted).fullmatch(value) is not None
    return found if op == "=~" else not found


def line_kept(op: str, wanted: str, line: str) -> bool:
    """Whether a line filter (op and its text or pattern) keeps a line."""
    if op == "|=":
        return wanted in line
    if op == "!=":
        return wanted not in line
    found = regex(wanted).search(line) is not None
    return found if op == "|~" else not found


def selected(matchers: Iterable[Any], labels: dict[str, str]) -> bool:
    """Whether every label matcher (logsvc.loki.logql.Matcher) holds for the labels."""
    return all(match_text(m.op, labels.get(m.label, ""), m.value) for m in matchers)
