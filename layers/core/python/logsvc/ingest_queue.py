"""Buffered ingest: the API acknowledges once entries are in SQS; the writer function stores
them. Ids are given at enqueue time and derive from each message's key, so the writer (and
any redelivery) stores exactly the ids the client got back."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from logsvc.entries import LogEntry
from logsvc.store.logs import LogStore

# SQS takes 256 KiB per message; leave room for the envelope.
MAX_MESSAGE_BYTES = 200_000


class IngestQueue:
    def __init__(self, queue_url: str, logs: LogStore, client: Any = None):
        self.queue_url = queue_url
        self.logs = logs
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def enqueue(
        self, entries: list[LogEntry], idempotency_key: str | None = None
    ) -> list[LogEntry]:
        """Send the entries in messages of at most MAX_MESSAGE_BYTES; return them with ids."""
        key = idempotency_key or uuid.uuid4().hex
        for number, chunk in enumerate(_chunks(entries)):
            part_key = f"{key}:{number}"
            self.logs.prepare(chunk, part_key)  # gives the ids the writer will give
            body = orjson.dumps({"key": part_key, "entries": [_record(e) for e in chunk]})
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=body.decode())
        return entries


def entries_from_message(body: str) -> tuple[str, list[LogEntry]]:
    """The key and the entries of one queued message (ids are given again by prepare)."""
    message = orjson.loads(body)
    entries = [LogEntry(id="", **record) for record in message["entries"]]
    return message["key"], entries


def _record(entry: LogEntry) -> dict[str, Any]:
    record = entry.to_record()
    record.pop("id")
    return record


def _chunks(entries: list[LogEntry]) -> list[list[LogEntry]]:
    chunks: list[list[LogEntry]] = [[]]
    size = 0
    for entry in entries:
        entry_size = len(orjson.dumps(_record(entry))) + 1
        if chunks[-1] and size + entry_size > MAX_MESSAGE_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += entry_size
    return chunks
