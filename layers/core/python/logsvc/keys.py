"""API keys: the bootstrap key (LOG_SERVICE_API_KEY, admin of everything) and scoped keys
kept in SQL as SHA-256 hashes, with scopes (ingest, read, admin) and optional services."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logsvc.errors import Forbidden, Unauthorized
from logsvc.sql import SqlDatabase

SCOPES = ("ingest", "read", "admin")
KEY_PATTERN = r"lsk_([0-9a-f]{16})_([A-Za-z0-9_-]{32,64})"  # compiled on first use
CACHE_SECONDS = 30.0  # a revoked key stops working within this time


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name, its scopes and the services it may touch (None: all)."""

    name: str
    scopes: frozenset[str]
    services: frozenset[str] | None = None
    key_id: str = "bootstrap"  # what idempotency keys are scoped to

    def require(self, scope: str | None) -> None:
        if scope and scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(f"this key lacks the {scope!r} scope", field="Authorization")

    @property
    def service_filter(self) -> Callable[[str], bool] | None:
        """For ingest: None when the key may use every service (nothing to check)."""
        return None if self.services is None else self.may_use

    def may_use(self, service_name: str) -> bool:
        return self.services is None or service_name in self.services

    def require_service(self, service_name: str, field: str = "service") -> None:
        if not self.may_use(service_name):
            raise Forbidden(f"{field}: this key may not use service {service_name!r}", field=field)


BOOTSTRAP = Principal("bootstrap", frozenset(SCOPES))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    def __init__(self, db: SqlDatabase):
        self.db = db
        # key id -> (when read, secret hash, principal); (when, None, None): no active key
        self._cache: dict[str, tuple[float, str | None, Principal | None]] = {}

    def create(
        self, name: str, scopes: list[str], services: list[str] | None, now_ms: int
    ) -> tuple[str, dict[str, Any]]:
        """A new key: the full key is returned once and never stored."""
        import secrets  # only here: keeps the functions' cold start short

        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        self.db.execute(
            "INSERT INTO api_keys (id, name, secret_hash, scopes, services, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                key_id,
                name,
                hash_secret(secret),
                ",".join(sorted(set(scopes))),
                json.dumps(sorted(set(services))) if services else None,
                now_ms,
            ),
        )
        return f"lsk_{key_id}_{secret}", self.get(key_id)

    def get(self, key_id: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM api_keys WHERE id = ?", (key_id,))
        return _view(rows[0]) if rows else None

    def list(self) -> list[dict[str, Any]]:
        return [_view(row) for row in self.db.query("SELECT * FROM api_keys ORDER BY created_at")]

    def revoke(self, key_id: str, now_ms: int) -> bool:
        result = self.db.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now_ms, key_id),
        )
        self._cache.pop(key_id, None)
        return result.changes > 0

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a scoped key, or None (unknown, revoked or wrong secret)."""
        match = re.fullmatch(KEY_PATTERN, token)
        if not match:
            return None
        key_id, secret = match.groups()
        cached = self._cache.get(key_id)
        if cached is None or time.monotonic() - cached[0] > CACHE_SECONDS:
            cached = (time.monotonic(), *self._read(key_id))
            self._cache[key_id] = cached
        _, secret_hash, principal = cached
        if secret_hash is None or not hmac.compare_digest(hash_secret(secret), secret_hash):
            return None
        return principal

    def _read(self, key_id: str) -> tuple[str | None, Principal | None]:
        rows = self.db.query(
            "SELECT * FROM api_keys WHERE id = ? AND revoked_at IS NULL", (key_id,)
        )
        if not rows:
            return None, None
        row = rows[0]
        services = json.loads(row["services"]) if row["services"] else None
        principal = Principal(
            row["name"],
            frozenset(row["scopes"].split(",")),
            frozenset(services) if services else None,
            key_id=key_id,
        )
        return row["secret_hash"], principal


def authenticate(authorization: str | None, bootstrap_keys: list[str], keys: KeyStore) -> Principal:
    """The caller behind an Authorization header, or 401."""
    if not authorization:
        raise Unauthorized(
            "missing Authorization header (expected: Bearer <API key>)",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        for key in bootstrap_keys:
            if hmac.compare_digest(token.encode(), key.encode()):
                return BOOTSTRAP
        principal = keys.authenticate(token)
        if principal is not None:
            return principal
    raise Unauthorized(
        "invalid API key", field="Authorization", headers={"WWW-Authenticate": "Bearer"}
    )


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "scopes": row["scopes"].split(","),
        "services": json.loads(row["services"]) if row["services"] else None,
        "created_at": row["created_at"],
        "revoked_at": row["revoked_at"],
    }
