"""The SqlDatabase interface and D1's limits, which every backend enforces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# D1 limits (developers.cloudflare.com/d1/platform/limits). Every backend enforces them, so
# SQL that passes the tests on SQLite also runs on D1.
MAX_BOUND_PARAMETERS = 100
MAX_STATEMENT_BYTES = 100_000

Params = Sequence[Any]


@dataclass(frozen=True)
class Statement:
    """One parameterised SQL statement."""

    sql: str
    params: Params = ()


@dataclass
class Result:
    """Rows (as dicts) and the number of rows changed by one statement."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    changes: int = 0


class SqlError(Exception):
    """The database rejected a statement (syntax, constraint, limit): a bug, not an outage."""


class SqlDatabase(Protocol):
    """Parameterised SQL against D1 or something that behaves like it."""

    # What one request costs beside its SQL, roughly (ms): readers choose between more
    # work per request and more requests by it.
    round_trip_ms: float
    # Whether a BLOB leaves a query as bytes; D1 answers one as a list of numbers, so
    # readers of large BLOBs ask it for hex() instead (blob_column, blob_bytes).
    answers_blobs: bool

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Run one statement and return its rows."""

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one statement and return its rows and change count."""

    def batch(self, statements: Sequence[Statement]) -> list[Result]:
        """Run statements in order in one round trip, as one transaction: every statement
        takes effect or none does (D1 wraps each request in one; SQLite: BEGIN IMMEDIATE).
        The writer relies on it: a flush's checkpoint, a request's receipt and sampling's
        tallies are stored with their blocks or not at all."""

    def run_script(self, script: str) -> None:
        """Run a parameterless multi-statement script (migrations)."""

    def size_bytes(self) -> int:
        """The database's size in bytes, as its cap counts it: D1's ``size_after`` of the
        latest answer (one small query when none came yet), a SQLite file's used pages."""

    def close(self) -> None:
        """Release connections."""


def check_statement(statement: Statement) -> None:
    """Refuse what D1 would refuse, before it is sent anywhere."""
    if len(statement.params) > MAX_BOUND_PARAMETERS:
        raise SqlError(
            f"{len(statement.params)} bound parameters; D1 allows {MAX_BOUND_PARAMETERS}"
        )
    if len(statement.sql.encode()) > MAX_STATEMENT_BYTES:
        raise SqlError(f"statement text over {MAX_STATEMENT_BYTES} bytes")


def blob_column(db: SqlDatabase, expression: str) -> str:
    """SQL reading a BLOB ``expression`` as ``db`` answers it best: as it is, or as hex
    (NULL stays NULL); blob_bytes reads either back."""
    if db.answers_blobs:
        return expression
    return f"iif({expression} IS NULL, NULL, hex({expression}))"


def blob_bytes(value: bytes | str) -> bytes:
    """A BLOB read with blob_column, as bytes."""
    return value if isinstance(value, bytes) else bytes.fromhex(value)
