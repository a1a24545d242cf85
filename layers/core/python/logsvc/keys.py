"""API keys: the bootstrap key (LOG_SERVICE_API_KEY, admin of everything) and scoped keys
(stored by ``store.api_keys``) with scopes (ingest, read, admin) and optional services."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logsvc.errors import Forbidden, Unauthorized
from logsvc.store.api_keys import ApiKeyStore, KeyRecord

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


class Keys:
    """Scoped keys: created with a secret shown once, checked against the stored hash.

    Every instance holds the active keys (one query every CACHE_SECONDS, whatever the
    traffic), so a key id costs no database read: a revoked key stops working within that
    time. A key id the holding lacks is read again only when the id is one this deployment
    made (its second half is a MAC of its first under ``id_secret``) and at most every
    RELOAD_SECONDS: a made-up id costs nothing, however many arrive, while a key created a
    moment ago on another instance works at once."""

    RELOAD_SECONDS = 1.0

    def __init__(self, store: ApiKeyStore, id_secret: str | None = None):
        self.store = store
        self._id_key = (
            hashlib.sha256(f"logsvc key ids\x00{id_secret}".encode()).digest()
            if id_secret
            else None
        )
        self._held: dict[str, tuple[KeyRecord, Principal]] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def create(
        self, name: str, scopes: list[str], services: list[str] | None, now_ms: int
    ) -> tuple[str, dict[str, Any]]:
        """A new key: the full key is returned once and never stored."""
        import secrets  # only here: keeps the functions' cold start short

        key_id, secret = self._new_id(secrets.token_hex(4)), secrets.token_urlsafe(32)
        record = KeyRecord(
            id=key_id,
            name=name,
            secret_hash=hash_secret(secret),
            scopes=tuple(sorted(set(scopes))),
            services=tuple(sorted(set(services))) if services else None,
            created_at=now_ms,
        )
        self.store.insert(record)
        return f"lsk_{key_id}_{secret}", record.view()

    def get(self, key_id: str) -> dict[str, Any] | None:
        record = self.store.get(key_id)
        return record.view() if record is not None else None

    def list(self) -> list[dict[str, Any]]:
        return [record.view() for record in self.store.list()]

    def revoke(self, key_id: str, now_ms: int) -> bool:
        with self._lock:
            self._held.pop(key_id, None)
        return self.store.revoke(key_id, now_ms)

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a scoped key, or None (unknown, revoked or wrong secret)."""
        match = re.fullmatch(KEY_PATTERN, token)
        if not match:
            return None
        key_id, secret = match.groups()
        held = self._holding(key_id)
        if held is None:
            return None
        record, principal = held
        if not hmac.compare_digest(hash_secret(secret), record.secret_hash):
            return None
        return principal

    def _holding(self, key_id: str) -> tuple[KeyRecord, Principal] | None:
        now = time.monotonic()
        with self._lock:
            if now - self._read_at > CACHE_SECONDS or (
                key_id not in self._held
                and self._made_here(key_id)
                and now - self._read_at > self.RELOAD_SECONDS
            ):
                self._held = {r.id: (r, _principal(r)) for r in self.store.active_all()}
                self._read_at = now
            return self._held.get(key_id)

    def _new_id(self, first: str) -> str:
        """A key id of 16 hex digits: 8 random, and 8 of their MAC (8 more random without a
        secret: such ids are found only once the holding is read again)."""
        if self._id_key is None:
            import secrets

            return first + secrets.token_hex(4)
        return first + hmac.new(self._id_key, first.encode(), "sha256").hexdigest()[:8]

    def _made_here(self, key_id: str) -> bool:
        return self._id_key is not None and hmac.compare_digest(self._new_id(key_id[:8]), key_id)


def _principal(record: KeyRecord) -> Principal:
    return Principal(
        record.name,
        frozenset(record.scopes),
        frozenset(record.services) if record.services else None,
        key_id=record.id,
    )


def _presented_key(authorization: str) -> str | None:
    """The key in ``Bearer <key>``, or the password of HTTP basic auth (what Grafana's Loki
    data source and Grafana Alloy are usually configured with; the user name is ignored)."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer":
        return token or None
    if scheme.lower() == "basic" and token:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def authenticate(authorization: str | None, bootstrap_keys: list[str], keys: Keys) -> Principal:
    """The caller behind an Authorization header, or 401."""
    if not authorization:
        raise Unauthorized(
            "missing Authorization header (expected: Bearer <API key>)",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = _presented_key(authorization)
    if token:
        for key in bootstrap_keys:
            if hmac.compare_digest(token.encode(), key.encode()):
                return BOOTSTRAP
        principal = keys.authenticate(token)
        if principal is not None:
            return principal
    raise Unauthorized(
        "invalid API key", field="Authorization", headers={"WWW-Authenticate": "Bearer"}
    )
