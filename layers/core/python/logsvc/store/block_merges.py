"""Small blocks merged: what keeps quiet services from spending a page per flush.

The writer stores what it has every few seconds (the 5-second visibility promise), so a
service logging a few entries a second writes blocks of a few entries, each taking most of
a page with its two index entries: 280-500 bytes per log instead of about 190 in full
blocks. Once an hour has passed (MERGE_BUCKET_MS, plus MERGE_SETTLE_MS for late flushes),
the writer rewrites each service's small blocks of that hour as one block (or as few as
MAX_BLOCK_ENTRIES and MAX_BLOCK_BYTES allow), in one transaction that inserts the merged
block only if every block it replaces is still there and deletes them only if it went in:
two writers merging the same hour, or one merging an hour another already merged, change
nothing twice. Entries keep their ids; a merged block keeps no archive object key (its
entries came from several), so an entry's full copy is found in the archive by id and time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import orjson

from logsvc.ids import derived_entry_id
from logsvc.sql import SqlDatabase, Statement
from logsvc.store.blocks import (
    MAX_BLOCK_BYTES,
    MAX_BLOCK_ENTRIES,
    Block,
    block_statement,
)

# A block with fewer entries is small. Blocks written since migration 0009 only: their
# entries carry their ids and levels, so positions do not matter.
SMALL_BLOCK_ENTRIES = 256
MERGE_BUCKET_MS = 3_600_000
MERGE_SETTLE_MS = 120_000
# How far back a merge looks for small blocks (backfills older than this stay as written).
MERGE_LOOKBACK_MS = 6 * 3_600_000


@dataclass
class MergeSummary:
    groups: int = 0  # service-hours merged
    blocks_merged: int = 0  # small blocks replaced
    blocks_written: int = 0  # blocks that replaced them


def merge_small_blocks(db: SqlDatabase, now_ms: int, max_groups: int) -> MergeSummary:
    """Merge the small blocks of up to ``max_groups`` closed service-hours."""
    summary = MergeSummary()
    closed_before = (now_ms - MERGE_SETTLE_MS) // MERGE_BUCKET_MS * MERGE_BUCKET_MS
    groups = db.query(
        "SELECT json_group_array(id) AS ids FROM log_blocks INDEXED BY idx_blocks_time "  # noqa: S608 - an int constant below
        "WHERE last_ts >= ? AND first_ts < ? AND entry_count < ? AND streams IS NOT NULL "
        "AND last_ts - first_ts < ? "
        # The hour in SQL, not bound: D1 binds a JSON number as REAL, and a REAL divisor
        # would make every block its own hour.
        f"GROUP BY service_name, source_type, first_ts / {MERGE_BUCKET_MS:d} "
        "HAVING count(*) > 1 ORDER BY min(first_ts) LIMIT ?",
        (
            now_ms - MERGE_LOOKBACK_MS,
            closed_before,
            SMALL_BLOCK_ENTRIES,
            MERGE_BUCKET_MS,
            max_groups,
        ),
    )
    for group in groups:
        ids = json.loads(group["ids"])
        merged = _merged(db, ids)
        if merged:
            db.batch(_replacing(ids, merged))
            summary.groups += 1
            summary.blocks_merged += len(ids)
            summary.blocks_written += len(merged)
    return summary


def _merged(db: SqlDatabase, ids: list[str]) -> list[Block]:
    """The entries of the blocks ``ids``, in time order, packed into as few blocks as the
    limits allow."""
    rows = db.query(
        "SELECT b.service_name, b.source_type, b.streams, e.value AS entry "
        "FROM log_blocks AS b, json_each(b.entries) AS e "
        "WHERE b.id IN (SELECT value FROM json_each(?)) AND e.type != 'null'",
        (json.dumps(ids),),
    )
    if not rows:
        return []
    streams = {
        orjson.dumps(stream): None
        for text in {row["streams"] for row in rows}
        for stream in orjson.loads(text)
    }
    entries = sorted(
        (orjson.loads(row["entry"]) for row in rows),
        key=lambda e: (e[0], e[5] if len(e) > 5 else 0, e[3]),
    )
    blocks: list[Block] = []
    for entry in entries:
        encoded = orjson.dumps(entry)
        size = len(encoded) + 1
        block = blocks[-1] if blocks else None
        if block is None or not (
            block.size + size <= MAX_BLOCK_BYTES and len(block.rows) < MAX_BLOCK_ENTRIES
        ):
            block = Block("", rows[0]["service_name"], rows[0]["source_type"])
            block.streams = streams  # the union: a superset only ever reads more
            blocks.append(block)
        block.rows.append(encoded)
        block.timestamps.append(entry[0])
        block.ids.append(entry[3])
        block.levels[entry[4]] += 1
        block.size += size
    source = ",".join(sorted(ids))
    for number, block in enumerate(blocks):
        block.id = derived_entry_id(block.timestamps[-1], "merge", source, str(number))
    return blocks


def _replacing(ids: list[str], merged: list[Block]) -> list[Statement]:
    """Insert the merged blocks only while every block they replace is still there; delete
    those only once the merged blocks are in (one transaction)."""
    sources = json.dumps(ids)
    present = Statement(
        "(SELECT count(*) FROM log_blocks WHERE id IN (SELECT value FROM json_each(?))) = ?",
        (sources, len(ids)),
    )
    return [
        *(block_statement(block, {}, only_if=present) for block in merged),
        Statement(
            "DELETE FROM log_blocks WHERE id IN (SELECT value FROM json_each(?)) "
            "AND EXISTS (SELECT 1 FROM log_blocks WHERE id = ?)",
            (sources, merged[0].id),
        ),
    ]
