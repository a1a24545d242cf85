"""SQLite-file backend: the local default, one connection per thread, WAL journal."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from logsvc.errors import DatabaseFull, DatabaseUnavailable
from logsvc.sql.database import Params, Result, SqlError, Statement, check_statement

CACHE_MB = 64


class SqliteDatabase:
    """A SQLite file; ``batch`` is one transaction, as on D1."""

    round_trip_ms = 0.0  # in this process
    answers_blobs = True

    def __init__(self, path: str, *, create: bool = False, max_bytes: int | None = None):
        self.path = path
        self._create = create
        # A cap as D1's (tests and the capacity bench): writes past it fail as on D1.
        self._max_bytes = max_bytes
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            mode = "rwc" if self._create else "rw"
            uri = f"{Path(self.path).absolute().as_uri()}?mode={mode}"
            try:
                connection = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
                add_missing_functions(connection)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                # Up to CACHE_MB of pages kept decoded (SQLite's default is 2 MB): a day of
                # a busy service's time summaries is 7 MB of pages (docs/PERFORMANCE.md).
                connection.execute(f"PRAGMA cache_size = {-CACHE_MB * 1024}")
                if self._max_bytes is not None:
                    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
                    connection.execute(f"PRAGMA max_page_count = {self._max_bytes // page_size}")
            except sqlite3.Error as exc:
                raise DatabaseUnavailable(
                    f"cannot open SQLite database {self.path}: {exc}"
                ) from exc
            self._local.connection = connection
        return connection

    def _run(self, connection: sqlite3.Connection, statement: Statement) -> Result:
        check_statement(statement)
        cursor = connection.execute(statement.sql, tuple(statement.params))
        columns = [column[0] for column in cursor.description or ()]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return Result(rows=rows, changes=cursor.rowcount if cursor.rowcount > 0 else 0)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return self.execute(sql, params).rows

    def execute(self, sql: str, params: Params = ()) -> Result:
        return self.batch([Statement(sql, params)])[0]

    def batch(self, statements: Sequence[Statement]) -> list[Result]:
        connection = self._connection()
        try:
            if len(statements) == 1:
                return [self._run(connection, statements[0])]
            connection.execute("BEGIN IMMEDIATE")
            try:
                results = [self._run(connection, statement) for statement in statements]
            except BaseException:
                # Some errors (a full disk) end the transaction themselves.
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return results
        except sqlite3.OperationalError as exc:
            if "full" in str(exc).lower():
                raise DatabaseFull(f"SQLite database full: {exc}", retry_after=60) from exc
            if _is_outage(exc):
                raise DatabaseUnavailable(f"SQLite database unavailable: {exc}") from exc
            raise SqlError(str(exc)) from exc
        except sqlite3.Error as exc:
            raise SqlError(str(exc)) from exc

    def run_script(self, script: str) -> None:
        connection = self._connection()
        try:
            connection.executescript(f"BEGIN;\n{script}\nCOMMIT;")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise SqlError(str(exc)) from exc

    def size_bytes(self) -> int:
        """The pages in use (a deleted row's page is free, and reused before the file
        grows)."""
        rows = self.query(
            "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count "
            "FROM pragma_freelist_count()) AS pages, (SELECT page_size FROM pragma_page_size()) "
            "AS page_size"
        )
        return rows[0]["pages"] * rows[0]["page_size"]

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def add_missing_functions(connection: sqlite3.Connection) -> None:
    """What D1's SQLite has and an older SQLite (before 3.41) lacks: unhex()."""
    if sqlite3.sqlite_version_info < (3, 41):
        connection.create_function("unhex", 1, _unhex, deterministic=True)


def _unhex(text: str | None) -> bytes | None:
    try:
        return bytes.fromhex(text) if text is not None else None
    except (TypeError, ValueError):
        return None  # as SQLite's unhex() answers text that is not hexadecimal


def _is_outage(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return any(
        word in text for word in ("locked", "busy", "unable to open", "disk i/o", "readonly")
    )
