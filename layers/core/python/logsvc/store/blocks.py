"""The index's table layout: entries packed into block rows (migrations 0002, 0006, 0007).

Entries written together that share a service and source share a row of ``log_blocks``
whose ``entries`` column is a JSON array of ``[timestamp, message, metadata, id, level]``;
D1 then writes three rows (the block and two index entries) per block instead of four per
log. A block counts its entries per level and never spans more than MAX_BLOCK_SPAN_MS, so
level filters, stats and the choice of blocks to unpack read the indexes only, whatever
order entries arrive in. This module packs blocks and reads their entries back into the
API's shape; logsvc.store.log_index answers with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from logsvc.entries import LEVELS, LogEntry, loads_json, metadata_json, pushed_labels
from logsvc.ids import derived_entry_id, entry_id
from logsvc.sql import Statement

# A block row stays well under D1's 2 MB row limit, and its position fits 4 hex digits.
MAX_BLOCK_BYTES = 1_000_000
MAX_BLOCK_ENTRIES = 4096
# Metadata larger than this is kept whole in the archive only; the index keeps a marker.
MAX_INDEXED_METADATA_BYTES = 16_384
# A block's entries lie within this time of each other, so an entry's id (which carries its
# timestamp) leads to the few blocks that can hold it. Long enough that a flush's entries of
# one service, late ones (backfills, unsorted collector buffers) included, fit in one block.
MAX_BLOCK_SPAN_MS = 2 * 3_600_000
# A block's entry count per level: the column of each (fixed names, never from input).
LEVEL_COUNTS = {level: f"{level.lower()}_count" for level in LEVELS}
MIXED_LEVELS = "MIXED"  # the level column of a block whose entries' levels differ
# A block's row as an INSERT names it; block_values gives them, in this order.
BLOCK_ROW = (
    "log_blocks (id, service_name, level, source_type, first_ts, last_ts, entry_count, "
    "r2_key, entries, streams, " + ", ".join(LEVEL_COUNTS.values()) + ")"
)
_INSERT_BLOCK = f"INSERT OR IGNORE INTO {BLOCK_ROW}"
INSERT_BLOCK_SQL = f"{_INSERT_BLOCK} VALUES ({', '.join('?' * 15)})"
BLOCK_COLUMNS = (
    "b.id AS block_id, b.entry_count, b.service_name, b.level, b.r2_key AS archive_key, "
    "b.source_type"
)


def entry_level_sql(entry: str, block: str) -> str:
    """An entry's level in SQL: its own (blocks since 0007), or its block's."""
    return f"coalesce(json_extract({entry}, '$[4]'), {block}.level)"


ENTRY_LEVEL = entry_level_sql("e.value", "b")
ENTRY_COLUMNS = (
    "e.key AS position, json_extract(e.value, '$[0]') AS timestamp, "
    "json_extract(e.value, '$[1]') AS message, json_extract(e.value, '$[2]') AS metadata_json, "
    "coalesce(json_extract(e.value, '$[3]'), CASE WHEN substr(b.id, 33, 4) = '0000' "
    "THEN substr(b.id, 1, 32) || printf('%04x', e.key) ELSE b.id END) AS entry_id, "
    f"{ENTRY_LEVEL} AS entry_level, json_extract(e.value, '$[5]') AS sub_millisecond"
)
# The same columns where a row holds no entry (a packed block's: logsvc.store.packing).
NO_ENTRY_COLUMNS = ", ".join(
    f"NULL AS {name}"
    for name in (
        "position",
        "timestamp",
        "message",
        "metadata_json",
        "entry_id",
        "entry_level",
        "sub_millisecond",
    )
)
# Each level's count of a block, recounted over its entries from a cutoff (cleanup).
RECOUNT_LEVELS = ", ".join(
    f"{column} = (SELECT count(*) FROM json_each(log_blocks.entries) WHERE type != 'null' "  # noqa: S608 - fixed names
    "AND json_extract(value, '$[0]') >= ? "
    f"AND {entry_level_sql('value', 'log_blocks')} = '{level}')"
    for level, column in LEVEL_COUNTS.items()
)
CHECKPOINT_SQL = (
    "INSERT INTO writer_checkpoints (stream, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (stream) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at"
)


@dataclass
class Block:
    """One block row being written: entries of one service and source, close in time."""

    id: str
    service_name: str
    source_type: str
    rows: list[bytes] = field(default_factory=list)  # each entry's JSON, in position order
    timestamps: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    levels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    # The distinct [level, pushed labels] pairs of its entries (the Loki streams it holds).
    streams: dict[bytes, None] = field(default_factory=dict)
    size: int = 0

    @property
    def level(self) -> str:
        present = [level for level, count in self.levels.items() if count]
        return present[0] if len(present) == 1 else MIXED_LEVELS

    def json(self) -> bytes:
        return entries_json(self.rows)

    def holds(self, timestamp: int, size: int) -> bool:
        return (
            timestamp - self.timestamps[0] <= MAX_BLOCK_SPAN_MS
            and self.size + size <= MAX_BLOCK_BYTES
            and len(self.rows) < MAX_BLOCK_ENTRIES
        )


@dataclass
class PreparedBatch:
    """Entries (with the ids ingest gave them) and the block rows that will index them.

    ``appendable``: whether its blocks may be appended to the writer's open blocks
    (logsvc.store.open_blocks). Only where what makes a retry store nothing twice is written
    in the same transaction (a flush's checkpoint, a request's receipt); a batch whose
    retries rely on its blocks' derived ids alone (replay, redrive, a flush's blocks written
    one by one, another index database's share of a request) is inserted as it is."""

    entries: list[LogEntry]
    blocks: list[Block]
    appendable: bool = True


@dataclass(frozen=True)
class Checkpoint:
    """How far the writer has stored a buffer's stream: written with the blocks, in the
    same D1 request, so a flush that is retried after a crash stores nothing twice."""

    stream: str
    position: int
    at_ms: int  # when it was reached (the row's updated_at)


def pack(entries: list[LogEntry], batch_key: str | None = None) -> PreparedBatch:
    """Pack entries (which carry their ids) into blocks of one service and source, each
    spanning at most MAX_BLOCK_SPAN_MS.

    With a batch key (an Idempotency-Key, or a buffer flush's position) the block ids
    derive from it and the packing is deterministic, so writing the same batch again
    changes nothing: INSERT OR IGNORE keeps the first copy.
    """
    open_blocks: dict[tuple[str, str], Block] = {}
    blocks: list[Block] = []
    for entry in sorted(entries, key=lambda e: (e.timestamp, e.sub_millisecond, e.id)):
        key = (entry.service_name, entry.source_type)
        fields = [
            entry.timestamp,
            entry.indexed_message,
            _indexed_metadata(entry),
            entry.id,
            entry.level,
        ]
        if entry.timestamp_ns is not None:
            fields.append(entry.sub_millisecond)  # $[5]: nanoseconds past the millisecond
        row = orjson.dumps(fields)
        size = len(row) + 1
        block = open_blocks.get(key)
        if block is None or not block.holds(entry.timestamp, size):
            block = Block("", *key)
            open_blocks[key] = block
            blocks.append(block)
        block.rows.append(row)
        block.timestamps.append(entry.timestamp)
        block.ids.append(entry.id)
        block.levels[entry.level] += 1
        block.streams[orjson.dumps([entry.level, pushed_labels(entry.metadata)])] = None
        block.size += size
    # A block's id starts with its newest entry's time, so the table (ordered by id)
    # keeps blocks in the order searches read them (newest entry first), and a scan
    # reads neighbouring pages instead of jumping about.
    for number, block in enumerate(blocks):
        newest = block.timestamps[-1]
        block.id = (
            derived_entry_id(newest, batch_key, str(number)) if batch_key else entry_id(newest)
        )
    return PreparedBatch(entries, blocks)


def entries_json(rows: Iterable[bytes]) -> bytes:
    """A block's entries column: the JSON array of its entries' JSON."""
    return b"[" + b",".join(rows) + b"]"


def block_statement(block: Block, archive_keys: dict[str, str]) -> Statement:
    """The block's INSERT (a block already there is left as it is)."""
    return Statement(INSERT_BLOCK_SQL, block_values(block, archive_keys))


def block_values(block: Block, archive_keys: dict[str, str]) -> tuple[object, ...]:
    """The values of the block's row, as BLOCK_ROW names its columns."""
    return (
        block.id,
        block.service_name,
        block.level,
        block.source_type,
        min(block.timestamps),
        max(block.timestamps),
        len(block.rows),
        archive_keys.get(block.service_name),
        block.json().decode("utf-8"),
        (b"[" + b",".join(block.streams) + b"]").decode("utf-8"),
        *block.levels.values(),
    )


def _indexed_metadata(entry: LogEntry) -> orjson.Fragment | dict[str, Any] | None:
    """The metadata as the index keeps it: serialised once, and embedded as it is."""
    if not entry.metadata:
        return None
    data = entry.metadata_json or metadata_json(entry.metadata)
    if len(data) > MAX_INDEXED_METADATA_BYTES:
        return {"_truncated": True, "_bytes": len(data)}
    return orjson.Fragment(data)


def entry_id_of(block_id: str, position: int) -> str:
    """The id of an entry stored before entries carried their own: blocks of that time end
    in 0000 and number their entries there; a block migrated from 0001 is its entry."""
    return block_id[:32] + f"{position:04x}" if block_id.endswith("0000") else block_id


def entry_view(row: dict[str, Any]) -> dict[str, Any]:
    """A block's entry in the API's shape."""
    position = row["position"]
    block_id = row["block_id"]
    if "metadata" in row:
        metadata = row["metadata"]
    else:
        metadata = loads_json(row["metadata_json"]) if row["metadata_json"] else {}
    return {
        "id": row.get("entry_id") or entry_id_of(block_id, position),
        "service_name": row["service_name"],
        "level": row.get("entry_level") or row["level"],
        "message": row["message"],
        "timestamp": row["timestamp"],
        "r2_key": row["archive_key"],  # the API keeps the original's name
        "metadata": metadata,
        "source_type": row["source_type"],
        **_nanoseconds(row["timestamp"], row.get("sub_millisecond")),
    }


def _nanoseconds(timestamp: int, sub_millisecond: int | None) -> dict[str, int]:
    """``timestamp_ns`` for an entry stored with nanoseconds; nothing otherwise."""
    if sub_millisecond is None:
        return {}
    return {"timestamp_ns": timestamp * 1_000_000 + sub_millisecond}
