"""What LogQL's parser stages extract from a line, as Loki's do (pkg/logql/log read as the
reference): ``json`` (every field, or the paths asked for), ``logfmt`` (``--strict``,
``--keep-empty``), ``regexp`` (named groups), ``pattern`` (``<name>`` captures), ``unpack``;
and the line-level helpers beside them: ``decolorize``, ``ip()`` and pattern line filters.

Each parser returns the labels it found and, when the line is not what it reads, Loki's
error name for ``__error__`` (``JSONParserErr``, ``LogfmtParserErr``...). Label names are
sanitised as Loki sanitises them (anything but letters, digits and ``_`` becomes ``_``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from logsvc.entries import loads_json
from logsvc.loki.matching import LogQLError, regex

_NOT_LABEL = re.compile(r"[^A-Za-z0-9_]")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_PATTERN_CAPTURE = re.compile(r"<(_|[A-Za-z_][A-Za-z0-9_]*)>")
_IPV4 = re.compile(r"(?<![0-9.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])")
_JSON_PATH = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[([0-9]+)\]|\[("(?:[^"\\]|\\.)*")\]')

Labels = dict[str, str]


@lru_cache(maxsize=4096)
def label_name(key: str) -> str:
    """A key as a label name, as Loki sanitises it (keys repeat: the answer is kept)."""
    return _NOT_LABEL.sub("_", key)


# -- json and unpack --------------------------------------------------------------------


def parse_json(line: str, extract: tuple[tuple[str, str], ...] = ()) -> tuple[Labels, str | None]:
    """The line's fields (nested keys joined with ``_``; arrays skipped, as Loki skips
    them), or with ``extract`` only the paths asked for; and ``JSONParserErr`` when the line
    is not a JSON object."""
    try:
        document = loads_json(line)
    except (ValueError, RecursionError):  # nested past what a reader should unpack
        return {}, "JSONParserErr"
    if not isinstance(document, dict):
        return {}, "JSONParserErr"
    found: Labels = {}
    if extract:
        for label, path in extract:
            value = _at_path(document, json_path(path))
            if value is not None:
                found[label] = value
        return found, None
    flatten(document, "", found)
    return found, None


def flatten(value: dict[str, Any], prefix: str, into: Labels, arrays: bool = False) -> None:
    """An object's fields as labels, nested keys joined with ``_``: as the json parser
    makes them (arrays skipped), or, with ``arrays``, as structured metadata is read
    (arrays as their JSON text)."""
    for key, item in value.items():
        name = label_name(f"{prefix}{key}")
        if isinstance(item, dict):
            flatten(item, f"{name}_", into, arrays)
        elif item is None or (isinstance(item, list) and not arrays):
            continue
        else:
            into[name] = _scalar_text(item)


def _scalar_text(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, str):
        return item
    if isinstance(item, (dict, list)):
        return json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    return str(item)


@lru_cache(maxsize=256)
def json_path(path: str) -> tuple[str | int, ...]:
    """``a.b[0]["c d"]`` as its steps; a 400 when it is no such path."""
    steps: list[str | int] = []
    at = 0
    while at < len(path):
        match = _JSON_PATH.match(path, at)
        if match is None or match.end() == at:
            raise LogQLError(f'query: {path!r} is not a JSON path (a.b, a[0], a["b c"])')
        name, index, quoted = match.groups()
        steps.append(name if name is not None else int(index) if index else json.loads(quoted))
        at = match.end()
    if not steps:
        raise LogQLError("query: a JSON path is empty")
    return tuple(steps)


def _at_path(document: Any, steps: tuple[str | int, ...]) -> str | None:
    for step in steps:
        if (isinstance(step, int) and isinstance(document, list) and step < len(document)) or (
            isinstance(step, str) and isinstance(document, dict) and step in document
        ):
            document = document[step]
        else:
            return None
    return None if document is None else _scalar_text(document)


def unpack(line: str) -> tuple[Labels, str | None, str | None]:
    """``| unpack``: a JSON object's text fields as labels, and its ``_entry`` as the new
    line (what Promtail's ``pack`` stage wrote)."""
    try:
        document = loads_json(line)
    except (ValueError, RecursionError):
        return {}, None, "JSONParserErr"
    if not isinstance(document, dict):
        return {}, None, "JSONParserErr"
    entry = document.get("_entry")
    labels = {label_name(k): v for k, v in document.items() if k != "_entry" and isinstance(v, str)}
    return labels, entry if isinstance(entry, str) else None, None


# -- logfmt -----------------------------------------------------------------------------


def parse_logfmt(
    line: str, extract: tuple[tuple[str, str], ...] = (), flags: tuple[str, ...] = ()
) -> tuple[Labels, str | None]:
    """``key=value`` pairs (values bare or double-quoted with escapes); empty values and
    standalone keys are skipped unless ``--keep-empty``; ``--strict`` stops at the first
    malformed pair with ``LogfmtParserErr`` (otherwise it is skipped)."""
    strict, keep_empty = "--strict" in flags, "--keep-empty" in flags
    found: Labels = {}
    at, size = 0, len(line)
    while at < size:
        while at < size and line[at] <= " ":
            at += 1
        start = at
        while at < size and line[at] > " " and line[at] not in '="':
            at += 1
        key = line[start:at]
        if (at < size and line[at] == '"') or (not key and at < size):
            if strict:
                return found, "LogfmtParserErr"
            at = _skip_garbage(line, at)
            continue
        if not key:
            break
        if at >= size or line[at] != "=":
            if keep_empty:
                found[label_name(key)] = ""
            continue
        at += 1
        if at < size and line[at] == '"':
            value, at = _quoted(line, at)
            if value is None:
                if strict:
                    return found, "LogfmtParserErr"
                at = _skip_garbage(line, at)
                continue
        else:
            begin = at
            while at < size and line[at] > " ":
                at += 1
            value = line[begin:at]
            if '"' in value or "=" in value:
                if strict:
                    return found, "LogfmtParserErr"
                continue
        if value or keep_empty:
            found[label_name(key)] = value
    if extract:
        return {label: found[path] for label, path in extract if path in found}, None
    return found, None


def _quoted(line: str, at: int) -> tuple[str | None, int]:
    end = at + 1
    while end < len(line):
        if line[end] == "\\":
            end += 2
            continue
        if line[end] == '"':
            try:
                return json.loads(line[at : end + 1]), end + 1
            except ValueError:
                return line[at + 1 : end], end + 1
        end += 1
    return None, len(line)


def _skip_garbage(line: str, at: int) -> int:
    while at < len(line) and line[at] > " ":
        at += 1
    return at


# -- regexp and pattern -----------------------------------------------------------------


def named_groups(expression: str) -> tuple[str, ...]:
    """A regexp parser's named groups; a 400 when it has none or one is no label name."""
    compiled = regex(expression)
    names = tuple(compiled.groupindex)
    if not names:
        raise LogQLError("query: at least one named capture must be supplied to regexp")
    for name in names:
        if not _LABEL.fullmatch(name):
            raise LogQLError(f"query: invalid extracted label name {name!r}")
    return names


def parse_regexp(expression: str, line: str) -> Labels:
    match = regex(expression).search(line)
    if match is None:
        return {}
    return {name: value for name, value in match.groupdict().items() if value is not None}


@lru_cache(maxsize=256)
def extraction_pattern(expression: str) -> Any:
    """A pattern parser's expression as a regular expression: anchored at the line's
    start, each ``<name>`` taking the text up to the next literal (the last one, the rest
    of the line). A 400 when it names nothing, or two captures touch."""
    return regex(_pattern_regex(expression, require_names=True, full=False))


@lru_cache(maxsize=256)
def line_pattern(expression: str) -> Any:
    """A ``|>`` filter's pattern: the whole line matches it, ``<_>`` standing for any
    text."""
    return regex(_pattern_regex(expression, require_names=False, full=True))


def _pattern_regex(expression: str, require_names: bool, full: bool) -> str:
    parts: list[str] = []
    names: set[str] = set()
    at, previous_capture, captures = 0, False, 0
    for match in _PATTERN_CAPTURE.finditer(expression):
        literal = expression[at : match.start()]
        if literal:
            parts.append(re.escape(literal))
        elif previous_capture:
            raise LogQLError(f"query: consecutive captures in pattern {expression!r}")
        name = match[1]
        captures += 1
        if name != "_":
            if name in names:
                raise LogQLError(f"query: duplicate capture {name!r} in pattern")
            names.add(name)
            parts.append(f"(?P<{name}>.*?)")
        else:
            parts.append("(?:.*?)")
        at, previous_capture = match.end(), True
    tail = expression[at:]
    if tail:
        parts.append(re.escape(tail))
    elif parts and previous_capture:
        parts[-1] = parts[-1].replace(".*?", ".*")  # the last capture takes the rest
    if captures == 0 and require_names:
        raise LogQLError(f"query: at least one capture is required in pattern {expression!r}")
    if require_names and not names:
        raise LogQLError(f"query: at least one named capture is required in {expression!r}")
    return "(?s)^" + "".join(parts) + ("$" if full else "")


def parse_pattern(expression: str, line: str) -> Labels:
    match = extraction_pattern(expression).search(line)
    if match is None:
        return {}
    return {name: value for name, value in match.groupdict().items() if value is not None}


# -- line helpers -----------------------------------------------------------------------


def decolorize(line: str) -> str:
    return _ANSI.sub("", line)


@lru_cache(maxsize=256)
def ip_matcher(text: str) -> Callable[[str], bool]:
    """``ip("...")``: one address, a CIDR range (10.0.0.0/8) or a dash range
    (10.0.0.1-10.0.0.9), as a test of an address; a 400 when it is none of these."""
    try:
        if "/" in text:
            network = ipaddress.ip_network(text.strip(), strict=False)
            return lambda value: _in_range(
                _address(value), network.network_address, network.broadcast_address
            )
        if "-" in text:
            low, high = (ipaddress.ip_address(x.strip()) for x in text.split("-", 1))
            if low.version != high.version or low > high:
                raise ValueError
            return lambda value: _in_range(_address(value), low, high)
        single = ipaddress.ip_address(text.strip())
        return lambda value: _address(value) == single
    except ValueError:
        raise LogQLError(f"query: ip({text[:40]!r}) is not an address, range or CIDR") from None


def _address(value: str) -> Any:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _in_range(address: Any, low: Any, high: Any) -> bool:
    return address is not None and address.version == low.version and low <= address <= high


def line_has_ip(text: str, line: str) -> bool:
    """Whether an address the ``ip()`` matches appears in the line."""
    test = ip_matcher(text)
    candidates = _IPV4.findall(line) + (
        [m for m in _IPV6.findall(line) if "::" in m or m.count(":") >= 2] if ":" in line else []
    )
    return any(test(candidate) for candidate in candidates)
