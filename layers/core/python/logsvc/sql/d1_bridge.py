"""D1 through the project's bridge Worker (workers/d1-bridge): HMAC-signed batches,
gzip-compressed once the Worker says it takes them."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import urllib3

from logsvc.sql.d1_http import D1HttpDatabase, TransientD1Error

# Bodies from this size on go gzip-compressed (level 1: a writer's flush of entries shrinks
# about 4x in a few ms; bigger levels cost more CPU than the bytes they save are worth):
# the bytes sent from AWS to Cloudflare are billed as data out.
GZIP_MIN_BYTES = 4096
GZIP_LEVEL = 1
ACCEPTS = "X-Bridge-Accept-Encoding"  # what every answer of a bridge that inflates says


class D1BridgeDatabase(D1HttpDatabase):
    """D1 through the project's bridge Worker (workers/d1-bridge): a D1 binding behind an
    HMAC-signed endpoint, so no client-API limit applies and a batch is a transaction."""

    def __init__(self, url: str, secret: str | Callable[[], str], **kwargs: Any):
        super().__init__(url, **kwargs)
        self._secret = secret if callable(secret) else lambda: secret
        # Learnt from the bridge's answers: a bridge deployed before it inflated bodies
        # would refuse them, so the first request goes as it is.
        self._gzip = False

    def headers(self, body: bytes) -> dict[str, str]:
        return bridge_headers(self._secret(), body)

    def encoded(self, data: bytes) -> tuple[bytes, dict[str, str]]:
        if not self._gzip or len(data) < GZIP_MIN_BYTES:
            return data, {}
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0), {"Content-Encoding": "gzip"}

    def answered(self, response: urllib3.BaseHTTPResponse, encoded: bool) -> None:
        self._gzip = "gzip" in (response.headers.get(ACCEPTS) or "")
        if encoded and not self._gzip:  # the bridge went back to a version that does not
            raise TransientD1Error("the bridge takes no compressed bodies: sending it plain")

    def run_script(self, script: str) -> None:
        """A D1 binding runs one statement per prepare(): the script goes as one batch,
        which D1 runs as a transaction."""
        self._post({"batch": [{"sql": sql, "params": []} for sql in split_statements(script)]})


def split_statements(script: str) -> list[str]:
    """Complete SQL statements, as SQLite itself delimits them (whole-line comments and
    blank lines dropped)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if not line.strip() or line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            # D1 counts a comment after the final ";" as an empty statement of its own.
            statements.append(current[: current.rfind(";") + 1].strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def bridge_headers(
    secret: str, body: bytes, now: float | None = None, nonce: str | None = None
) -> dict[str, str]:
    """HMAC-SHA256 over timestamp, nonce and body; the Worker refuses stale or reused ones."""
    timestamp = str(int(now if now is not None else time.time()))
    nonce = nonce or secrets.token_hex(16)
    message = f"{timestamp}\n{nonce}\n".encode() + body
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Bridge-Timestamp": timestamp,
        "X-Bridge-Nonce": nonce,
        "X-Bridge-Signature": signature,
    }
