"""Per-service configuration (retention, alerting, daily limit) and the defaults that apply."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from logsvc.sql import SqlDatabase

RetentionPolicy = Literal["standard", "extended", "minimal"]
# A policy without an explicit ttl_days keeps logs this many days.
POLICY_TTL_DAYS: dict[str, int] = {"minimal": 7, "standard": 30, "extended": 90}

_COLUMNS = ("ttl_days", "retention_policy", "alert_on_errors", "max_logs_per_day")


@dataclass(frozen=True)
class ServiceConfig:
    """A service's stored settings; None means not set."""

    service_name: str
    ttl_days: int | None = None
    retention_policy: str | None = None
    alert_on_errors: bool = False
    max_logs_per_day: int | None = None
    created_at: int | None = None
    updated_at: int | None = None

    @property
    def is_default(self) -> bool:
        return self.created_at is None

    def effective_ttl_days(self, default_ttl_days: int) -> int:
        """ttl_days, else the retention policy's default, else DEFAULT_TTL_DAYS."""
        if self.ttl_days is not None:
            return self.ttl_days
        if self.retention_policy is not None:
            return POLICY_TTL_DAYS[self.retention_policy]
        return default_ttl_days

    def view(self, default_ttl_days: int) -> dict[str, Any]:
        """The API's shape: stored values plus the TTL that cleanup will apply."""
        return {
            **asdict(self),
            "effective_ttl_days": self.effective_ttl_days(default_ttl_days),
            "is_default": self.is_default,
        }


class ConfigStore:
    def __init__(self, db: SqlDatabase):
        self.db = db

    def get(self, service_name: str) -> ServiceConfig:
        """The stored config, or an unsaved default one."""
        rows = self.db.query(
            "SELECT * FROM service_configs WHERE service_name = ?", (service_name,)
        )
        return _config(rows[0]) if rows else ServiceConfig(service_name)

    def list(self) -> list[ServiceConfig]:
        return [
            _config(row)
            for row in self.db.query("SELECT * FROM service_configs ORDER BY service_name")
        ]

    def update(self, service_name: str, changes: dict[str, Any], now_ms: int) -> ServiceConfig:
        """Set the given fields, keep the others; create the config if it is new."""
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        merged = {**asdict(self.get(service_name)), **changes}
        values = [merged[c] if c != "alert_on_errors" else int(bool(merged[c])) for c in _COLUMNS]
        self.db.execute(
            "INSERT INTO service_configs (service_name, ttl_days, retention_policy, "
            "alert_on_errors, max_logs_per_day, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (service_name) DO UPDATE SET ttl_days = excluded.ttl_days, "
            "retention_policy = excluded.retention_policy, "
            "alert_on_errors = excluded.alert_on_errors, "
            "max_logs_per_day = excluded.max_logs_per_day, updated_at = excluded.updated_at",
            (service_name, *values, now_ms, now_ms),
        )
        return self.get(service_name)


def _config(row: dict[str, Any]) -> ServiceConfig:
    return ServiceConfig(**{**row, "alert_on_errors": bool(row["alert_on_errors"])})
