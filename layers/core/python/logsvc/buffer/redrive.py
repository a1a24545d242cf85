"""Redrive: store the ingest batches the writer gave up on (stacks/ingest_buffer.py).

Lambda writes each batch it gives up on to the failed-batches bucket as its invocation
record: metadata (``requestContext``, ``KinesisBatchInfo``...) and ``payload``, the event
the writer function was invoked with (``{"Records": [...]}``, as a JSON object or JSON
text). Each object's entries are stored through the writer with a key derived from the
object's name (the same blocks and archive objects however often it is redriven), then
the object is deleted. Records the writer could not read are under ``unreadable/``: kept
for someone to look at, never redriven.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from logsvc.archive.objects import ObjectStore
from logsvc.buffer.kinesis import entries_of
from logsvc.entries import LogEntry

UNREADABLE_PREFIX = "unreadable/"


@dataclass
class RedriveSummary:
    batches: int = 0  # objects stored and deleted
    entries: int = 0
    unreadable: list[str] = field(default_factory=list)  # objects left: not a batch


def redrive(failed: ObjectStore, store: Callable[[list[LogEntry], str], object]) -> RedriveSummary:
    """Store every given-up batch in ``failed`` with ``store(entries, key)``."""
    summary = RedriveSummary()
    for key in list(failed.list_keys("")):
        if key.startswith(UNREADABLE_PREFIX):
            continue
        data = failed.get(key)
        if data is None:
            continue  # redriven meanwhile
        try:
            entries = batch_entries(data)
        except (ValueError, TypeError, KeyError):
            summary.unreadable.append(key)
            continue
        if entries:
            store(entries, f"redrive:{key}")
        failed.delete([key])
        summary.batches += 1
        summary.entries += len(entries)
    return summary


def batch_entries(data: bytes) -> list[LogEntry]:
    """The entries of one invocation record Lambda wrote for a given-up batch."""
    document = orjson.loads(data)
    payload = document.get("payload", document)
    if isinstance(payload, str):
        payload = orjson.loads(payload)
    return [
        entry
        for record in payload["Records"]
        for entry in entries_of(base64.b64decode(record["kinesis"]["data"]))
    ]
