"""Per-service configuration (retention, alerting, daily limit) and the defaults that apply."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from logsvc.sql import SqlDatabase

RetentionPolicy = Literal["standard", "extended", "minimal"]
# A policy without an explicit ttl_days keeps logs this many days.
POLICY_TTL_DAYS: dict[str, int] = {"minimal": 7, "standard": 30, "extended": 90}

_COLUMNS = (
    "ttl_days",
    "retention_policy",
    "alert_on_errors",
    "max_logs_per_day",
    "archive_ttl_days",
    "debug_sample_rate",
    "info_sample_rate",
)


@dataclass(frozen=True)
class RetentionDefaults:
    """What applies where a service sets nothing (DEFAULT_TTL_DAYS, ARCHIVE_TTL_DAYS)."""

    ttl_days: int = 30
    archive_ttl_days: int = 365


@dataclass(frozen=True)
class ServiceConfig:
    """A service's stored settings; None means not set."""

    service_name: str
    ttl_days: int | None = None
    retention_policy: str | None = None
    alert_on_errors: bool = False
    max_logs_per_day: int | None = None
    archive_ttl_days: int | None = None
    debug_sample_rate: float | None = None
    info_sample_rate: float | None = None
    created_at: int | None = None
    updated_at: int | None = None

    @property
    def is_default(self) -> bool:
        return self.created_at is None

    def effective_ttl_days(self, defaults: RetentionDefaults) -> int:
        """ttl_days, else the retention policy's default, else DEFAULT_TTL_DAYS."""
        if self.ttl_days is not None:
            return self.ttl_days
        if self.retention_policy is not None:
            return POLICY_TTL_DAYS[self.retention_policy]
        return defaults.ttl_days

    def effective_archive_ttl_days(self, defaults: RetentionDefaults) -> int:
        return self.archive_ttl_days or defaults.archive_ttl_days

    def view(self, defaults: RetentionDefaults) -> dict[str, Any]:
        """The API's shape: stored values plus the retention that cleanup will apply."""
        return {
            **asdict(self),
            "effective_ttl_days": self.effective_ttl_days(defaults),
            "effective_archive_ttl_days": self.effective_archive_ttl_days(defaults),
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

    def daily_limits(self) -> dict[str, int]:
        """max_logs_per_day of every service that sets one."""
        rows = self.db.query(
            "SELECT service_name, max_logs_per_day FROM service_configs "
            "WHERE max_logs_per_day IS NOT NULL"
        )
        return {row["service_name"]: row["max_logs_per_day"] for row in rows}

    def sample_rates(self) -> dict[str, dict[str, float]]:
        """{service: {level: rate}} of every service that samples DEBUG or INFO."""
        rows = self.db.query(
            "SELECT service_name, debug_sample_rate, info_sample_rate FROM service_configs "
            "WHERE debug_sample_rate IS NOT NULL OR info_sample_rate IS NOT NULL"
        )
        return {
            row["service_name"]: {
                level: row[column]
                for level, column in (("DEBUG", "debug_sample_rate"), ("INFO", "info_sample_rate"))
                if row[column] is not None
            }
            for row in rows
        }

    def update(self, service_name: str, changes: dict[str, Any], now_ms: int) -> ServiceConfig:
        """Set the given fields, keep the others; create the config if it is new."""
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        merged = {**asdict(self.get(service_name)), **changes}
        values = [merged[c] if c != "alert_on_errors" else int(bool(merged[c])) for c in _COLUMNS]
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS)
        self.db.execute(
            f"INSERT INTO service_configs (service_name, {', '.join(_COLUMNS)}, created_at, "  # noqa: S608 - fixed column names
            f"updated_at) VALUES ({', '.join('?' * (len(_COLUMNS) + 3))}) "
            f"ON CONFLICT (service_name) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
            (service_name, *values, now_ms, now_ms),
        )
        return self.get(service_name)


def _config(row: dict[str, Any]) -> ServiceConfig:
    return ServiceConfig(**{**row, "alert_on_errors": bool(row["alert_on_errors"])})
