"""The line pipeline: an entry's labels, and what a log query's stages make of it. Used by
the engine for each entry it reads and by live tail for each new entry.

An entry comes in with its stream labels (``service_name``, ``level``, ``detected_level``,
``source_type`` and the labels an agent pushed) and its structured metadata (its metadata,
flattened with ``_``; what an agent sent as structured metadata under its own names), both
usable by label filters without a parser, as in Loki. Parsers add what they extract (a name
a stream label already has gets ``_extracted``); a failing parser or conversion sets
``__error__`` and keeps the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from logsvc.entries import pushed_labels
from logsvc.loki import parsers
from logsvc.loki.expressions import (
    AllOf,
    AnyOf,
    Compare,
    Decolorize,
    Drop,
    Keep,
    LabelFilter,
    LabelFormat,
    LineFilter,
    LineFormat,
    LogQuery,
    NamedMatcher,
    Parser,
)
from logsvc.loki.literals import byte_count, duration_ms
from logsvc.loki.matching import LogQLError, line_kept, match_text, selected
from logsvc.loki.templates import RenderError, compile_template
from logsvc.loki.vectors import compares

_LABEL_NAME_OK = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").fullmatch  # a pushed label Loki takes
ERROR = "__error__"
STREAM_LABELS = ("service_name", "level", "detected_level", "source_type")  # every entry's
ERROR_DETAILS = "__error_details__"


@dataclass(frozen=True)
class Line:
    """An entry after the pipeline: when, its labels, the line; and which labels are its
    stream labels and which its structured metadata (the rest were extracted)."""

    timestamp_ms: int
    labels: dict[str, str]
    line: str
    entry: dict[str, Any]
    stream: frozenset[str] = frozenset()
    structured: frozenset[str] = frozenset()

    @property
    def timestamp_ns(self) -> int:
        """Its time in nanoseconds: as the client sent it (Loki push, OTLP), else its
        millisecond."""
        return self.entry.get("timestamp_ns") or self.timestamp_ms * 1_000_000

    def value(self) -> list[Any]:
        """As a stream's value: ["<ns>", "<line>"]."""
        return [str(self.timestamp_ns), self.line]

    def series_labels(self) -> dict[str, str]:
        """The labels a metric's series carries: stream and extracted labels; structured
        metadata filters lines but does not split series (request ids would make one
        series per request)."""
        if not self.structured:
            return self.labels
        return {k: v for k, v in self.labels.items() if k not in self.structured}

    def categorized(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """Stream labels, structured metadata and parsed labels apart (Loki's
        ``categorize-labels`` answer)."""
        stream, structured, parsed = {}, {}, {}
        for name, value in self.labels.items():
            if name in self.stream:
                stream[name] = value
            elif name in self.structured:
                structured[name] = value
            else:
                parsed[name] = value
        return stream, structured, parsed


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


def structured_metadata(entry: dict[str, Any]) -> dict[str, str]:
    """An entry's structured metadata as Loki labels: its metadata flattened (nested keys
    joined with ``_``), the pushed labels aside, what an agent sent as structured metadata
    under its own names."""
    metadata = entry.get("metadata")
    if not isinstance(metadata, dict) or not metadata:
        return {}
    found: dict[str, str] = {}
    own = {k: v for k, v in metadata.items() if k not in ("labels", "structured_metadata")}
    parsers.flatten(own, "", found, arrays=True)
    pushed = metadata.get("structured_metadata")
    if isinstance(pushed, dict):
        parsers.flatten(pushed, "", found, arrays=True)
    return found


def start(entry: dict[str, Any], stream: dict[str, str] | None = None) -> Line:
    """An entry as the pipeline's first stage sees it."""
    stream = stream if stream is not None else stream_labels(entry)
    structured = {k: v for k, v in structured_metadata(entry).items() if k not in stream}
    return Line(
        entry["timestamp"],
        {**structured, **stream},
        entry["message"],
        entry,
        frozenset(stream),
        frozenset(structured),
    )


def run_pipeline(stages: tuple[Any, ...], line: Line) -> Line | None:
    """The line through the stages, or None when a stage drops it."""
    text, labels = line.line, dict(line.labels)
    structured = set(line.structured)
    for stage in stages:
        if isinstance(stage, LineFilter):
            if not _line_passes(stage, text):
                return None
        elif isinstance(stage, Parser):
            extracted, error, text = _parse(stage, text)
            for name, value in extracted.items():
                if name in line.stream:
                    name = f"{name}_extracted"
                labels[name] = value
                structured.discard(name)
            if error and ERROR not in labels:
                labels[ERROR] = error
        elif isinstance(stage, LabelFilter):
            if not holds(stage.expression, labels):
                return None
        elif isinstance(stage, LineFormat | LabelFormat):
            try:
                if isinstance(stage, LineFormat):
                    template = compile_template(stage.template)
                    text = template.render(labels, text, line.timestamp_ms)
                else:
                    labels = _format_labels(stage, labels, text, line.timestamp_ms)
            except RenderError:
                labels.setdefault(ERROR, "TemplateFormatErr")  # the line stays as it was
        elif isinstance(stage, Drop):
            labels = {k: v for k, v in labels.items() if not _named(stage.names, k, v)}
        elif isinstance(stage, Keep):
            labels = {k: v for k, v in labels.items() if _named(stage.names, k, v)}
        elif isinstance(stage, Decolorize):
            text = parsers.decolorize(text)
    return Line(
        line.timestamp_ms,
        labels,
        text,
        line.entry,
        line.stream,
        frozenset(structured & labels.keys()),
    )


def _line_passes(stage: LineFilter, text: str) -> bool:
    if stage.op in ("|>", "!>"):
        found = any(parsers.line_pattern(n.text).search(text) is not None for n in stage.needles)
        return found if stage.op == "|>" else not found
    if any(n.ip for n in stage.needles):
        found = any(
            parsers.line_has_ip(n.text, text)
            if n.ip
            else line_kept("|=" if stage.op in ("|=", "!=") else "|~", (n.text,), text)
            for n in stage.needles
        )
        return found if stage.op in ("|=", "|~") else not found
    return line_kept(stage.op, tuple(n.text for n in stage.needles), text)


def _parse(stage: Parser, text: str) -> tuple[dict[str, str], str | None, str]:
    """What a parser extracts, its error, and the line (unpack may replace it)."""
    if stage.kind == "json":
        found, error = parsers.parse_json(text, stage.extract)
        return found, error, text
    if stage.kind == "logfmt":
        found, error = parsers.parse_logfmt(text, stage.extract, stage.flags)
        return found, error, text
    if stage.kind == "regexp":
        return parsers.parse_regexp(stage.expression, text), None, text
    if stage.kind == "pattern":
        return parsers.parse_pattern(stage.expression, text), None, text
    found, entry, error = parsers.unpack(text)
    return found, error, entry if entry is not None else text


def _format_labels(
    stage: LabelFormat, labels: dict[str, str], text: str, timestamp_ms: int
) -> dict[str, str]:
    """Each assignment reads the labels as they were before the stage (as Loki's does)."""
    before = dict(labels)
    for target, source, is_template in stage.assignments:
        if is_template:
            labels[target] = compile_template(source).render(before, text, timestamp_ms)
        else:
            labels[target] = before.get(source, "")
            if source != target:
                labels.pop(source, None)
    return labels


def _named(names: tuple[NamedMatcher, ...], label: str, value: str) -> bool:
    for named in names:
        if named.matcher is None:
            if named.label == label:
                return True
        elif named.matcher.label == label and match_text(
            named.matcher.op, value, named.matcher.value
        ):
            return True
    return False


def tail_frame(query: LogQuery, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Loki's tail frame for the entries that pass a log query, or None when none does."""
    lines = []
    for entry in entries:
        labels = stream_labels(entry)
        if selected(query.matchers, labels):
            line = run_pipeline(query.stages, start(entry, labels))
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


# -- label filters ----------------------------------------------------------------------


def holds(expression: Any, labels: dict[str, str]) -> bool:
    if isinstance(expression, AnyOf):
        return any(holds(part, labels) for part in expression.parts)
    if isinstance(expression, AllOf):
        return all(holds(part, labels) for part in expression.parts)
    assert isinstance(expression, Compare)
    value = labels.get(expression.label, "")
    if expression.unit == "text":
        return match_text(expression.op, value, str(expression.value))
    if expression.unit == "ip":
        found = expression.label in labels and parsers.ip_matcher(str(expression.value))(value)
        return found if expression.op == "==" else not found
    if expression.label not in labels:
        return False  # no such label: the line does not pass, as in Loki
    number = as_number(value, expression.unit)
    if number is None:
        # A value that is no number keeps the line, marked, as Loki does: `| __error__=""`
        # drops such lines; without it they show, and say why.
        labels.setdefault(ERROR, "LabelFilterErr")
        return True
    return compares(expression.op, number, float(expression.value))


def as_number(value: str, unit: str) -> float | None:
    """A label's value as a number: a duration in milliseconds, a size in bytes."""
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
        if k not in names and (k != ERROR_DETAILS or ERROR not in names)
    }
