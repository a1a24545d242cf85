"""The functions Loki's templates offer (``line_format``, ``label_format``): text/template's
own (``eq``, ``and``, ``printf``...) and Loki's string, number, date, regex and encoding
functions, with how a template's values read as text, numbers and truth."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from logsvc.loki.matching import regex

MAX_OUTPUT = 64 * 1024  # a formatted line or label is cut here (repeat cannot grow memory)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)
    return str(value)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def truthy(value: Any) -> bool:
    return bool(value) and value != "0" if isinstance(value, str) else bool(value)


def _repeat(count: Any, text: Any) -> str:
    times = int(_number(count))
    return text(text) * max(0, min(times, MAX_OUTPUT // max(1, len(text(text)))))


def _date(layout: Any, moment: Any) -> str:
    when = moment if isinstance(moment, datetime) else datetime.fromtimestamp(_number(moment), UTC)
    return when.strftime(_go_layout(text(layout)))


_GO_LAYOUT = [
    ("2006", "%Y"),
    ("01", "%m"),
    ("02", "%d"),
    ("15", "%H"),
    ("04", "%M"),
    ("05", "%S"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "%Z"),
    ("-0700", "%z"),
]


def _go_layout(layout: str) -> str:
    for go, strftime in _GO_LAYOUT:
        layout = layout.replace(go, strftime)
    return layout


def _to_date(layout: Any, text: Any) -> datetime:
    try:
        return datetime.strptime(text(text), _go_layout(text(layout))).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def _b64dec(text: Any) -> str:
    try:
        return base64.b64decode(text(text)).decode("utf-8", "replace")
    except ValueError:
        return ""


def _substr(start: Any, end: Any, text: Any) -> str:
    s, e, value = int(_number(start)), int(_number(end)), text(text)
    if s < 0:
        return value[:e] if e >= 0 else value
    return value[s:] if e < 0 or e > len(value) else value[s:e]


def _trunc(count: Any, text: Any) -> str:
    n, value = int(_number(count)), text(text)
    return value[:n] if n >= 0 else value[n:]


def _from_json(text: Any) -> Any:
    try:
        return json.loads(text(text))
    except ValueError:
        return {}


def _printf(form: Any, *args: Any) -> str:
    go = text(form)
    python = re.sub(r"%v", "%s", go)
    try:
        return python % tuple(text(a) if "%s" in python else a for a in args)
    except (TypeError, ValueError):
        return go


def _regex_replace(literal: bool) -> Callable[..., str]:
    def replace(pattern: Any, text: Any, replacement: Any) -> str:
        compiled = regex(text(pattern))
        repl = text(replacement)
        if literal:
            return compiled.sub(lambda _: repl, text(text))
        return compiled.sub(re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl), text(text))

    return replace


def _default(fallback: Any, value: Any = None) -> Any:
    return value if truthy(value) else fallback


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # strings (Go's and Sprig's names, as Loki offers both)
    "ToLower": lambda s: text(s).lower(),
    "ToUpper": lambda s: text(s).upper(),
    "lower": lambda s: text(s).lower(),
    "upper": lambda s: text(s).upper(),
    "title": lambda s: text(s).title(),
    "Title": lambda s: text(s).title(),
    "Replace": lambda s, old, new, n: text(s).replace(text(old), text(new), int(_number(n))),
    "replace": lambda old, new, s: text(s).replace(text(old), text(new)),
    "Trim": lambda s, cut: text(s).strip(text(cut)),
    "TrimLeft": lambda s, cut: text(s).lstrip(text(cut)),
    "TrimRight": lambda s, cut: text(s).rstrip(text(cut)),
    "TrimPrefix": lambda s, p: text(s).removeprefix(text(p)),
    "TrimSuffix": lambda s, p: text(s).removesuffix(text(p)),
    "TrimSpace": lambda s: text(s).strip(),
    "trim": lambda s: text(s).strip(),
    "trimAll": lambda cut, s: text(s).strip(text(cut)),
    "trimPrefix": lambda p, s: text(s).removeprefix(text(p)),
    "trimSuffix": lambda p, s: text(s).removesuffix(text(p)),
    "trunc": _trunc,
    "substr": _substr,
    "contains": lambda sub, s: text(sub) in text(s),
    "hasPrefix": lambda p, s: text(s).startswith(text(p)),
    "hasSuffix": lambda p, s: text(s).endswith(text(p)),
    "indent": lambda n, s: "\n".join(" " * int(_number(n)) + x for x in text(s).split("\n")),
    "nindent": lambda n, s: (
        "\n" + "\n".join(" " * int(_number(n)) + x for x in text(s).split("\n"))
    ),
    "repeat": _repeat,
    "regexReplaceAll": _regex_replace(literal=False),
    "regexReplaceAllLiteral": _regex_replace(literal=True),
    "alignLeft": lambda n, s: text(s)[: int(_number(n))].ljust(int(_number(n))),
    "alignRight": lambda n, s: (
        text(s)[-int(_number(n)) :].rjust(int(_number(n))) if int(_number(n)) else ""
    ),
    "count": lambda pattern, s: len(regex(text(pattern)).findall(text(s))),
    "printf": _printf,
    "print": lambda *a: "".join(text(x) for x in a),
    "default": _default,
    "fromJson": _from_json,
    "len": lambda v: len(v) if isinstance(v, (str, list, dict)) else 0,
    # encodings
    "b64enc": lambda s: base64.b64encode(text(s).encode()).decode(),
    "b64dec": _b64dec,
    "urlencode": lambda s: urllib.parse.quote_plus(text(s)),
    "urldecode": lambda s: urllib.parse.unquote_plus(text(s)),
    "sha256": lambda s: hashlib.sha256(text(s).encode()).hexdigest(),
    # numbers
    "add": lambda *a: int(sum(_number(x) for x in a)),
    "sub": lambda a, b: int(_number(a) - _number(b)),
    "mul": lambda *a: int(math.prod(_number(x) for x in a)),
    "div": lambda a, b: int(_number(a) // _number(b)) if _number(b) else 0,
    "mod": lambda a, b: int(_number(a) % _number(b)) if _number(b) else 0,
    "addf": lambda *a: sum(_number(x) for x in a),
    "subf": lambda a, *b: _number(a) - sum(_number(x) for x in b),
    "mulf": lambda *a: math.prod(_number(x) for x in a),
    "divf": lambda a, *b: (
        _number(a) / math.prod(_number(x) for x in b)
        if math.prod(_number(x) for x in b)
        else math.nan
    ),
    "max": lambda *a: int(max(_number(x) for x in a)),
    "min": lambda *a: int(min(_number(x) for x in a)),
    "maxf": lambda *a: max(_number(x) for x in a),
    "minf": lambda *a: min(_number(x) for x in a),
    "ceil": lambda x: float(math.ceil(_number(x))),
    "floor": lambda x: float(math.floor(_number(x))),
    "round": lambda x, precision=0: round(_number(x), int(_number(precision))),
    "int": lambda x: int(_number(x)),
    "float64": _number,
    # dates
    "date": _date,
    "toDate": _to_date,
    "now": lambda: datetime.now(UTC),
    "unixEpoch": lambda t: int(t.timestamp()) if isinstance(t, datetime) else 0,
    "unixEpochMillis": lambda t: int(t.timestamp() * 1000) if isinstance(t, datetime) else 0,
    "unixEpochNanos": lambda t: int(t.timestamp() * 1e9) if isinstance(t, datetime) else 0,
    "unixToTime": lambda s: datetime.fromtimestamp(_number(s), UTC),
    # comparisons and logic (text/template's own)
    "eq": lambda a, *b: any(text(a) == text(x) for x in b),
    "ne": lambda a, b: text(a) != text(b),
    "lt": lambda a, b: _compare(a, b) < 0,
    "le": lambda a, b: _compare(a, b) <= 0,
    "gt": lambda a, b: _compare(a, b) > 0,
    "ge": lambda a, b: _compare(a, b) >= 0,
    "and": lambda *a: next((x for x in a if not truthy(x)), a[-1]),
    "or": lambda *a: next((x for x in a if truthy(x)), a[-1]),
    "not": lambda a: not truthy(a),
}
CONTEXT_FUNCTIONS = ("__line__", "__timestamp__")


def _compare(a: Any, b: Any) -> int:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return (a > b) - (a < b)
    x, y = text(a), text(b)
    return (x > y) - (x < y)
