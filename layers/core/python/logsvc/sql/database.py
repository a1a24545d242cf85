"""The SqlDatabase interface, D1's limits, and the URL-style backend selection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

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

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Run one statement and return its rows."""

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one statement and return its rows and change count."""

    def batch(self, statements: Sequence[Statement]) -> list[Result]:
        """Run statements in order in one round trip."""

    def run_script(self, script: str) -> None:
        """Run a parameterless multi-statement script (migrations)."""

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


def open_database(
    url: str,
    *,
    d1_api_token: str | Callable[[], str] | None = None,
    d1_api_base_url: str | None = None,
    d1_request_budget: int | Any = 1000,
    d1_budget_share: float | None = None,
    bridge_secret: str | Callable[[], str] | None = None,
    create: bool = False,
) -> SqlDatabase:
    """The backend a URL names: ``sqlite:///path/logs.db``, ``d1://account/database``
    (the REST API) or ``d1-bridge+https://bridge.example.workers.dev/query``.

    ``d1_request_budget`` is a number (this process's own budget) or a shared budget;
    ``d1_budget_share`` is the part of it this caller may spend (the writer: all)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from logsvc.sql.sqlite import SqliteDatabase

        path = parts.path if not parts.netloc else f"{parts.netloc}{parts.path}"
        if not path:
            raise ValueError(
                "DATABASE_URL sqlite:// needs a file path, e.g. sqlite:///data/logs.db"
            )
        return SqliteDatabase(path, create=create)
    if parts.scheme == "d1":
        from logsvc.sql.d1_rest import READ_SHARE, D1RestDatabase, RequestBudget

        database_id = parts.path.strip("/")
        if not parts.netloc or not database_id:
            raise ValueError("DATABASE_URL d1:// needs d1://<account_id>/<database_id>")
        if not d1_api_token:
            raise ValueError("D1_API_TOKEN is required for a d1:// DATABASE_URL")
        return D1RestDatabase(
            parts.netloc,
            database_id,
            d1_api_token,
            base_url=d1_api_base_url or "https://api.cloudflare.com/client/v4",
            budget=(
                RequestBudget(d1_request_budget)
                if isinstance(d1_request_budget, int)
                else d1_request_budget
            ),
            share=READ_SHARE if d1_budget_share is None else d1_budget_share,
        )
    if parts.scheme in ("d1-bridge+http", "d1-bridge+https"):
        from logsvc.sql.d1_bridge import D1BridgeDatabase

        if not bridge_secret:
            raise ValueError("D1_BRIDGE_SECRET is required for a d1-bridge DATABASE_URL")
        return D1BridgeDatabase(url.removeprefix("d1-bridge+"), bridge_secret)
    raise ValueError(
        f"DATABASE_URL scheme must be sqlite, d1 or d1-bridge+https, got {parts.scheme!r}"
    )
