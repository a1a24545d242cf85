"""Finding one entry by its id (``GET /api/v1/logs/{id}``): its id carries its timestamp,
which names the few blocks that can hold it, plain or packed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from logsvc.ids import ID_PATTERN, id_timestamp
from logsvc.sql import SqlDatabase
from logsvc.store import block_times
from logsvc.store.blocks import BLOCK_COLUMNS, MAX_BLOCK_SPAN_MS, entry_view
from logsvc.store.packing import PACKED, entry_row, entry_rows


def find_entry(db: SqlDatabase, entry_id: str) -> dict[str, Any] | None:
    """The entry with this id, in one query: among the blocks of the time bucket its id
    carries, or (an entry written before ids were stored) by its block's primary key."""
    if not ID_PATTERN.fullmatch(entry_id):
        return None
    timestamp = id_timestamp(entry_id)
    position = int(entry_id[32:], 16)
    rows = db.query(
        f"SELECT {BLOCK_COLUMNS}, e.key AS position, e.value AS entry, NULL AS packed "  # noqa: S608 - fixed fragments
        "FROM log_blocks AS b JOIN json_each(b.entries) AS e "
        "WHERE b.last_ts >= ? AND b.last_ts <= ? AND b.first_ts <= ? "
        "AND instr(b.entries, ?) > 0 AND e.type = 'array' "
        "AND json_extract(e.value, '$[3]') = ? "
        f"UNION ALL SELECT {BLOCK_COLUMNS}, CASE WHEN b.id = ? "
        "AND substr(b.id, 33, 4) != '0000' THEN 0 ELSE ? END AS position, "
        "json_extract(b.entries, CASE WHEN b.id = ? AND substr(b.id, 33, 4) != '0000' "
        "THEN '$[0]' ELSE ? END) AS entry, NULL FROM log_blocks AS b WHERE b.id IN (?, ?) "
        # Packed blocks with an entry of that very millisecond (their time summaries say),
        # chosen from the time index first.
        f"UNION ALL SELECT {BLOCK_COLUMNS}, NULL, NULL, {PACKED} FROM log_blocks AS b "
        "WHERE b.packed IS NOT NULL AND b.id IN (SELECT id FROM log_blocks "
        "WHERE last_ts >= ? AND last_ts <= ? AND first_ts <= ? AND words_doc IS NOT NULL "
        f"AND EXISTS (SELECT 1 FROM block_times AS t, {block_times.listed_times('t')} "
        "WHERE t.doc = log_blocks.words_doc AND t.since + a.value = ?))",
        (
            timestamp,
            timestamp + MAX_BLOCK_SPAN_MS,
            timestamp,
            entry_id,
            entry_id,
            entry_id,
            position,
            entry_id,
            f"$[{position}]",
            entry_id,
            entry_id[:32] + "0000",
            timestamp,
            timestamp + MAX_BLOCK_SPAN_MS,
            timestamp,
            timestamp,
        ),
    )
    for row in rows:
        if row["packed"] is not None:
            candidates: Iterable[dict[str, Any]] = entry_rows(row)
        elif row["entry"] is not None:
            candidates = [entry_row(row, row["position"], json.loads(row["entry"]))]
        else:
            continue
        for candidate in candidates:
            if candidate["entry_id"] == entry_id:
                return entry_view(candidate)
    return None
