"""The templates of ``line_format`` and ``label_format``: Go's text/template as Loki uses
it, the part its users write: ``{{.label}}``, pipelines (``{{ .msg | ToUpper }}``),
``if``/``else if``/``else``/``with``/``end``, ``{{-``/``-}}`` trimming, comments, and
Loki's template functions (string, number, date, regex, encoding), ``__line__`` and
``__timestamp__``. A template is checked when the query is parsed: an unknown function or
an unclosed block is the client's 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from logsvc.go_strings import go_unquoted
from logsvc.loki.matching import LogQLError
from logsvc.loki.template_functions import (
    CONTEXT_FUNCTIONS,
    FUNCTIONS,
    MAX_OUTPUT,
    text,
    truthy,
)

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)|(?P<number>-?[0-9]+(?:\.[0-9]+)?)'
    r"|(?P<field>\.[A-Za-z_][A-Za-z0-9_]*)|(?P<dot>\.)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>[()|]))"
)


@dataclass
class Context:
    labels: dict[str, str]
    line: str
    timestamp_ms: int


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
            if value not in FUNCTIONS and value not in CONTEXT_FUNCTIONS:
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
            out.append(text(_evaluate(node, context, dot)))
        else:
            for condition, body in node.branches:
                value = _evaluate(condition, context, dot)
                if truthy(value):
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
