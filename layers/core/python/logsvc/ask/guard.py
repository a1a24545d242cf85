"""What a translation must be before it runs, whoever wrote it: a query the service's own
LogQL parser reads, of the kind it claims, that reads only the caller's services, over a
bounded range. Anything else is refused with a 400 naming why; nothing is run.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

from logsvc.ask import Translation
from logsvc.clock import DAY_MS
from logsvc.errors import BadRequest
from logsvc.loki.expressions import LogQuery
from logsvc.loki.logql import LogQLError, parse

MAX_RANGE_MS = 31 * DAY_MS
FUTURE_SLACK_MS = 60_000
# A literal name in a regex alternation: letters, digits and escaped punctuation only.
_LITERAL = re.compile(r"(?:[A-Za-z0-9_/@-]|\\[.+:/@-])+")


def checked(translation: Translation, services: frozenset[str] | None, now_ms: int) -> Any:
    """The parsed query, or BadRequest: the query does not parse, is not of its kind,
    reads services outside ``services`` (None: the caller may read all), or its range is
    empty, in the future or longer than MAX_RANGE_MS."""
    try:
        query = parse(translation.logql)
    except LogQLError as error:
        raise BadRequest(f"logql: {error}", field="logql") from None
    if (translation.kind == "metric") == isinstance(query, LogQuery):
        wanted = "a metric query" if translation.kind == "metric" else "a log query"
        raise BadRequest(f"logql: a {translation.kind} answer needs {wanted}", field="logql")
    if services is not None:
        for selector in log_queries(query):
            outside = _services_outside(selector, services)
            if outside:
                raise BadRequest(
                    f"logql: the query reads {outside}, outside this key's services "
                    f"{sorted(services)}",
                    field="logql",
                )
    if not 0 <= translation.start < translation.end:
        raise BadRequest("start: the range is empty or starts before 1970", field="start")
    if translation.end > now_ms + FUTURE_SLACK_MS:
        raise BadRequest("end: the range ends in the future", field="end")
    if translation.end - translation.start > MAX_RANGE_MS:
        raise BadRequest("start: a question's range may span at most 31 days", field="start")
    return query


def log_queries(node: Any) -> Iterator[LogQuery]:
    """Every selector-and-pipeline in a parsed query (a binary operation has two)."""
    if isinstance(node, LogQuery):
        yield node
    elif dataclasses.is_dataclass(node):
        for part in dataclasses.fields(node):
            yield from log_queries(getattr(node, part.name))
    elif isinstance(node, tuple):
        for item in node:
            yield from log_queries(item)


def _services_outside(selector: LogQuery, services: frozenset[str]) -> str | None:
    """What a selector reads beyond ``services``, in words; None when it reads only them:
    it must name them by ``service_name="..."`` or by an alternation of literal names."""
    for matcher in selector.matchers:
        if matcher.label != "service_name":
            continue
        if matcher.op == "=" and matcher.value in services:
            return None
        if matcher.op == "=~":
            names = matcher.value.split("|")
            if all(_LITERAL.fullmatch(name) for name in names):
                named = {name.replace("\\", "") for name in names}
                if named <= services:
                    return None
                return f"service_name {sorted(named - services)}"
        if matcher.op == "=":
            return f"service_name {matcher.value!r}"
    return "services it does not name (no service_name matcher)"
