"""Go's double-quoted string literals (strconv.Unquote), which LogQL's strings and the
labels Promtail pushes are written in: JSON's escapes and Go's own."""

from __future__ import annotations

import json
import re

# Go's escapes that JSON lacks (JSON's own pass through): \a \v \' \xHH \NNN \UHHHHHHHH.
_GO_ESCAPE = re.compile(r"\\(\\|x[0-9A-Fa-f]{2}|[0-7]{3}|U[0-9A-Fa-f]{8}|[av'])")
_GO_SIMPLE = {"a": 0x07, "v": 0x0B, "'": 0x27}


def go_unquoted(text: str) -> str:
    r"""The text between a Go string's quotes, its escapes read as Go reads them: JSON's,
    and \a \v \' \xHH \NNN \UHHHHHHHH (a byte escape stands for that code point). Any other
    escape, or one past Unicode, raises ValueError."""
    try:
        return json.loads('"' + _GO_ESCAPE.sub(_as_json_escape, text) + '"')
    except OverflowError:
        raise ValueError("an escape out of range") from None


def _as_json_escape(match: re.Match[str]) -> str:
    escape = match[1]
    if escape == "\\":
        return "\\\\"  # an escaped backslash stays one for JSON
    if escape in _GO_SIMPLE:
        code = _GO_SIMPLE[escape]
    elif escape[0] in "xU":
        code = int(escape[1:], 16)
    else:
        code = int(escape, 8)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise ValueError("not a code point")
    return "".join(f"\\u{unit:04x}" for unit in _utf16(code))


def _utf16(code: int) -> list[int]:
    if code < 0x10000:
        return [code]
    code -= 0x10000
    return [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]
