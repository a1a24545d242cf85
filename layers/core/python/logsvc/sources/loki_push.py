"""Loki's push API: what Promtail, Grafana Alloy, the Grafana Agent and python-logging-loki
send to ``POST /loki/api/v1/push``, as the batch API's entries.

Three bodies are read:

- protobuf ``PushRequest`` compressed with snappy (block format), what the agents send;
- JSON ``{"streams": [{"stream": {labels}, "values": [["<ns>", "<line>", {metadata}]]}]}``;
- the legacy JSON ``{"streams": [{"labels": "{a=\\"b\\"}", "entries": [{"ts", "line"}]}]}``
  that python-logging-loki sends by default.

Each entry's service comes from the ``service_name`` label, else ``service``, ``app``,
``job``; its level from ``level``, ``severity`` or ``detected_level``, else from the line as
Loki detects it. The pushed labels (all but ``service_name``, ``level``, ``detected_level``
and ``source_type``, which every entry has) are kept under ``labels`` in its metadata and
are stream labels in the Loki API; structured metadata goes under ``structured_metadata``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Any

from logsvc.entries import (
    DEFAULT_SERVICE,
    LEVEL_ALIASES,
    LEVELS,
    MAX_JSON_CONTAINERS,
    MAX_OTLP_RECORDS,
    sanitize_service_name,
)
from logsvc.errors import BadRequest, PayloadTooLarge
from logsvc.go_strings import go_unquoted
from logsvc.media_types import PROTOBUF
from logsvc.sources.compressed import MAX_DECOMPRESSED_BYTES, gunzip
from logsvc.sources.wire import fields

# Entries one push may carry (the route refuses more): counted before anything is built.
MAX_PUSH_ENTRIES = MAX_OTLP_RECORDS
# Loki's default limits on a stream's labels (limits_config): names per stream, and the
# length of a name and of a value.
MAX_LABEL_NAMES = 15
MAX_LABEL_NAME_LENGTH = 1024
MAX_LABEL_VALUE_LENGTH = 2048
SERVICE_LABELS = ("service_name", "service", "app", "job")
_NANOSECONDS = re.compile(r"[0-9]{1,19}")  # ASCII digits: "²" is a digit to str.isdigit
# The stream labels every entry has (logsvc.loki.pipeline.STREAM_LABELS): not kept as pushed.
OWN_LABELS = ("service_name", "level", "detected_level", "source_type")
LEVEL_LABELS = ("level", "severity", "detected_level")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
# Loki's level detection, for lines without a level label: the first of these words.
_DETECTED = (
    ("CRITICAL", re.compile(r"\b(critical|fatal|panic|emerg(ency)?)\b", re.IGNORECASE)),
    ("ERROR", re.compile(r"\b(error|err|exception)\b", re.IGNORECASE)),
    ("WARN", re.compile(r"\b(warn|warning)\b", re.IGNORECASE)),
    ("DEBUG", re.compile(r"\b(debug|trace)\b", re.IGNORECASE)),
)


class PushDecodeError(BadRequest):
    def __init__(self, message: str):
        super().__init__(message, field="body")


def decode(body: bytes, content_type: str, content_encoding: str | None) -> list[dict[str, Any]]:
    """The pushed entries as batch-API items (timestamp in ms; the line as message)."""
    encoding = (content_encoding or "").lower()
    if encoding in ("gzip", "x-gzip"):
        body = gunzip(body)
    elif encoding == "snappy" or content_type.startswith(PROTOBUF):
        pass  # protobuf bodies are snappy-compressed whatever the header says
    elif encoding not in ("", "identity"):
        raise PushDecodeError(f"Content-Encoding: {encoding!r} is not read; use gzip")
    if content_type.startswith(PROTOBUF):
        return _from_protobuf(_unsnappy(body))
    if encoding == "snappy":
        body = _unsnappy(body)
    return _from_json(body)


def _from_json(body: bytes) -> list[dict[str, Any]]:
    if body.count(b"{") + body.count(b"[") > MAX_JSON_CONTAINERS:
        raise PayloadTooLarge(f"body: more than {MAX_JSON_CONTAINERS} JSON objects and arrays")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise PushDecodeError("body: is not valid JSON") from None
    streams = document.get("streams") if isinstance(document, dict) else None
    if not isinstance(streams, list):
        raise PushDecodeError('body: must be {"streams": [...]}')
    items = []
    for number, stream in enumerate(streams):
        where = f"streams[{number}]"
        if not isinstance(stream, dict):
            raise PushDecodeError(f"{where}: must be an object")
        if "entries" in stream or "labels" in stream:  # the legacy form
            labels = within_limits(
                parse_labels(_text(stream.get("labels"), f"{where}.labels"), where), where
            )
            for index, entry in enumerate(_list(stream.get("entries"), f"{where}.entries")):
                at = f"{where}.entries[{index}]"
                if not isinstance(entry, dict):
                    raise PushDecodeError(f"{at}: must be an object")
                items.append(
                    item(
                        labels,
                        _rfc3339_ns(entry.get("ts", entry.get("timestamp")), at),
                        _text(entry.get("line"), f"{at}.line"),
                        {},
                    )
                )
            continue
        labels = stream.get("stream", {})
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise PushDecodeError(f"{where}.stream: must be an object of text labels")
        within_limits(labels, f"{where}.stream")
        for index, value in enumerate(_list(stream.get("values"), f"{where}.values")):
            at = f"{where}.values[{index}]"
            if not isinstance(value, list) or len(value) not in (2, 3):
                raise PushDecodeError(f'{at}: must be ["<ns timestamp>", "<line>", {{...}}]')
            metadata = value[2] if len(value) == 3 else {}
            if not isinstance(metadata, dict):
                raise PushDecodeError(f"{at}[2]: structured metadata must be an object")
            items.append(
                item(labels, _ns(value[0], f"{at}[0]"), _text(value[1], f"{at}[1]"), metadata)
            )
    return items


def _from_protobuf(body: bytes) -> list[dict[str, Any]]:
    from google.protobuf.message import DecodeError

    streams, entries = wire_counts(body, MAX_PUSH_ENTRIES)
    if entries > MAX_PUSH_ENTRIES or streams > MAX_PUSH_ENTRIES:
        raise PayloadTooLarge(f"body: more than {MAX_PUSH_ENTRIES} entries in one push")
    request = push_request_class()()
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError) as exc:
        raise PushDecodeError(f"body: not a Loki PushRequest ({exc})") from None
    items = []
    for number, stream in enumerate(request.streams):
        labels = within_limits(
            parse_labels(_utf8(stream.labels), f"streams[{number}]"), f"streams[{number}]"
        )
        for entry in stream.entries:
            nanoseconds = entry.timestamp.seconds * 1_000_000_000 + entry.timestamp.nanos
            metadata = {_utf8(p.name): _utf8(p.value) for p in entry.structuredMetadata}
            items.append(item(labels, nanoseconds, _utf8(entry.line), metadata))
    return items


def wire_counts(body: bytes, limit: int) -> tuple[int, int]:
    """How many streams and entries a PushRequest holds (PushRequest.streams = 1,
    StreamAdapter.entries = 2), counted from the wire format and stopping past ``limit``:
    a 16 MB body can hold 8 million empty entries (two bytes each), about 0.5 GB once
    parsed. A malformed body is left to the parser to refuse."""
    streams = entries = 0
    for stream in fields(body, 1):
        streams += 1
        for _ in fields(stream, 2):
            entries += 1
            if entries > limit:
                return streams, entries
        if streams > limit:
            break
    return streams, entries


def item(
    labels: dict[str, str], nanoseconds: int, line: str, structured: dict[str, Any]
) -> dict[str, Any]:
    """One pushed entry as a batch-API item."""
    service_label = next((name for name in SERVICE_LABELS if labels.get(name)), None)
    level_label = next((name for name in LEVEL_LABELS if labels.get(name)), None)
    service = sanitize_service_name(labels.get(service_label or ""), DEFAULT_SERVICE)
    level = level_of(labels[level_label]) if level_label else detect_level(line)
    # Every pushed label stays a stream label (job, env, host, namespace, pod...), the one
    # the service came from included; the service's own labels are set apart.
    others = {k: v for k, v in labels.items() if k not in OWN_LABELS}
    metadata: dict[str, Any] = {}
    if others:
        metadata["labels"] = others
    if structured:
        metadata["structured_metadata"] = structured
    return {
        "service_name": service,
        "level": level,
        "message": line,
        "timestamp_ns": nanoseconds,
        "metadata": metadata,
    }


def level_of(name: str) -> str:
    upper = name.strip().upper()
    upper = {"TRACE": "DEBUG", "FATAL": "CRITICAL", "ERR": "ERROR", **LEVEL_ALIASES}.get(
        upper, upper
    )
    return upper if upper in LEVELS else "INFO"


def detect_level(line: str) -> str:
    head = line[:1000]
    for level, pattern in _DETECTED:
        if pattern.search(head):
            return level
    return "INFO"


def parse_labels(text: str, where: str = "labels") -> dict[str, str]:
    """``{a="b", c="d"}`` as a dict (the legacy JSON and protobuf streams carry this)."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        raise PushDecodeError(f'{where}: labels must look like {{name="value", ...}}')
    inner = inner[1:-1].strip()
    labels, position = {}, 0
    while position < len(inner):
        match = _LABEL.match(inner, position)
        if match is None:
            raise PushDecodeError(f'{where}: labels must look like {{name="value", ...}}')
        try:
            labels[match[1]] = go_unquoted(match[2])
        except ValueError:
            raise PushDecodeError(
                f"{where}: a label value has an escape Go does not read"
            ) from None
        position = match.end()
    return labels


def _utf8(raw: bytes) -> str:
    """A protobuf string as text; bytes that are not UTF-8 are replaced (U+FFFD), so one bad
    line is repaired rather than the whole push refused (Promtail never resends a 400)."""
    return raw.decode("utf-8", errors="replace")


def within_limits(labels: dict[str, str], where: str) -> dict[str, str]:
    """The stream's labels, or a 400 naming the Loki limit they break (each label is kept
    with every entry of the stream, so their size multiplies)."""
    if len(labels) > MAX_LABEL_NAMES:
        raise PushDecodeError(
            f"{where}: {len(labels)} label names; at most {MAX_LABEL_NAMES} per stream "
            "(Loki's max_label_names_per_series)"
        )
    for name, value in labels.items():
        if len(name) > MAX_LABEL_NAME_LENGTH:
            raise PushDecodeError(
                f"{where}: a label name of {len(name)} characters; at most "
                f"{MAX_LABEL_NAME_LENGTH} (Loki's max_label_name_length)"
            )
        if len(value) > MAX_LABEL_VALUE_LENGTH:
            raise PushDecodeError(
                f"{where}: label {name[:40]!r} has a value of {len(value)} characters; at "
                f"most {MAX_LABEL_VALUE_LENGTH} (Loki's max_label_value_length)"
            )
    return labels


@cache
def push_request_class() -> type:
    """Loki's PushRequest message class, described here field by field (the wire format of
    push.proto: streams of labels and entries with a timestamp, a line and structured
    metadata), so no generated code or protoc is needed. push.proto's strings are read as
    bytes (the same wire type), so a line that is not UTF-8 is repaired, not refused."""
    from google.protobuf import (
        descriptor_pb2,
        descriptor_pool,
        message_factory,
        timestamp_pb2,  # noqa: F401 - registers Timestamp in the pool
    )

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="logsvc_loki_push.proto",
        package="logsvc.loki",
        dependency=["google/protobuf/timestamp.proto"],
        syntax="proto3",
    )

    def message(name: str, *fields: tuple[str, int, int, str | None, bool]) -> None:
        described = proto.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            added = described.field.add(
                name=field_name,
                number=number,
                type=kind,
                label=field.LABEL_REPEATED if repeated else field.LABEL_OPTIONAL,
            )
            if type_name:
                added.type_name = type_name

    message("PushRequest", ("streams", 1, field.TYPE_MESSAGE, ".logsvc.loki.StreamAdapter", True))
    message(
        "StreamAdapter",
        ("labels", 1, field.TYPE_BYTES, None, False),
        ("entries", 2, field.TYPE_MESSAGE, ".logsvc.loki.EntryAdapter", True),
        ("hash", 3, field.TYPE_UINT64, None, False),
    )
    message(
        "EntryAdapter",
        ("timestamp", 1, field.TYPE_MESSAGE, ".google.protobuf.Timestamp", False),
        ("line", 2, field.TYPE_BYTES, None, False),
        ("structuredMetadata", 3, field.TYPE_MESSAGE, ".logsvc.loki.LabelPairAdapter", True),
    )
    message(
        "LabelPairAdapter",
        ("name", 1, field.TYPE_BYTES, None, False),
        ("value", 2, field.TYPE_BYTES, None, False),
    )
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(proto.name)
    except KeyError:
        pool.AddSerializedFile(proto.SerializeToString())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("logsvc.loki.PushRequest"))


def _unsnappy(body: bytes) -> bytes:
    import cramjam

    try:
        length = _snappy_length(body)
        if length > MAX_DECOMPRESSED_BYTES:
            raise PayloadTooLarge(f"body: more than {MAX_DECOMPRESSED_BYTES} bytes decompressed")
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError:
        raise PushDecodeError("body: is not snappy-compressed (block format)") from None


def _snappy_length(body: bytes) -> int:
    """The decompressed length a snappy block declares (a varint at its start)."""
    length, shift = 0, 0
    for byte in body[:10]:
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return length
        shift += 7
    raise PushDecodeError("body: is not snappy-compressed (block format)")


def _ns(value: Any, where: str) -> int:
    if isinstance(value, str) and _NANOSECONDS.fullmatch(value):
        return int(value)
    raise PushDecodeError(f"{where}: must be a Unix nanosecond timestamp as a string")


def _rfc3339_ns(value: Any, where: str) -> int:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return int(moment.timestamp() * 1000) * 1_000_000
    raise PushDecodeError(f"{where}: must be an RFC 3339 timestamp with a zone")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PushDecodeError(f"{where}: must be a string")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PushDecodeError(f"{where}: must be an array")
    return value
