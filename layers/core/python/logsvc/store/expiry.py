"""Expiry: one bounded step of deleting what a service's TTL has passed, in the index
(cleanup runs it until it says it finished).

Whole blocks older than the cutoff go; blocks that straddle it keep their newer entries,
the older ones replaced by null so that positions (and ids) stay. A packed block is
unpacked in place first (logsvc.store.packing). What a sealed block keeps
beside its row goes with it, or follows its entries (logsvc.store.sealing). Every step is
idempotent, so concurrent or repeated runs agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from logsvc.sql import SqlDatabase, Statement
from logsvc.store.blocks import LEVEL_COUNTS, RECOUNT_LEVELS
from logsvc.store.packing import restore_statements
from logsvc.store.sealing import DELETED_COLUMNS, after_change, before_change, delete_statements


@dataclass(frozen=True)
class ExpiryStep:
    entries: int  # entries deleted by this step
    finished: bool  # nothing older than the cutoff is left for this service


def expire(db: SqlDatabase, service_name: str, cutoff_ms: int, batch_size: int) -> ExpiryStep:
    """One bounded step of deleting a service's entries older than cutoff_ms."""
    # Oldest first; what sealed blocks hold beside their rows goes before them.
    oldest = db.query(
        f"SELECT {DELETED_COLUMNS} FROM log_blocks AS b "  # noqa: S608 - fixed fragments
        "WHERE b.service_name = ? AND b.last_ts < ? ORDER BY b.last_ts, b.id LIMIT ?",
        (service_name, cutoff_ms, batch_size),
    )
    deleted = db.batch(delete_statements(oldest))[-1].rows if oldest else []
    # Packed blocks that straddle the cutoff are unpacked first, then expire as any other.
    unpack = restore_statements(
        db,
        "service_name = ? AND first_ts < ? AND last_ts >= ? LIMIT ?",
        (service_name, cutoff_ms, cutoff_ms, batch_size),
    )
    if unpack:
        db.batch(unpack)
    straddling = db.query(
        "SELECT id, (SELECT count(*) FROM json_each(entries) WHERE type != 'null' "
        "AND json_extract(value, '$[0]') < ?) AS expired FROM log_blocks "
        "WHERE service_name = ? AND first_ts < ? AND last_ts >= ? LIMIT ?",
        (cutoff_ms, service_name, cutoff_ms, cutoff_ms, batch_size),
    )
    if straddling:
        # What a sealed block holds beside its row changes with its entries.
        changing = "id IN (SELECT value FROM json_each(?)) AND first_ts < ?"
        changing_params = (json.dumps([row["id"] for row in straddling]), cutoff_ms)
        db.batch(
            [
                *before_change(changing, changing_params),
                Statement(
                    "UPDATE log_blocks SET "  # noqa: S608 - fixed fragments
                    "entries = (SELECT json_group_array(CASE WHEN e.type = 'null' "
                    "OR json_extract(e.value, '$[0]') < ? THEN NULL ELSE json(e.value) END) "
                    "FROM json_each(log_blocks.entries) AS e), "
                    "entry_count = (SELECT count(*) FROM json_each(log_blocks.entries) "
                    "WHERE type != 'null' AND json_extract(value, '$[0]') >= ?), "
                    f"{RECOUNT_LEVELS}, "
                    "first_ts = (SELECT min(json_extract(value, '$[0]')) "
                    "FROM json_each(log_blocks.entries) WHERE type != 'null' "
                    "AND json_extract(value, '$[0]') >= ?) "
                    f"WHERE {changing}",
                    (
                        cutoff_ms,
                        cutoff_ms,
                        *[cutoff_ms] * len(LEVEL_COUNTS),
                        cutoff_ms,
                        *changing_params,
                    ),
                ),
                *after_change("id IN (SELECT value FROM json_each(?))", changing_params[:1]),
            ]
        )
    return ExpiryStep(
        entries=sum(row["entry_count"] for row in deleted)
        + sum(row["expired"] for row in straddling),
        finished=len(deleted) < batch_size and len(straddling) < batch_size,
    )
