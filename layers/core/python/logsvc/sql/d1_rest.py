"""Cloudflare D1 over its REST API: POST .../d1/database/{id}/query with D1's envelope."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import urllib3
from urllib3.util import Retry

from logsvc.errors import DatabaseUnavailable
from logsvc.sql.database import Params, Result, SqlError, Statement, check_statement

# Transient server errors are retried with exponential backoff by urllib3. A 429 is not:
# Cloudflare blocks the token for minutes, so waiting inside a request cannot help; the
# caller gets a 503 with the Retry-After that D1 sent.
_RETRY = Retry(
    total=3,
    connect=3,
    read=2,
    status=3,
    backoff_factor=0.25,
    backoff_jitter=0.1,
    status_forcelist=(500, 502, 503, 504),
    allowed_methods=None,  # the statements we send are idempotent (INSERT OR IGNORE, upserts)
    raise_on_status=False,
    respect_retry_after_header=False,
)
_TIMEOUT = urllib3.Timeout(connect=5.0, read=30.0)  # D1 stops a query at 30 s


class D1RestDatabase:
    """D1 through the Cloudflare client API. No transactions: a batch is sent in one request."""

    def __init__(
        self,
        account_id: str,
        database_id: str,
        api_token: str | Callable[[], str],
        *,
        base_url: str = "https://api.cloudflare.com/client/v4",
        retries: Retry = _RETRY,
        pool: urllib3.PoolManager | None = None,
    ):
        self._url = f"{base_url.rstrip('/')}/accounts/{account_id}/d1/database/{database_id}/query"
        # A callable is asked on every request: a token updated in Secrets Manager is used
        # as soon as its cache expires, without restarting the function.
        self._api_token = api_token if callable(api_token) else lambda: api_token
        self._retries = retries
        self._pool = pool or urllib3.PoolManager(maxsize=4)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return self.execute(sql, params).rows

    def execute(self, sql: str, params: Params = ()) -> Result:
        return self.batch([Statement(sql, params)])[0]

    def batch(self, statements: Sequence[Statement]) -> list[Result]:
        for statement in statements:
            check_statement(statement)
        if len(statements) == 1:
            body: dict[str, Any] = {"sql": statements[0].sql, "params": list(statements[0].params)}
        else:
            body = {"batch": [{"sql": s.sql, "params": list(s.params)} for s in statements]}
        return [
            Result(
                rows=item.get("results") or [], changes=(item.get("meta") or {}).get("changes", 0)
            )
            for item in self._post(body)
        ]

    def run_script(self, script: str) -> None:
        self._post({"sql": script})

    def close(self) -> None:
        self._pool.clear()

    def _post(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = self._pool.request(
                "POST",
                self._url,
                body=json.dumps(body).encode(),
                headers={
                    "Authorization": f"Bearer {self._api_token()}",
                    "Content-Type": "application/json",
                },
                retries=self._retries,
                timeout=_TIMEOUT,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise DatabaseUnavailable(f"D1 unreachable: {exc}") from exc
        envelope = _decode(response)
        if response.status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raise DatabaseUnavailable("D1 rate limit reached", retry_after=retry_after)
        if response.status in (401, 403):
            raise DatabaseUnavailable(f"D1 refused the API token (HTTP {response.status})")
        if response.status >= 500:
            raise DatabaseUnavailable(f"D1 failed (HTTP {response.status}): {_messages(envelope)}")
        if response.status >= 400 or not envelope.get("success", False):
            raise SqlError(f"D1 rejected the statement: {_messages(envelope)}")
        return envelope.get("result") or []


def _decode(response: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    try:
        envelope = json.loads(response.data or b"{}")
    except ValueError:
        envelope = {}
    return envelope if isinstance(envelope, dict) else {}


def _messages(envelope: dict[str, Any]) -> str:
    errors = envelope.get("errors") or []
    return (
        "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
        or "no details"
    )


def _retry_after(value: str | None) -> int:
    try:
        return max(1, int(value or "1"))
    except ValueError:
        return 60
