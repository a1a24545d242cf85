"""The templates of ``line_format`` and ``label_format``: Go's text/template as Loki uses
it, the part its users write: ``{{.label}}``, pipelines (``{{ .msg | ToUpper }}``),
``if``/``else if``/``else``/``with``/``end``, ``{{-``/``-}}`` trimming, comments, and
Loki's template functions (string, number, date, regex, encoding), ``__line__`` and
``__timestamp__``. A template is checked when the query is parsed: an unknown function or
an unclosed block is the client's 400.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from logsvc.go_strings import go_unquoted
from logsvc.loki.matching import LogQLError, regex

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)|(?P<number>-?[0-9]+(?:\.[0-9]+)?)'
    r"|(?P<field>\.[A-Za-z_][A-Za-z0-9_]*)|(?P<dot>\.)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>[()|]))"
)
MAX_OUTPUT = 64 * 1024  # a formatted line or label is cut here (repeat cannot grow memory)


@dataclass
class Context:
    labels: dict[str, str]
    line: str
    timestamp_ms: int


# -- the functions ------------------------------------------------------------------------


def _text(value: Any) -> str:
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


def _truthy(value: Any) -> bool:
    return bool(value) and value != "0" if isinstance(value, str) else bool(value)


def _repeat(count: Any, text: Any) -> str:
    times = int(_number(count))
    return _text(text) * max(0, min(times, MAX_OUTPUT // max(1, len(_text(text)))))


def _date(layout: Any, moment: Any) -> str:
    when = moment if isinstance(moment, datetime) else datetime.fromtimestamp(_number(moment), UTC)
    return when.strftime(_go_layout(_text(layout)))


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
        return datetime.strptime(_text(text), _go_layout(_text(layout))).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def _b64dec(text: Any) -> str:
    try:
        return base64.b64decode(_text(text)).decode("utf-8", "replace")
    except ValueError:
        return ""


def _substr(start: Any, end: Any, text: Any) -> str:
    s, e, value = int(_number(start)), int(_number(end)), _text(text)
    if s < 0:
        return value[:e] if e >= 0 else value
    return value[s:] if e < 0 or e > len(value) else value[s:e]


def _trunc(count: Any, text: Any) -> str:
    n, value = int(_number(count)), _text(text)
    return value[:n] if n >= 0 else value[n:]


def _from_json(text: Any) -> Any:
    try:
        return json.loads(_text(text))
    except ValueError:
        return {}


def _printf(form: Any, *args: Any) -> str:
    go = _text(form)
    python = re.sub(r"%v", "%s", go)
    try:
        return python % tuple(_text(a) if "%s" in python else a for a in args)
    except (TypeError, ValueError):
        return go


def _regex_replace(literal: bool) -> Callable[..., str]:
    def replace(pattern: Any, text: Any, replacement: Any) -> str:
        compiled = regex(_text(pattern))
        repl = _text(replacement)
        if literal:
            return compiled.sub(lambda _: repl, _text(text))
        return compiled.sub(re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl), _text(text))

    return replace


def _default(fallback: Any, value: Any = None) -> Any:
    return value if _truthy(value) else fallback


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # strings (Go's and Sprig's names, as Loki offers both)
    "ToLower": lambda s: _text(s).lower(),
    "ToUpper": lambda s: _text(s).upper(),
    "lower": lambda s: _text(s).lower(),
    "upper": lambda s: _text(s).upper(),
    "title": lambda s: _text(s).title(),
    "Title": lambda s: _text(s).title(),
    "Replace": lambda s, old, new, n: _text(s).replace(_text(old), _text(new), int(_number(n))),
    "replace": lambda old, new, s: _text(s).replace(_text(old), _text(new)),
    "Trim": lambda s, cut: _text(s).strip(_text(cut)),
    "TrimLeft": lambda s, cut: _text(s).lstrip(_text(cut)),
    "TrimRight": lambda s, cut: _text(s).rstrip(_text(cut)),
    "TrimPrefix": lambda s, p: _text(s).removeprefix(_text(p)),
    "TrimSuffix": lambda s, p: _text(s).removesuffix(_text(p)),
    "TrimSpace": lambda s: _text(s).strip(),
    "trim": lambda s: _text(s).strip(),
    "trimAll": lambda cut, s: _text(s).strip(_text(cut)),
    "trimPrefix": lambda p, s: _text(s).removeprefix(_text(p)),
    "trimSuffix": lambda p, s: _text(s).removesuffix(_text(p)),
    "trunc": _trunc,
    "substr": _substr,
    "contains": lambda sub, s: _text(sub) in _text(s),
    "hasPrefix": lambda p, s: _text(s).startswith(_text(p)),
    "hasSuffix": lambda p, s: _text(s).endswith(_text(p)),
    "indent": lambda n, s: "\n".join(" " * int(_number(n)) + x for x in _text(s).split("\n")),
    "nindent": lambda n, s: (
        "\n" + "\n".join(" " * int(_number(n)) + x for x in _text(s).split("\n"))
    ),
    "repeat": _repeat,
    "regexReplaceAll": _regex_replace(literal=False),
    "regexReplaceAllLiteral": _regex_replace(literal=True),
    "alignLeft": lambda n, s: _text(s)[: int(_number(n))].ljust(int(_number(n))),
    "alignRight": lambda n, s: (
        _text(s)[-int(_number(n)) :].rjust(int(_number(n))) if int(_number(n)) else ""
    ),
    "count": lambda pattern, s: len(regex(_text(pattern)).findall(_text(s))),
    "printf": _printf,
    "print": lambda *a: "".join(_text(x) for x in a),
    "default": _default,
    "fromJson": _from_json,
    "len": lambda v: len(v) if isinstance(v, (str, list, dict)) else 0,
    # encodings
    "b64enc": lambda s: base64.b64encode(_text(s).encode()).decode(),
    "b64dec": _b64dec,
    "urlencode": lambda s: urllib.parse.quote_plus(_text(s)),
    "urldecode": lambda s: urllib.parse.unquote_plus(_text(s)),
    "sha256": lambda s: hashlib.sha256(_text(s).encode()).hexdigest(),
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
    "eq": lambda a, *b: any(_text(a) == _text(x) for x in b),
    "ne": lambda a, b: _text(a) != _text(b),
    "lt": lambda a, b: _compare(a, b) < 0,
    "le": lambda a, b: _compare(a, b) <= 0,
    "gt": lambda a, b: _compare(a, b) > 0,
    "ge": lambda a, b: _compare(a, b) >= 0,
    "and": lambda *a: next((x for x in a if not _truthy(x)), a[-1]),
    "or": lambda *a: next((x for x in a if _truthy(x)), a[-1]),
    "not": lambda a: not _truthy(a),
}
_CONTEXT_FUNCTIONS = ("__line__", "__timestamp__")


def _compare(a: Any, b: Any) -> int:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return (a > b) - (a < b)
    x, y = _text(a), _text(b)
    return (x > y) - (x < y)


# -- the parsed template ----------------------------------------------------------------


@dataclass
class _Pipeline:
    commands: list[list[tuple[str, Any]]]  # each command: its operands (kind, value)


@dataclass
class _Block:
    kind: str  # if, with
    branches: list[tuple[_Pipeline, list[Any]]] = field(default_factory=list)
    otherwise: list[Any] | None = None


@dataclass
class Template:
    nodes: list[Any]

    def render(self, labels: dict[str, str], line: str, timestamp_ms: int) -> str:
        out: list[str] = []
        _render(self.nodes, Context(labels, line, timestamp_ms), labels, out)
        return "".join(out)[:MAX_OUTPUT]


@lru_cache(maxsize=256)
def compile_template(text: str) -> Template:
    """The template, parsed; a 400 naming what Go's template parser would refuse."""
    try:
        nodes, _rest = _parse_nodes(_split(text), 0, top=True)
    except _TemplateError as exc:
        raise LogQLError(f"query: invalid template {text[:60]!r}: {exc}") from None
    return Template(nodes)


class _TemplateError(Exception):
    pass


class RenderError(Exception):
    """A template that failed on a line (a function given what it cannot take): Loki keeps
    the line as it was and marks it ``__error__="TemplateFormatErr"``."""


def _split(text: str) -> list[tuple[str, str]]:
    """The template as ("text", ...) and ("action", ...) pieces, trimming done."""
    pieces: list[tuple[str, str]] = []
    at = 0
    for match in _ACTION.finditer(text):
        literal = text[at : match.start()]
        if match[1]:
            literal = literal.rstrip()
        if pieces and pieces[-1][0] == "trim-next":
            pieces.pop()
            literal = literal.lstrip()
        if literal:
            pieces.append(("text", literal))
        body = match[2].strip()
        if not (body.startswith("/*") and body.endswith("*/")):
            pieces.append(("action", body))
        if match[3]:
            pieces.append(("trim-next", ""))
        at = match.end()
    literal = text[at:]
    if pieces and pieces[-1][0] == "trim-next":
        pieces.pop()
        literal = literal.lstrip()
    if "{{" in literal:
        raise LogQLError(f"query: invalid template {text[:60]!r}: unclosed action")
    if literal:
        pieces.append(("text", literal))
    return [p for p in pieces if p[0] != "trim-next"]


def _parse_nodes(pieces: list[tuple[str, str]], at: int, top: bool) -> tuple[list[Any], int]:
    nodes: list[Any] = []
    while at < len(pieces):
        kind, body = pieces[at]
        if kind == "text":
            nodes.append(body)
            at += 1
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in ("end", "else"):
            if top:
                raise _TemplateError(f"unexpected {{{{{word}}}}}")
            return nodes, at
        if word in ("if", "with"):
            block, at = _parse_block(word, pieces, at)
            nodes.append(block)
            continue
        if word in ("range", "define", "template", "block"):
            raise _TemplateError(f"{{{{{word}}}}} is not supported here")
        nodes.append(_pipeline(body))
        at += 1
    if not top:
        raise _TemplateError("unexpected end: a block is not closed with {{end}}")
    return nodes, at


def _parse_block(word: str, pieces: list[tuple[str, str]], at: int) -> tuple[_Block, int]:
    block = _Block(word)
    condition = _pipeline(pieces[at][1][len(word) :].strip())
    while True:
        body, at = _parse_nodes(pieces, at + 1, top=False)
        block.branches.append((condition, body))
        closing = pieces[at][1]
        if closing == "end":
            return block, at + 1
        rest = closing[len("else") :].strip()
        if rest.startswith("if ") and word == "if":
            condition = _pipeline(rest[3:].strip())
            continue
        if rest:
            raise _TemplateError(f"unexpected {{{{{closing}}}}}")
        block.otherwise, at = _parse_nodes(pieces, at + 1, top=False)
        if pieces[at][1] != "end":
            raise _TemplateError("expected {{end}}")
        return block, at + 1


def _pipeline(body: str) -> _Pipeline:
    tokens = _tokens(body)
    pipeline, at = _parse_pipeline(tokens, 0)
    if at != len(tokens):
        raise _TemplateError(f"unexpected {tokens[at][1]!r}")
    return pipeline


def _tokens(body: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(body):
        if body[at:].strip() == "":
            break
        match = _TOKEN.match(body, at)
        if match is None:
            raise _TemplateError(f"unexpected {body[at : at + 10]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match[kind]))
        at = match.end()
    if not tokens:
        raise _TemplateError("missing value for command")
    return tokens


def _parse_pipeline(tokens: list[tuple[str, str]], at: int) -> tuple[_Pipeline, int]:
    commands: list[list[tuple[str, Any]]] = [[]]
    while at < len(tokens):
        kind, value = tokens[at]
        if kind == "punct" and value == ")":
            break
        at += 1
        if kind == "punct" and value == "|":
            if not commands[-1]:
                raise _TemplateError("missing command before |")
            commands.append([])
        elif kind == "punct":  # (
            inner, at = _parse_pipeline(tokens, at)
            if at >= len(tokens) or tokens[at][1] != ")":
                raise _TemplateError("unclosed (")
            at += 1
            commands[-1].append(("pipeline", inner))
        elif kind == "string":
            commands[-1].append(("value", _go_string(value)))
        elif kind == "number":
            commands[-1].append(("value", float(value) if "." in value else int(value)))
        elif kind == "word" and value in ("true", "false", "nil"):
            commands[-1].append(("value", {"true": True, "false": False, "nil": None}[value]))
        elif kind == "word":
            if value not in FUNCTIONS and value not in _CONTEXT_FUNCTIONS:
                raise _TemplateError(f'function "{value}" not defined')
            commands[-1].append(("function", value))
        else:
            commands[-1].append((kind, value))
    if not commands[-1]:
        raise _TemplateError("missing command")
    return _Pipeline(commands), at


def _go_string(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    try:
        return go_unquoted(token[1:-1])
    except ValueError:
        raise _TemplateError(f"bad string {token[:20]}") from None


# -- rendering --------------------------------------------------------------------------


def _render(nodes: list[Any], context: Context, dot: Any, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Pipeline):
            out.append(_text(_evaluate(node, context, dot)))
        else:
            for condition, body in node.branches:
                value = _evaluate(condition, context, dot)
                if _truthy(value):
                    _render(body, context, value if node.kind == "with" else dot, out)
                    break
            else:
                if node.otherwise is not None:
                    _render(node.otherwise, context, dot, out)


def _evaluate(pipeline: _Pipeline, context: Context, dot: Any) -> Any:
    piped: list[Any] = []
    for command in pipeline.commands:
        piped = [_command(command, context, dot, piped)]
    return piped[0]


def _command(command: list[tuple[str, Any]], context: Context, dot: Any, piped: list[Any]) -> Any:
    kind, value = command[0]
    if kind == "function":
        args = [_operand(k, v, context, dot) for k, v in command[1:]] + piped
        if value == "__line__":
            return context.line
        if value == "__timestamp__":
            return datetime.fromtimestamp(context.timestamp_ms / 1000, UTC)
        try:
            return FUNCTIONS[value](*args)
        except (TypeError, ValueError, ArithmeticError, OverflowError) as exc:
            raise RenderError(f"{value}: {exc}") from None
    return _operand(kind, value, context, dot)


def _operand(kind: str, value: Any, context: Context, dot: Any) -> Any:
    if kind == "value":
        return value
    if kind == "field":
        name = value[1:]
        if isinstance(dot, dict):
            found = dot.get(name)
            return "" if found is None else found
        return ""
    if kind == "dot":
        return dot
    if kind == "pipeline":
        return _evaluate(value, context, dot)
    return _command([(kind, value)], context, dot, [])
