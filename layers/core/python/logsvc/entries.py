"""Log entries: what clients send (LogInput), what is stored (LogEntry), and the data rules."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "CRITICAL")
SAMPLED_LEVELS = ("DEBUG", "INFO")  # the levels a service may sample (logsvc.sampling)
LEVEL_ALIASES = {"WARNING": "WARN", "FATAL": "CRITICAL"}
Level = Literal["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"]

MAX_INDEXED_MESSAGE_CHARS = 1000
# Where a pushed entry names no service (OTLP_DEFAULT_SERVICE, TAIL_DEFAULT_SERVICE): the
# name OpenTelemetry's SDKs and Loki give a service that does not name itself.
DEFAULT_SERVICE = "unknown_service"
DEFAULT_TAIL_SERVICE = "unknown-worker"
SERVICE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
SERVICE_NAME_RULE = "must be 1-128 letters, digits, dashes or underscores"
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_MESSAGE_CHARS = 256 * 1024  # the archive keeps the whole message; the index its start
MAX_METADATA_BYTES = 64 * 1024  # as compact JSON
MAX_METADATA_DEPTH = 16
MAX_BATCH_ITEMS = 1000  # entries in one /ingest/batch request
MAX_OTLP_RECORDS = 10_000  # an OTLP request is one exporter batch, often a few hundred
# Objects and arrays in one JSON body. 1000 entries with rich metadata stay far below it;
# a body of millions of "{}" (a few MB) is refused before it is parsed into as many dicts.
MAX_JSON_CONTAINERS = 400_000


def parse_level(value: object) -> str:
    """Normalise a level name (case-insensitive, WARNING -> WARN, FATAL -> CRITICAL)."""
    if isinstance(value, str) and value.isascii():  # a dotless i (U+0131) must not make INFO
        name = value.strip().upper()
        name = LEVEL_ALIASES.get(name, name)
        if name in LEVELS:
            return name
    raise PydanticCustomError(
        "level", "must be one of DEBUG, INFO, WARN (WARNING), ERROR, CRITICAL (FATAL)"
    )


def check_service_name(value: object) -> str:
    if isinstance(value, str) and SERVICE_NAME_PATTERN.fullmatch(value):
        return value
    raise PydanticCustomError("service_name", SERVICE_NAME_RULE)


def sanitize_service_name(name: Any, default: str = DEFAULT_SERVICE) -> str:
    """A name from elsewhere (OTLP service.name, a Worker's scriptName) as a valid service
    name: other characters become dashes; the default when nothing valid is left."""
    if not isinstance(name, str):
        return default
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:128]
    return cleaned if SERVICE_NAME_PATTERN.fullmatch(cleaned) else default


def _timestamp_ms(value: object) -> object:
    """Unix milliseconds as a number; fractions are dropped. Strings and booleans are
    refused, and so are times that can only be in another unit (seconds, microseconds,
    nanoseconds), with the value to send instead: stored as milliseconds they would land in
    1970 or past year 9999, out of every search's way."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("timestamp", "must be a number of Unix milliseconds")
    if value < 0:
        raise PydanticCustomError("timestamp", "must be Unix milliseconds, not negative")
    if _plausible(value):
        return int(value)
    for unit, per_ms in (("seconds", 1 / 1000), ("microseconds", 1000), ("nanoseconds", 10**6)):
        if _plausible(value / per_ms):
            raise PydanticCustomError(
                "timestamp",
                "{value} is not Unix milliseconds but looks like {unit}: send {instead}",
                {"value": value, "unit": unit, "instead": int(value / per_ms)},
            )
    raise PydanticCustomError(
        "timestamp", "must be Unix milliseconds between the year 2001 and 9999"
    )


def _plausible(ms: float) -> bool:
    return EARLIEST_PLAUSIBLE_MS <= ms <= MAX_TIMESTAMP_MS


# The first millisecond of 2001: a smaller timestamp from a client almost always means
# seconds (1764115200 is November 2025 in seconds, January 1970 in milliseconds).
EARLIEST_PLAUSIBLE_MS = 978_307_200_000


def not_seconds(value: int | None) -> int | None:
    """A query's Unix-millisecond time, refused when it can only be seconds (0 is allowed:
    the beginning of time)."""
    if value is not None and 0 < value < EARLIEST_PLAUSIBLE_MS:
        raise ValueError(
            f"{value} is before 2001 in milliseconds; times are Unix milliseconds "
            f"(if {value} is in seconds, send {value * 1000})"
        )
    return value


def without_nul(value: str) -> str:
    """NUL characters become U+FFFD: SQLite's JSON functions and LIKE end a string at NUL."""
    return value.replace("\x00", "\ufffd")


def pushed_labels(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """The labels an agent pushed with an entry (logsvc.sources.loki_push keeps them under
    ``labels`` in its metadata; the Loki API's stream labels), if any."""
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return labels if isinstance(labels, dict) and labels else None


def metadata_json(value: dict[str, Any]) -> bytes:
    """Metadata serialised once at ingest; the limit check and the index both use it."""
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits: valid JSON that only json writes
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def loads_json(data: str | bytes) -> Any:
    """JSON text read fast (orjson), or, for what orjson refuses and json reads (integers
    beyond 64 bits, NaN), read by json; ValueError when it is no JSON at all."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def metadata_problem(value: dict[str, Any], data: bytes) -> str | None:
    """Why this metadata (and its JSON) is over the limits, or None."""
    # Counting brackets (in C) rules out deep nesting for nearly all metadata; the walk
    # runs only when there are enough of them to be that deep.
    if data.count(b"{") + data.count(b"[") > MAX_METADATA_DEPTH and (
        _depth(value) > MAX_METADATA_DEPTH
    ):
        return f"metadata: must be at most {MAX_METADATA_DEPTH} levels deep"
    if len(data) > MAX_METADATA_BYTES:
        return f"metadata: must be at most {MAX_METADATA_BYTES} bytes as JSON, got {len(data)}"
    return None


def _depth(value: Any) -> int:
    """Nesting depth of objects and arrays, iteratively (no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_METADATA_DEPTH:
                return depth
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


ServiceName = Annotated[
    str,
    BeforeValidator(check_service_name),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"}),
]
LevelName = Annotated[Level, BeforeValidator(parse_level)]
TimestampMs = Annotated[int | None, BeforeValidator(_timestamp_ms)]


def _timestamp_ns(value: object) -> object:
    """Unix nanoseconds as a whole number (Loki's and OTLP's times), up to int64's end."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("timestamp_ns", "must be a whole number of Unix nanoseconds")
    if not 0 <= value <= MAX_TIMESTAMP_NS:
        raise PydanticCustomError("timestamp_ns", "must be Unix nanoseconds between 0 and 2262")
    return value


MAX_TIMESTAMP_NS = 2**63 - 1  # int64 nanoseconds, as Loki keeps them: up to 2262-04-11
TimestampNs = Annotated[int | None, BeforeValidator(_timestamp_ns)]


class LogInput(BaseModel):
    """One log entry as a client sends it."""

    model_config = ConfigDict(extra="ignore")

    service_name: ServiceName = Field(description="Letters, digits, dashes and underscores")
    level: LevelName = Field(description="Case-insensitive; WARNING and FATAL are accepted")
    message: Annotated[StrictStr, AfterValidator(without_nul)] = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        description="Kept whole in the archive; NUL characters become U+FFFD",
    )
    timestamp: TimestampMs = Field(default=None, description="Unix ms; default: time of ingestion")
    timestamp_ns: TimestampNs = Field(
        default=None,
        description="Unix nanoseconds, kept exactly (the Loki API answers with them); when "
        "given, timestamp is taken from it",
    )
    # Its size and depth are checked at ingest (Ingestor), where it is serialised anyway.
    metadata: dict[str, Any] | None = Field(
        default=None,
        description=f"Any JSON object, at most {MAX_METADATA_BYTES} bytes and "
        f"{MAX_METADATA_DEPTH} levels deep",
    )


@dataclass(slots=True)
class LogEntry:
    """A normalised entry: what the archive and the index store.

    Its id is given by the log store (``LogIndex.prepare``), because an id points into the
    index's layout.
    """

    id: str
    service_name: str
    level: str
    message: str
    timestamp: int
    metadata: dict[str, Any] = field(default_factory=dict)
    source_type: str = "http"
    # The time in Unix nanoseconds, when the client sent them (Loki push, OTLP): kept
    # exactly beside the millisecond timestamp that orders and ranges entries.
    timestamp_ns: int | None = None
    # The metadata as JSON: set by ingest's check step (for the size limit) and again by its
    # redact step for entries whose metadata changed; None for entries read from a buffer.
    metadata_json: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def indexed_message(self) -> str:
        return self.message[:MAX_INDEXED_MESSAGE_CHARS]

    @property
    def sub_millisecond(self) -> int:
        """The nanoseconds past ``timestamp``'s millisecond (0 without nanoseconds)."""
        return self.timestamp_ns - self.timestamp * 1_000_000 if self.timestamp_ns else 0

    def to_record(self) -> dict[str, Any]:
        """The full entry as archived (and as /full returns it)."""
        record = {
            "id": self.id,
            "service_name": self.service_name,
            "level": self.level,
            "message": self.message,
            "timestamp": self.timestamp,
            "metadata": self.metadata,
            "source_type": self.source_type,
        }
        if self.timestamp_ns is not None:
            record["timestamp_ns"] = self.timestamp_ns
        return record
