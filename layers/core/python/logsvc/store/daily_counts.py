"""The daily_counts table: how many entries each service stored each UTC day (quotas).

The same table lives in the index (ingest writing directly) or the local buffer file."""

from __future__ import annotations

from logsvc.sql import SqlDatabase


class SqlDailyCounts:
    """Daily counts in a SQL database's ``daily_counts`` table (the index or the buffer)."""

    def __init__(self, db: SqlDatabase):
        self.db = db

    def reserve_daily(self, service: str, day: str, count: int, limit: int) -> bool:
        rows = self.db.query(
            "INSERT INTO daily_counts (service_name, day, count) VALUES (?, ?, ?) "
            "ON CONFLICT (service_name, day) DO UPDATE SET count = count + excluded.count "
            "WHERE count + excluded.count <= ? RETURNING count",
            (service, day, count, limit),
        )
        return bool(rows)

    def release_daily(self, service: str, day: str, count: int) -> None:
        self.db.execute(
            "UPDATE daily_counts SET count = max(0, count - ?) WHERE service_name = ? AND day = ?",
            (count, service, day),
        )

    def delete_before(self, day: str) -> int:
        return len(
            self.db.query("DELETE FROM daily_counts WHERE day < ? RETURNING service_name", (day,))
        )
