"""Receipts of Idempotency-Keys in the index, for ingest that writes it directly."""

from __future__ import annotations

import orjson

from logsvc.receipts import Receipt, replayed_ids
from logsvc.sql import SqlDatabase, Statement


class ReceiptStore:
    def __init__(self, db: SqlDatabase):
        self.db = db

    def recall(self, receipt: Receipt) -> list[str] | None:
        rows = self.db.query(
            "SELECT body_hash, ids FROM ingest_receipts WHERE scope = ?", (receipt.scope,)
        )
        return replayed_ids(receipt, rows[0]["body_hash"], rows[0]["ids"]) if rows else None

    @staticmethod
    def record(receipt: Receipt, now_ms: int) -> Statement:
        """The statement that keeps the receipt, sent with the blocks it stands for."""
        return Statement(
            "INSERT OR IGNORE INTO ingest_receipts (scope, body_hash, ids, created_at) "
            "VALUES (?, ?, ?, ?)",
            (receipt.scope, receipt.body_hash, orjson.dumps(list(receipt.ids)).decode(), now_ms),
        )

    def delete_before(self, cutoff_ms: int) -> int:
        return len(
            self.db.query(
                "DELETE FROM ingest_receipts WHERE created_at < ? RETURNING scope", (cutoff_ms,)
            )
        )
