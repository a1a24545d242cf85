"""The line pipeline: an entry's stream labels, and what a log query's stages make of it
(line filters, parsers, label filters, line_format, drop). Used by the engine for each
entry it reads and by live tail for each new entry."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from logsvc.entries import pushed_labels
from logsvc.loki.logql import (
    AllOf,
    AnyOf,
    Compare,
    Drop,
    LabelFilter,
    LineFilter,
    LineFormat,
    LogQuery,
    Parser,
    byte_count,
    duration_ms,
)
from logsvc.loki.matching import LogQLError, line_kept, match_text, selected

_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")
_LOGFMT = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)')
_TEMPLATE_FIELD = re.compile(r"\{\{\s*(?:\.([A-Za-z_][A-Za-z0-9_]*)|(__line__))\s*\}\}")


@dataclass(frozen=True)
class Line:
    """An entry after the pipeline: when, its labels, the line."""

    timestamp_ms: int
    labels: dict[str, str]
    line: str
    entry: dict[str, Any]

    def value(self) -> list[Any]:
        """As a stream's value: ["<ns>", "<line>"]."""
        return [str(self.timestamp_ms * 1_000_000), self.line]


_LABEL_NAME_OK = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").fullmatch  # a pushed label Loki takes


def stream_labels(entry: dict[str, Any]) -> dict[str, str]:
    """An entry's stream labels: its service, level and source, and the labels an agent
    pushed with it (kept under metadata.labels)."""
    return labels_of(
        entry["service_name"],
        entry["level"],
        entry.get("source_type") or "http",
        pushed_labels(entry.get("metadata")),
    )


def labels_of(
    service: str, level: str, source: str, pushed: dict[str, Any] | None = None
) -> dict[str, str]:
    lower = level.lower()
    own = {"service_name": service, "level": lower, "detected_level": lower, "source_type": source}
    if not pushed:
        return own
    kept = {k: v for k, v in pushed.items() if isinstance(v, str) and _LABEL_NAME_OK(k)}
    return {**kept, **own}  # the service's own labels win over a pushed one of the same name


def labels_from_json(service: str, level: str, source: str, pushed: str | None) -> dict[str, str]:
    """labels_of, with pushed labels as the index returns them (JSON text, or None)."""
    return labels_of(service, level, source, _pushed(pushed) if pushed else None)


@lru_cache(maxsize=4096)
def _pushed(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def run_pipeline(
    stages: tuple[Any, ...], labels: dict[str, str], entry: dict[str, Any]
) -> Line | None:
    """The entry through the stages: its labels and line, or None when a stage drops it."""
    line = entry["message"]
    labels = dict(labels)
    for stage in stages:
        if isinstance(stage, LineFilter):
            if not line_kept(stage.op, stage.values, line):
                return None
        elif isinstance(stage, Parser):
            extracted = _json_labels(entry, line) if stage.kind == "json" else _logfmt(line)
            for name, value in extracted.items():
                labels[name if name not in labels else f"{name}_extracted"] = value
        elif isinstance(stage, LabelFilter):
            if not _holds(stage.expression, labels):
                return None
        elif isinstance(stage, LineFormat):
            line = _format_line(stage.template, line, labels)
        elif isinstance(stage, Drop):
            labels = without(labels, set(stage.labels))
    return Line(entry["timestamp"], labels, line, entry)


def tail_frame(query: LogQuery, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Loki's tail frame for the entries that pass a log query, or None when none does."""
    lines = []
    for entry in entries:
        labels = stream_labels(entry)
        if selected(query.matchers, labels):
            line = run_pipeline(query.stages, labels, entry)
            if line is not None:
                lines.append((line.labels, line.value()))
    return {"streams": streams_of(lines)} if lines else None


def streams_of(values: Iterable[tuple[dict[str, str], list[Any]]]) -> list[dict[str, Any]]:
    """Values grouped into Loki's streams by their labels, in the order they come."""
    streams: dict[tuple, dict[str, Any]] = {}
    for labels, value in values:
        key = tuple(sorted(labels.items()))
        streams.setdefault(key, {"stream": dict(key), "values": []})["values"].append(value)
    return list(streams.values())


def _format_line(template: str, line: str, labels: dict[str, str]) -> str:
    return _TEMPLATE_FIELD.sub(lambda m: line if m[2] else labels.get(m[1], ""), template)


def metadata_labels(entry: dict[str, Any]) -> dict[str, str]:
    """An entry's metadata as Loki labels (nested keys joined with ``_``)."""
    labels: dict[str, str] = {}
    _flatten(entry.get("metadata") or {}, "", labels)
    return labels


def _json_labels(entry: dict[str, Any], line: str) -> dict[str, str]:
    labels = metadata_labels(entry)
    text = line.lstrip()
    if text.startswith("{"):
        found: dict[str, str] = {}
        try:
            document = json.loads(text)
            if isinstance(document, dict):
                _flatten(document, "", found)
        except (ValueError, RecursionError):  # nested past what a reader should unpack
            labels["__error__"] = "JSONParserErr"
        else:
            labels.update(found)
    return labels


def _flatten(value: dict[str, Any], prefix: str, into: dict[str, str]) -> None:
    for key, item in value.items():
        name = _LABEL_NAME.sub("_", f"{prefix}{key}")
        if isinstance(item, dict):
            _flatten(item, f"{name}_", into)
        elif isinstance(item, list):
            into[name] = json.dumps(item, separators=(",", ":"))
        elif isinstance(item, bool):
            into[name] = "true" if item else "false"
        elif item is not None:
            into[name] = str(item)


def _logfmt(line: str) -> dict[str, str]:
    labels = {}
    for key, value in _LOGFMT.findall(line):
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value.strip('"')
        labels[_LABEL_NAME.sub("_", key)] = value
    return labels


def _holds(expression: Any, labels: dict[str, str]) -> bool:
    if isinstance(expression, AnyOf):
        return any(_holds(part, labels) for part in expression.parts)
    if isinstance(expression, AllOf):
        return all(_holds(part, labels) for part in expression.parts)
    assert isinstance(expression, Compare)
    value = labels.get(expression.label, "")
    if expression.unit == "text":
        return match_text(expression.op, value, str(expression.value))
    if expression.label not in labels:
        return False  # no such label: the line does not pass, as in Loki
    number = _as_number(value, expression.unit)
    if number is None:
        # A value that is no number keeps the line, marked, as Loki does: `| __error__=""`
        # drops such lines; without it they show, and say why.
        labels.setdefault("__error__", "LabelFilterErr")
        return True
    wanted = float(expression.value)
    return {
        "==": number == wanted,
        "!=": number != wanted,
        ">": number > wanted,
        ">=": number >= wanted,
        "<": number < wanted,
        "<=": number <= wanted,
    }[expression.op]


def _as_number(value: str, unit: str) -> float | None:
    try:
        if unit == "duration":
            return float(duration_ms(value))
        if unit == "bytes":
            # A plain number of bytes, or a size with its unit (10KB).
            return float(value) if value.replace(".", "").isdigit() else byte_count(value)
        return float(value)
    except (ValueError, LogQLError):
        return None


def without(labels: dict[str, str], names: set[str]) -> dict[str, str]:
    return {
        k: v
        for k, v in labels.items()
        if k not in names and (k != "__error_details__" or "__error__" not in names)
    }
