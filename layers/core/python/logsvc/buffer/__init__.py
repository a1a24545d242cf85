"""The durable buffer between ingest and the writer.

Ingest checks, authorizes, admits and numbers entries, appends them here and answers: an
acknowledged entry is one the buffer holds. The writer drains the buffer in large batches
(``logsvc.writer``), so the index and the archive see one request per flush whatever the
shape of the traffic. Backends: a SQLite file (``LocalBuffer``, the local server) and a
Kinesis stream (``KinesisBuffer``, AWS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from logsvc.entries import LogEntry
from logsvc.errors import ApiError


@dataclass(frozen=True)
class Receipt:
    """What an Idempotency-Key promises: this caller's request, sent again, gets the ids it
    got the first time and stores nothing twice; the same key with another body is refused."""

    scope: str  # a hash of the caller's key id, the route and the Idempotency-Key
    body_hash: str
    ids: tuple[str, ...]


class IdempotencyConflict(ApiError):
    status_code = 409

    def __init__(self) -> None:
        super().__init__(
            "Idempotency-Key: already used by this key for a request with another body; "
            "send a new key for new entries",
            field="Idempotency-Key",
        )


def replayed_ids(receipt: Receipt, body_hash: str, ids_json: str | bytes) -> list[str]:
    """The ids stored for an earlier request with this receipt's key, or a conflict."""
    if body_hash != receipt.body_hash:
        raise IdempotencyConflict()
    return list(orjson.loads(ids_json))


class LogBuffer(Protocol):
    def append(self, entries: list[LogEntry], receipt: Receipt | None = None) -> list[str] | None:
        """Hold the entries durably. With a receipt: None when they were appended, or the
        ids an earlier request with the same receipt got (nothing is appended then)."""

    def recall(self, receipt: Receipt) -> list[str] | None:
        """The ids an earlier request with this receipt got, if any (conflict if its body
        differed)."""


def entry_record(entry: LogEntry) -> dict[str, Any]:
    return entry.to_record()


def entry_from_record(record: dict[str, Any]) -> LogEntry:
    return LogEntry(**record)
