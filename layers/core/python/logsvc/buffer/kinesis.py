"""The AWS buffer: a Kinesis data stream, drained by the writer function.

Kinesis rather than SQS or Firehose (docs/COST.md): a single-entry request costs one 25 KB
PUT payload unit ($0.014 per million) instead of an SQS request ($0.40 per million), the
writer reads each shard in order with one instance (so it stays within D1's account-wide
request limit by design), and a failed flush is retried from the same sequence number, so
the checkpoint the writer keeps in the index makes retries store nothing twice.

Entries of one request travel in as few records as fit (1 MB each); receipts of
Idempotency-Keys live in the coordination table (``logsvc.coordination``).
"""

from __future__ import annotations

import random
import secrets
import time
from typing import Any, Protocol

import orjson

from logsvc.buffer import entry_from_record, entry_record
from logsvc.entries import LogEntry
from logsvc.errors import StoreUnavailable
from logsvc.receipts import Receipt

MAX_RECORD_BYTES = 900_000  # Kinesis takes 1 MiB per record, key included
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 4_500_000  # PutRecords takes 5 MiB
PUT_ATTEMPTS = 3
PUT_BACKOFF_S = 0.05  # records a shard refused are sent again within 0.1, then 0.2 s


class ReceiptTable(Protocol):
    """Where Kinesis's receipts are kept (logsvc.coordination.CoordinationTable on AWS)."""

    def recall_receipt(self, receipt: Receipt) -> list[str] | None: ...

    def claim_receipt(self, receipt: Receipt) -> list[str] | None: ...


class KinesisBuffer:
    def __init__(self, stream_name: str, receipts: ReceiptTable | None = None, client: Any = None):
        self.stream_name = stream_name
        self.receipts = receipts
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("kinesis")
        return self._client

    def append(self, entries: list[LogEntry], receipt: Receipt | None = None) -> list[str] | None:
        """The receipt is kept only after the stream holds the entries: an instance that
        dies in between leaves no receipt, so the client's retry stores them (at worst a
        second time) instead of being answered with ids that were never stored."""
        if receipt is not None and self.receipts is not None:
            earlier = self.receipts.recall_receipt(receipt)
            if earlier is not None:
                return earlier
        self._put(records_of(entries))
        if receipt is not None and self.receipts is not None:
            self.receipts.claim_receipt(receipt)
        return None

    def recall(self, receipt: Receipt) -> list[str] | None:
        return self.receipts.recall_receipt(receipt) if self.receipts is not None else None

    def _put(self, records: list[bytes]) -> None:
        for call in _calls(records):
            pending = call
            for attempt in range(PUT_ATTEMPTS):
                if attempt:  # a shard over its limit: wait a little, jittered, then again
                    time.sleep(random.uniform(0, PUT_BACKOFF_S * 2**attempt))  # noqa: S311 - a wait, not a secret
                answer = self.client.put_records(
                    StreamName=self.stream_name,
                    Records=[
                        {"Data": data, "PartitionKey": secrets.token_hex(8)} for data in pending
                    ],
                )
                if not answer.get("FailedRecordCount"):
                    break
                pending = [
                    data
                    for data, result in zip(pending, answer["Records"], strict=True)
                    if result.get("ErrorCode")
                ]
            else:
                raise StoreUnavailable("the ingest stream refused records; retry later", 1)


class DeadLetterQueue:
    """Where the writer function sets aside entries the index refuses (an SQS queue)."""

    BATCH = 10  # SendMessageBatch takes at most ten messages

    def __init__(self, queue_url: str, client: Any = None):
        self.queue_url = queue_url
        self._client = client

    def dead_letter(self, entries: list[tuple[int, LogEntry]], reason: str) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        messages = [
            {
                "Id": str(number),
                "MessageBody": orjson.dumps(
                    {
                        "position": str(position),
                        "reason": reason[:2000],
                        "entry": entry_record(entry),
                    }
                ).decode(),
            }
            for number, (position, entry) in enumerate(entries)
        ]
        for start in range(0, len(messages), self.BATCH):
            self._client.send_message_batch(
                QueueUrl=self.queue_url, Entries=messages[start : start + self.BATCH]
            )


def records_of(entries: list[LogEntry]) -> list[bytes]:
    """Entries as Kinesis records: JSON arrays of entry records, each under the limit."""
    records: list[bytes] = []
    current: list[bytes] = []
    size = 2
    for entry in entries:
        data = orjson.dumps(entry_record(entry))
        if current and size + len(data) + 1 > MAX_RECORD_BYTES:
            records.append(b"[" + b",".join(current) + b"]")
            current, size = [], 2
        current.append(data)
        size += len(data) + 1
    if current:
        records.append(b"[" + b",".join(current) + b"]")
    return records


def entries_of(data: bytes) -> list[LogEntry]:
    return [entry_from_record(record) for record in orjson.loads(data)]


def _calls(records: list[bytes]) -> list[list[bytes]]:
    calls: list[list[bytes]] = [[]]
    size = 0
    for data in records:
        if calls[-1] and (
            len(calls[-1]) >= MAX_RECORDS_PER_CALL or size + len(data) > MAX_BYTES_PER_CALL
        ):
            calls.append([])
            size = 0
        calls[-1].append(data)
        size += len(data)
    return calls
