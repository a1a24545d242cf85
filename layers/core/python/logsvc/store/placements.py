"""Where each service's blocks live when the index spans several databases (the
``index_placements`` table, migrations/0011, in the first database).

A service is placed the first time a writer stores it: in the database that already holds
its blocks (an index that grew from one database), else in the one with the fewest bytes.
When its database passes the size budget while another is less than half full, the writer
moves it: the new row's time is MOVE_NOTICE_MS ahead, so every reader (which reads the
table every 30 s) asks both databases before the first block lands in the new one. Old
rows stay while their database holds blocks of the service (cleanup drops them after).
"""

from __future__ import annotations

from collections.abc import Callable

from logsvc.clock import now_ms
from logsvc.sql import SqlDatabase

MOVE_NOTICE_MS = 60_000  # longer than readers' 30 s between reads of the table
# A service moves off a database over its budget only to one at most this full.
MOVE_TO_FILL = 0.5


class Placements:
    def __init__(self, db: SqlDatabase, clock: Callable[[], int] = now_ms):
        self.db = db
        self.clock = clock

    def read(self) -> dict[str, list[tuple[int, int]]]:
        """Each service's (database, since) rows, oldest first."""
        placed: dict[str, list[tuple[int, int]]] = {}
        for row in self.db.query(
            "SELECT service_name, database, since_ms FROM index_placements "
            "ORDER BY service_name, since_ms, database"
        ):
            placed.setdefault(row["service_name"], []).append((row["database"], row["since_ms"]))
        return placed

    def place(self, service_name: str, database: int, since_ms: int) -> None:
        self.db.execute(
            "INSERT INTO index_placements (service_name, database, since_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (service_name, database) DO UPDATE SET since_ms = excluded.since_ms",
            (service_name, database, since_ms),
        )

    def forget(self, service_name: str, database: int) -> None:
        self.db.execute(
            "DELETE FROM index_placements WHERE service_name = ? AND database = ?",
            (service_name, database),
        )


def current(rows: list[tuple[int, int]], now: int) -> int | None:
    """The database new blocks go to: the latest row not in the future."""
    started = [(since, database) for database, since in rows if since <= now]
    return max(started)[1] if started else None
