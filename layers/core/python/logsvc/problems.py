"""Turn pydantic validation errors into one clear message that names the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Where a request part prefixes the location (Powertools: ("body", "level"), ("query", "limit")).
_REQUEST_PARTS = {"body", "query", "path", "header", "headers"}

_PHRASES = {
    "missing": "is required",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "json_invalid": "is not valid JSON",
    "extra_forbidden": "is not a known field",
}


def field_name(location: Sequence[Any]) -> str:
    """("body", "logs", 3, "level") -> "logs[3].level"; the bare request body -> "body"."""
    parts = list(location)
    if len(parts) > 1 and parts[0] in _REQUEST_PARTS:
        parts = parts[1:]
    if (parts and parts[0] == "body") or not parts:
        return "body"
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name


def describe(error: dict[str, Any]) -> tuple[str, str]:
    """The field and a sentence for one pydantic error dict."""
    location = error.get("loc", ())
    if error.get("type") == "json_invalid":
        location = ("body",)
    field = field_name(location)
    phrase = _PHRASES.get(error.get("type", ""))
    if phrase is None:
        phrase = str(error.get("msg", "is invalid"))
        phrase = phrase.removeprefix("Value error, ")
        phrase = phrase[:1].lower() + phrase[1:]
    return field, f"{field}: {phrase}"


def first_problem(errors: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """The field and message of the first error (the one a client should fix first)."""
    if not errors:
        return "body", "body: is invalid"
    return describe(errors[0])
