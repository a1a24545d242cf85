"""D1 over HTTP with D1's envelope: what the REST API client (``d1_rest``) and the bridge
client (``d1_bridge``) share.

Both answer {"success", "errors", "result": [{"results", "meta"}]} for
{"sql", "params"} or {"batch": [...]}. Failures map to: DatabaseUnavailable (retry later:
429, 5xx, "overloaded", lost connections, an exhausted request budget) or SqlError (the
statement is wrong).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import urllib3
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from urllib3.util import Retry

from logsvc.errors import DatabaseFull, DatabaseUnavailable
from logsvc.sql.database import Params, Result, SqlError, Statement, check_statement

# urllib3 retries failed connections; 5xx answers and "try again" messages are retried
# (3 attempts in all, jittered backoff) by _post_with_retries. A 429 is not: Cloudflare
# blocks the token for minutes, so waiting inside a request cannot help; the caller gets a
# 503 with the Retry-After that D1 sent.
_RETRY = Retry(
    total=2,
    connect=2,
    read=1,
    status=0,
    backoff_factor=0.25,
    allowed_methods=None,  # the statements we send are idempotent (INSERT OR IGNORE, upserts)
    raise_on_status=False,
)
_TIMEOUT = urllib3.Timeout(connect=5.0, read=30.0)  # D1 stops a query at 30 s
# D1 errors that say "try again" in their message, whatever the HTTP status.
_TRANSIENT = re.compile(
    r"overloaded|network connection lost|connection reset|reset because its code was "
    r"updated|storage caused object to be reset|internal error|temporarily unavailable",
    re.IGNORECASE,
)
# D1's answer to a write past its 10 GB cap (and SQLite's own words, which D1 passes on).
_FULL = re.compile(r"exceeded maximum db size|database or disk is full|SQLITE_FULL", re.IGNORECASE)
# A 429 asking for a wait this short is retried; a longer one (Cloudflare blocks a token for
# five minutes once over its limit) becomes a 503 carrying D1's Retry-After.
SHORT_WAIT_SECONDS = 2


class TransientD1Error(Exception):
    """D1 failed in a way that a retry a moment later usually fixes."""


class D1HttpDatabase:
    """A D1-compatible database reached over HTTP: each request (one statement, or a batch)
    is one transaction on D1's side; none spans requests (D1 has no BEGIN over HTTP)."""

    # An HTTPS request to D1 (Cloudflare's API or the bridge Worker): tens of ms.
    round_trip_ms = 40.0
    answers_blobs = False  # a list of numbers

    def __init__(
        self, url: str, *, retries: Retry = _RETRY, pool: urllib3.PoolManager | None = None
    ):
        self._url = url
        self._retries = retries
        self._pool = pool or urllib3.PoolManager(maxsize=4)
        self._size_after: int | None = None  # the database's size in D1's latest answer

    def headers(self, body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json"}

    def before_request(self) -> None:
        """A hook for budgets."""

    def encoded(self, data: bytes) -> tuple[bytes, dict[str, str]]:
        """The body as sent and the headers that say how (a hook: the bridge compresses)."""
        return data, {}

    def answered(self, response: urllib3.BaseHTTPResponse, encoded: bool) -> None:
        """A hook: what an answer's headers say (raise TransientD1Error to send again)."""

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

    def size_bytes(self) -> int:
        if self._size_after is None:
            self.query("SELECT 1 AS ok")  # every answer's meta carries size_after
        return self._size_after or 0

    def close(self) -> None:
        self._pool.clear()

    def _post(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        data = json.dumps(body).encode()
        try:
            results = self._post_with_retries(data)
        except TransientD1Error as exc:
            raise DatabaseUnavailable(f"D1 still failing after retries: {exc}") from exc
        for item in results:
            size = (item.get("meta") or {}).get("size_after")
            if isinstance(size, int):
                self._size_after = size
        return results

    @retry(
        retry=retry_if_exception_type(TransientD1Error),
        stop=stop_after_attempt(3),
        wait=wait_random_exponential(multiplier=0.2, max=2.0),
        reraise=True,
    )
    def _post_with_retries(self, data: bytes) -> list[dict[str, Any]]:
        self.before_request()
        body, encoding = self.encoded(data)
        try:
            response = self._pool.request(
                "POST",
                self._url,
                body=body,
                # Answers come compressed where the server can (urllib3 inflates them).
                headers={"Accept-Encoding": "gzip", **self.headers(body), **encoding},
                retries=self._retries,
                timeout=_TIMEOUT,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise DatabaseUnavailable(f"D1 unreachable: {exc}") from exc
        self.answered(response, bool(encoding))
        envelope = _decode(response)
        messages = _messages(envelope)
        if response.status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if retry_after <= SHORT_WAIT_SECONDS:  # a moment's congestion: worth a retry
                raise TransientD1Error(f"HTTP 429, retry after {retry_after} s")
            raise DatabaseUnavailable("D1 rate limit reached", retry_after=retry_after)
        if response.status in (401, 403):
            raise DatabaseUnavailable(
                f"D1 refused the API token or bridge secret (HTTP {response.status})"
            )
        failed = response.status >= 400 or not envelope.get("success", False)
        if response.status >= 500 or (failed and _TRANSIENT.search(messages)):
            raise TransientD1Error(f"HTTP {response.status}: {messages}")
        if failed and _FULL.search(messages):
            raise DatabaseFull(f"D1 database full: {messages}", retry_after=60)
        if failed:
            raise SqlError(f"D1 rejected the statement: {messages}")
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
