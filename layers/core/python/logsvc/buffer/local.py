"""The local buffer: a SQLite file in the data directory.

An append is one transaction committed with ``synchronous=FULL``, so an acknowledged entry
survives ``kill -9`` and a power cut. Positions are the rows' increasing ids; the writer
reads them in order, stores them, records the position in the index (a checkpoint), and
only then deletes them here.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from logsvc.buffer import entry_from_record, entry_record
from logsvc.entries import LogEntry
from logsvc.errors import StoreUnavailable
from logsvc.receipts import RECEIPT_TTL_MS, Receipt, replayed_ids

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    entry    BLOB NOT NULL,               -- the entry as JSON, id included
    queued_at INTEGER NOT NULL            -- Unix ms
);
CREATE TABLE IF NOT EXISTS dead_letters (
    position  INTEGER PRIMARY KEY,
    entry     BLOB NOT NULL,
    reason    TEXT NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    scope      TEXT PRIMARY KEY,
    body_hash  TEXT NOT NULL,
    ids        TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS receipts_by_age ON receipts (created_at);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS daily_counts (
    service_name TEXT NOT NULL,
    day          TEXT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (service_name, day)
) WITHOUT ROWID;
"""


class LocalBuffer:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        self._appended = threading.Condition()
        connection = self._connection()
        connection.executescript(_SCHEMA)
        # The writer's checkpoint is per stream: a new buffer file is a new stream, so its
        # positions (which start again at 1) are never taken for ones already stored.
        connection.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('stream', ?)",
            (f"local-{secrets.token_hex(8)}",),
        )
        self.stream = connection.execute("SELECT value FROM meta WHERE key = 'stream'").fetchone()[
            0
        ]

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")  # acknowledged means on disk
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot open the buffer {self.path}: {exc}") from exc
            self._local.connection = connection
        return connection

    def _transaction(self) -> _Transaction:
        return _Transaction(self._connection())

    def append(self, entries: list[LogEntry], receipt: Receipt | None = None) -> list[str] | None:
        now = int(time.time() * 1000)
        rows = [(orjson.dumps(entry_record(entry)), now) for entry in entries]
        with self._transaction() as connection:
            if receipt is not None:
                earlier = connection.execute(
                    "SELECT body_hash, ids FROM receipts WHERE scope = ?", (receipt.scope,)
                ).fetchone()
                if earlier is not None:
                    return replayed_ids(receipt, *earlier)
                connection.execute(
                    "INSERT INTO receipts (scope, body_hash, ids, created_at) VALUES (?, ?, ?, ?)",
                    (receipt.scope, receipt.body_hash, orjson.dumps(list(receipt.ids)), now),
                )
            connection.executemany("INSERT INTO pending (entry, queued_at) VALUES (?, ?)", rows)
        with self._appended:
            self._appended.notify_all()
        return None

    def recall(self, receipt: Receipt) -> list[str] | None:
        earlier = (
            self._connection()
            .execute("SELECT body_hash, ids FROM receipts WHERE scope = ?", (receipt.scope,))
            .fetchone()
        )
        return replayed_ids(receipt, *earlier) if earlier is not None else None

    # The writer's side.

    def read(self, after: int, limit: int) -> list[tuple[int, LogEntry]]:
        """Up to ``limit`` entries after a position, oldest first."""
        rows = (
            self._connection()
            .execute(
                "SELECT position, entry FROM pending WHERE position > ? ORDER BY position LIMIT ?",
                (after, limit),
            )
            .fetchall()
        )
        return [(position, entry_from_record(orjson.loads(entry))) for position, entry in rows]

    def delete_through(self, position: int) -> None:
        """Forget what the index holds now (called after the checkpoint is written)."""
        with self._transaction() as connection:
            connection.execute("DELETE FROM pending WHERE position <= ?", (position,))
            connection.execute(
                "DELETE FROM receipts WHERE created_at < ?",
                (int(time.time() * 1000) - RECEIPT_TTL_MS,),
            )
            # Only today's counts matter for quotas; keep yesterday's, as cleanup does.
            connection.execute("DELETE FROM daily_counts WHERE day < date('now', '-1 day')")

    def dead_letter(self, entries: list[tuple[int, LogEntry]], reason: str) -> None:
        """Set entries aside that the index refuses, so they block nothing behind them."""
        now = int(time.time() * 1000)
        with self._transaction() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO dead_letters (position, entry, reason, failed_at) "
                "VALUES (?, ?, ?, ?)",
                [(p, orjson.dumps(entry_record(e)), reason[:2000], now) for p, e in entries],
            )

    def dead_letters(self) -> list[dict[str, Any]]:
        rows = self._connection().execute(
            "SELECT position, entry, reason, failed_at FROM dead_letters ORDER BY position"
        )
        return [
            {"position": p, "entry": orjson.loads(e), "reason": r, "failed_at": f}
            for p, e, r, f in rows.fetchall()
        ]

    def backlog(self) -> tuple[int, float]:
        """Entries pending, and the age in seconds of the oldest (the writer's lag)."""
        count, oldest = (
            self._connection().execute("SELECT count(*), min(queued_at) FROM pending").fetchone()
        )
        age = (int(time.time() * 1000) - oldest) / 1000 if oldest is not None else 0.0
        return count, age

    def stats(self) -> dict[str, Any]:
        """The backlog, and how many entries were set aside as dead letters."""
        pending, age = self.backlog()
        dead = self._connection().execute("SELECT count(*) FROM dead_letters").fetchone()[0]
        return {"pending": pending, "oldest_age_seconds": age, "dead_letters": dead}

    def wait_for_entries(self, timeout: float) -> None:
        with self._appended:
            self._appended.wait(timeout)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); SQLite errors become StoreUnavailable."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the buffer is unavailable: {exc}") from exc
        return self.connection

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            try:
                self.connection.execute("COMMIT")
                return
            except sqlite3.Error as commit_error:
                exc = commit_error
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StoreUnavailable(f"the buffer is unavailable: {exc}") from exc
