"""No buffer between ingest and the index: each append is stored by the writer at once.

The local default (a SQLite index, which takes writes as fast as ingest makes them) and
the maintenance functions' own agent logs. Ingest still ends in a buffer, so this mode runs
the same writer as production; an entry is searchable as soon as it is acknowledged. The
receipt of an Idempotency-Key is written in the same request as the entries' blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from logsvc.clock import now_ms
from logsvc.entries import LogEntry
from logsvc.receipts import Receipt
from logsvc.sql import Statement


class Store(Protocol):
    """What stores a batch at once (logsvc.writer.Writer.store)."""

    def store(
        self, entries: list[LogEntry], key: str | None = None, also: Sequence[Statement] = ()
    ) -> list[LogEntry]: ...


class IndexReceipts(Protocol):
    """Receipts kept in the index (logsvc.store.receipts.ReceiptStore)."""

    def recall(self, receipt: Receipt) -> list[str] | None: ...

    def record(self, receipt: Receipt, now_ms: int) -> Statement: ...


class DirectBuffer:
    def __init__(self, writer: Store, receipts: IndexReceipts, clock: Callable[[], int] = now_ms):
        self.writer = writer
        self.receipts = receipts
        self.clock = clock

    def append(self, entries: list[LogEntry], receipt: Receipt | None = None) -> list[str] | None:
        if receipt is None:
            self.writer.store(entries)
            return None
        earlier = self.receipts.recall(receipt)
        if earlier is not None:
            return earlier
        # The key's scope names the blocks and the archive object: a retry rewrites them.
        self.writer.store(entries, receipt.scope, [self.receipts.record(receipt, self.clock())])
        return None

    def recall(self, receipt: Receipt) -> list[str] | None:
        return self.receipts.recall(receipt)
