r"""How LogQL matches text, apart from parsing it: label matchers (``=``, ``!=``, ``=~``,
``!~``; regular expressions anchored at both ends, as Loki anchors them) and line filters
(``|=``, ``!=``, ``|~``, ``!~``). The parser checks each regular expression with ``regex``
once; the engine, the line pipeline and live tail match with the rest.

Regular expressions are RE2's, as Loki's (Go's regexp) are: POSIX classes (``[[:alpha:]]``),
Unicode classes (``\pL``), flags anywhere (``a(?i)b``); no lookaround, no backreferences.
RE2 matches in time linear in the text, so no pattern can stall a reader, a tail or ingest.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import re2

from logsvc.errors import BadRequest


class LogQLError(BadRequest):
    """A query the service cannot run: a 400 naming ``query``."""

    def __init__(self, message: str):
        super().__init__(message, field="query")


# Compiled patterns kept per process: enough for the dashboards a team reloads, bounded so
# that distinct patterns sent by one reader cannot grow memory without end.
REGEX_CACHE_SIZE = 256
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is the client's 400, not a line on stderr


@lru_cache(maxsize=REGEX_CACHE_SIZE)
def regex(pattern: str) -> Any:
    """The pattern compiled by RE2, or a 400 naming what RE2 refuses."""
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise LogQLError(
            f"query: {pattern[:40]!r} is not a valid regular expression (RE2: {reason})"
        ) from None


def match_text(op: str, value: str, wanted: str) -> bool:
    if op == "=":
        return value == wanted
    if op == "!=":
        return value != wanted
    # Loki anchors label regular expressions at both ends.
    found = regex(wanted).fullmatch(value) is not None
    return found if op == "=~" else not found


def line_kept(op: str, wanted: tuple[str, ...], line: str) -> bool:
    """Whether a line filter (op and its texts or patterns, joined by ``or``) keeps a line:
    ``|= "a" or "b"`` keeps a line holding either; ``!= "a" or "b"`` one holding neither."""
    if op == "|=":
        return any(text in line for text in wanted)
    if op == "!=":
        return not any(text in line for text in wanted)
    found = any(regex(pattern).search(line) is not None for pattern in wanted)
    return found if op == "|~" else not found


def selected(matchers: Iterable[Any], labels: dict[str, str]) -> bool:
    """Whether every label matcher (logsvc.loki.logql.Matcher) holds for the labels."""
    return all(match_text(m.op, labels.get(m.label, ""), m.value) for m in matchers)
