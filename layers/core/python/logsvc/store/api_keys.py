"""The api_keys table: scoped keys, kept as SHA-256 hashes of their secrets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from logsvc.sql import SqlDatabase


@dataclass(frozen=True)
class KeyRecord:
    id: str  # the public part of "lsk_<id>_<secret>"
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    services: tuple[str, ...] | None  # None: every service
    created_at: int
    revoked_at: int | None = None

    def view(self) -> dict[str, Any]:
        """The API's shape: everything but the secret's hash."""
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "services": list(self.services) if self.services is not None else None,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


class ApiKeyStore:
    def __init__(self, db: SqlDatabase):
        self.db = db

    def insert(self, record: KeyRecord) -> None:
        self.db.execute(
            "INSERT INTO api_keys (id, name, secret_hash, scopes, services, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.name,
                record.secret_hash,
                ",".join(record.scopes),
                json.dumps(list(record.services)) if record.services else None,
                record.created_at,
            ),
        )

    def get(self, key_id: str) -> KeyRecord | None:
        rows = self.db.query("SELECT * FROM api_keys WHERE id = ?", (key_id,))
        return _record(rows[0]) if rows else None

    def active(self, key_id: str) -> KeyRecord | None:
        rows = self.db.query(
            "SELECT * FROM api_keys WHERE id = ? AND revoked_at IS NULL", (key_id,)
        )
        return _record(rows[0]) if rows else None

    def active_all(self) -> list[KeyRecord]:
        """Every key not revoked (each instance holds them: logsvc.keys)."""
        return [
            _record(row) for row in self.db.query("SELECT * FROM api_keys WHERE revoked_at IS NULL")
        ]

    def list(self) -> list[KeyRecord]:
        return [_record(row) for row in self.db.query("SELECT * FROM api_keys ORDER BY created_at")]

    def revoke(self, key_id: str, now_ms: int) -> bool:
        result = self.db.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now_ms, key_id),
        )
        return result.changes > 0


def _record(row: dict[str, Any]) -> KeyRecord:
    services = json.loads(row["services"]) if row["services"] else None
    return KeyRecord(
        id=row["id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        scopes=tuple(row["scopes"].split(",")),
        services=tuple(services) if services else None,
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
