"""What a LogQL parse error says: where the parser stopped, and what it would have taken
there, in words: "expected `,` or `)`", "a range like [5m]" (Loki's errors name the token;
ours name the choices, which is what a person fixing a query needs)."""

from __future__ import annotations

import re
from typing import Any

# What the grammar's pattern terminals are, in words (its literal ones show as themselves).
_TERMINAL_WORDS = {
    "STRING": "a string",
    "NUMBER": "a number",
    "DURATION": "a duration",
    "BYTES": "a byte size",
    "LABEL": "a label name",
    "RANGE": "a range like [5m]",
    "IP": "ip(...)",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`",
    "AND_OP": "`and` or `unless`",
    "RANGE_FN": "a range function (`rate`, `count_over_time`, ...)",
    "AGG_OP": "an aggregation (`sum`, `avg`, `topk`, ...)",
    "GROUP_KIND": "`by` or `without`",
    "GROUP_SIDE": "`group_left` or `group_right`",
    "VARIANTS": "variants(...)",
    "CONVERSION": "`duration`, `duration_seconds` or `bytes`",
    "FLAG": "a flag (`--strict`, ...)",
}
_KEYWORD = re.compile(r"([a-z_]+)\\b")
MAX_EXPECTED = 10


def parse_error(exc: Any, text: str, parser: Any) -> str:
    """The message for a query ``parser`` stopped on: where, near what, and what it would
    have taken there."""
    expected = expected_words(exc, parser)
    wanted = f"; expected {expected}" if expected else ""
    if getattr(getattr(exc, "token", None), "type", "") == "$END":
        return f"query: parse error: the query ends too soon{wanted}"
    near = text[exc.pos_in_stream : exc.pos_in_stream + 20] if exc.pos_in_stream else ""
    return (
        f"query: parse error at line {exc.line}, col {exc.column}"
        + (f" near {near!r}" if near else "")
        + wanted
    )


def expected_words(exc: Any, parser: Any) -> str:
    """What ``parser`` would have taken where ``exc`` stopped it, as a short list."""
    names = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    shown: list[str] = []
    for name in sorted(names):
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        keyword = _KEYWORD.fullmatch(pattern.value) if pattern.type == "re" else None
        if pattern.type == "str":
            word = f"`{pattern.value}`"
        elif keyword:
            word = f"`{keyword.group(1)}`"
        else:
            word = _TERMINAL_WORDS.get(name, name.lower().replace("_", " "))
        if word not in shown:
            shown.append(word)
    if len(shown) > MAX_EXPECTED:
        return "one of " + ", ".join(shown[:MAX_EXPECTED]) + ", ..."
    return ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else "".join(shown)
