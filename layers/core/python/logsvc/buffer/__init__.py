"""The durable buffer between ingest and the writer.

Ingest checks, authorizes, admits and numbers entries, appends them here and answers: an
acknowledged entry is one the buffer holds. The writer drains the buffer in large batches
(``logsvc.writer``), so the index and the archive see one request per flush whatever the
shape of the traffic. Backends: a SQLite file (``LocalBuffer``, the local server) and a
Kinesis stream (``KinesisBuffer``, AWS).
"""

from __future__ import annotations

from typing import Any, Protocol

from logsvc.entries import LogEntry
from logsvc.receipts import Receipt


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
