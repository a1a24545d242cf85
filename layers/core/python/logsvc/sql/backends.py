"""Which backend a DATABASE_URL names: the one place that knows them all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from logsvc.sql.database import SqlDatabase


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
