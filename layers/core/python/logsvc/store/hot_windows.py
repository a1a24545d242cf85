"""The index's size budget: a D1 database holds at most 10 GB, so the index keeps itself
under a budget (INDEX_BUDGET_BYTES, 80% of that by default) by shrinking the hot window
of its largest services, oldest blocks first.

The archive holds every entry the index holds (the writer archives before it indexes), so
nothing is lost: each shrunken service's window start is recorded (migrations/0010), and
the querier asks the archive for anything before it (Querier.hot_since). The size is what
the database says (D1's ``size_after`` on every answer, a SQLite file's used pages); the
bytes deleted are also counted, so room is made even where a database does not shrink.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from logsvc.clock import now_ms
from logsvc.sql import SqlDatabase, Statement
from logsvc.store import content_index
from logsvc.store.sealing import DELETED_COLUMNS, delete_statements

logger = logging.getLogger(__name__)

D1_MAX_BYTES = 10_000_000_000  # D1's cap on a database (cannot be raised)
DEFAULT_BUDGET_BYTES = D1_MAX_BYTES * 8 // 10
# Making room goes down to this share of the budget, so the next writes do not start over.
LOW_WATER = 0.9
# A step deletes this share of the largest service's blocks (at least one, at most
# MAX_BLOCKS_PER_STEP), so the window shrinks a little at a time and evenly.
STEP_SHARE = 0.1
MAX_BLOCKS_PER_STEP = 1000
MAX_STEPS = 200
# What a block row costs beside its entries and streams (columns, index entries).
BLOCK_OVERHEAD_BYTES = 200
PAGE_BYTES = 4096  # SQLite's and D1's page


# What one write may add beside its blocks' rows at most: a new segment in each of the
# content index's two tables, a few pages while FTS5 merges them; and for each block it
# seals, its documents and time summary (logsvc.store.sealing), under a quarter of its
# entries' bytes (about 25 bytes a log against about 190: measured).
SEALING_BYTES = 6 * PAGE_BYTES
SEALED_SHARE = 0.25


def bytes_to_add(entry_bytes: list[int], sealed_bytes: int = 0) -> int:
    """What writing blocks of these sizes, and sealing blocks of ``sealed_bytes`` entries'
    bytes, may add to the database, at most: their bytes, a page each (a row's last
    overflow page, its index entries) and a tenth for page fill, and what sealing adds."""
    rows = sum(size * 11 // 10 + BLOCK_OVERHEAD_BYTES + PAGE_BYTES for size in entry_bytes)
    return rows + SEALING_BYTES + int(sealed_bytes * SEALED_SHARE)


@dataclass
class RoomMade:
    """What one making of room did (logged, and returned to tests and the bench)."""

    bytes_before: int
    bytes_after: int = 0
    blocks_deleted: int = 0
    entries_deleted: int = 0
    windows: dict[str, int] = field(default_factory=dict)  # service -> its index from here


class HotWindows:
    def __init__(
        self, db: SqlDatabase, budget_bytes: int | None, clock: Callable[[], int] = now_ms
    ):
        self.db = db
        self.budget_bytes = budget_bytes  # None: no budget kept (tests of other things)
        self.clock = clock

    def size_bytes(self) -> int:
        return self.db.size_bytes()

    def windows(self) -> dict[str, int]:
        """Each shrunken service's window start (Unix ms): the index holds its entries from
        there on."""
        rows = self.db.query("SELECT service_name, since_ms FROM hot_windows")
        return {row["service_name"]: row["since_ms"] for row in rows}

    def forget_before(self, service_name: str, cutoff_ms: int) -> None:
        """Forget a shrunken window its TTL has caught up with (cleanup)."""
        self.db.execute(
            "DELETE FROM hot_windows WHERE service_name = ? AND since_ms <= ?",
            (service_name, cutoff_ms),
        )

    def make_room(self, adding: int = 0, *, full: bool = False) -> RoomMade:
        """Delete the oldest blocks of the services holding the most entries until the index
        (with ``adding`` bytes more) is back under LOW_WATER of its budget, or of its size
        when the database refused a write as ``full`` below the budget (a budget set above
        the database's cap); record where each one's window now starts."""
        size = self.size_bytes()
        made = RoomMade(bytes_before=size, bytes_after=size)
        if not self.budget_bytes:
            return made
        ceiling = min(self.budget_bytes, size) if full else self.budget_bytes
        target = int(ceiling * LOW_WATER) - adding
        held = {
            row["service_name"]: [row["entries"], row["blocks"]]
            for row in self.db.query(
                "SELECT service_name, sum(entry_count) AS entries, count(*) AS blocks "
                "FROM log_blocks GROUP BY service_name"
            )
        }
        for _ in range(MAX_STEPS):
            # The size as the database says after each step (D1's size_after, a file's
            # pages in use): an estimate of what a step freed, subtracted as well, counted
            # it twice and stopped early.
            if size <= target or not held:
                break
            service = max(held, key=lambda name: held[name][0])
            entries, blocks = held[service]
            count = min(max(1, int(blocks * STEP_SHARE)), MAX_BLOCKS_PER_STEP)
            deleted, since = self._shrink(service, count)
            if not deleted:
                held.pop(service)
                continue
            made.windows[service] = since
            made.blocks_deleted += len(deleted)
            gone = sum(row["entry_count"] for row in deleted)
            made.entries_deleted += gone
            held[service] = [entries - gone, blocks - len(deleted)]
            if held[service][1] <= 0:
                held.pop(service)
            size = self.size_bytes()
        if size > target and not held:
            # No block left to delete, and still over: deleting blocks leaves delete markers
            # in the content index until its segments merge, and with few blocks (a small
            # database) those can be what keeps it over. Merging them all is then cheap.
            self.db.batch(content_index.optimize_statements())
            size = self.size_bytes()
        made.bytes_after = size
        logger.warning(
            "index over its budget: hot windows shrunk",
            extra={
                "budget_bytes": self.budget_bytes,
                "bytes_before": made.bytes_before,
                "bytes_after": made.bytes_after,
                "blocks_deleted": made.blocks_deleted,
                "entries_deleted": made.entries_deleted,
                "windows": made.windows,
            },
        )
        return made

    def _shrink(self, service: str, count: int) -> tuple[list[dict], int]:
        """Delete a service's ``count`` oldest blocks (by their newest entry) and move its
        window start past them, in one transaction."""
        oldest = self.db.query(
            f"SELECT b.last_ts, {DELETED_COLUMNS} FROM log_blocks AS b "  # noqa: S608 - fixed fragments
            "WHERE b.service_name = ? ORDER BY b.last_ts, b.id LIMIT ?",
            (service, count),
        )
        if not oldest:
            return [], 0
        since = max(row["last_ts"] for row in oldest) + 1
        results = self.db.batch(
            [
                Statement(
                    "INSERT INTO hot_windows (service_name, since_ms, updated_at) "
                    "VALUES (?, ?, ?) ON CONFLICT (service_name) DO UPDATE SET "
                    "since_ms = max(since_ms, excluded.since_ms), "
                    "updated_at = excluded.updated_at",
                    (service, since, self.clock()),
                ),
                *delete_statements(oldest),
            ]
        )
        return results[-1].rows, since
