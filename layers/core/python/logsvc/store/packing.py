"""Packed blocks: a sealed block keeps its entries zlib-compressed as columns, under a
quarter of their JSON (issue 28: bytes per log; migration 0014).

A block is packed when it is sealed (logsvc.store.sealing), in the same transaction and
after its documents and time summary were computed in SQL from its plain entries:
``packed`` takes the entries compressed, ``entries`` becomes ``[]``. SQL over
``json_each(entries)`` so sees no entry of a packed block; each read that unpacks entries
also asks for the packed blocks it chose (``hex(packed)``: D1 answers a BLOB as a list of
numbers) and reads them here, deciding every filter in Python (SearchFilters.matches).
Before a packed block is deleted, its documents are removed with the same SQL as a plain
block's, over its entries unpacked here and sent back (logsvc.store.sealing.delete_statements);
before its entries expire, it is unpacked in place (``restore_statements``).
"""

from __future__ import annotations

import heapq
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import orjson
from cachetools import LRUCache, cached

from logsvc.field_filters import fold, matcher
from logsvc.filters import SearchFilters
from logsvc.sql import SqlDatabase, Statement
from logsvc.store.blocks import entry_id_of, entry_view

# zlib's default level: a 1000-entry block of the benchmark corpus in 42 bytes a log as
# columns (47 as rows; level 9 saves half a byte more at twice the time), unpacked in about
# a microsecond a log.
PACK_LEVEL = 6
_COLUMNS_V1 = 1  # the packed form: [1, times, messages, metadata, ids, levels, nanoseconds]
# A packed block's data as a query returns it (alias ``b``; NULL for a plain block, for
# which hex() would answer '').
PACKED = "nullif(hex(b.packed), '') AS packed"
INFLATED_KEPT = 64  # packed blocks whose JSON is kept (_inflated)
# The entries of packed blocks kept read (_kept_columns): about 800 bytes each, and their
# blocks' packed text (about 90 bytes an entry as hex) they are kept under: some 29 MB.
KEPT_ENTRIES = 32_768


def packs(source_type: str) -> bool:
    """Whether sealed blocks of this source are packed: all but the service's own logs,
    which stay readable with plain SQL as in the original (``SELECT * FROM logs WHERE
    service_name LIKE 'logsService%'``; logsvc.agent_log)."""
    return source_type != "agent"


def pack_statement(block_id: str, entries: bytes) -> Statement:
    """Pack a sealed block whose ``entries`` column holds exactly ``entries`` (a JSON array):
    nothing happens if it holds anything else, is not sealed, or is packed already."""
    packed = zlib.compress(orjson.dumps(_columns(orjson.loads(entries))), PACK_LEVEL)
    return Statement(
        "UPDATE log_blocks SET packed = unhex(?), entries = '[]' "
        "WHERE id = ? AND packed IS NULL AND words_doc IS NOT NULL "
        "AND length(CAST(entries AS BLOB)) = ?",
        (packed.hex(), block_id, len(entries)),
    )


def unpacked(packed_hex: str) -> list[Any]:
    """A packed block's entries (null where one expired), as its JSON array holds them."""
    return _rows(_unpacked_columns(packed_hex))


def _unpacked_columns(packed_hex: str) -> list[Any]:
    columns = orjson.loads(_inflated(packed_hex))
    assert columns[0] == _COLUMNS_V1, f"packed block of an unknown form ({columns[0]})"
    return columns


# Packed blocks are named exactly by their packed text, so what is kept under it cannot be
# stale. The zlib of the INFLATED_KEPT latest read is kept (at most about 300 KB an item).
@lru_cache(maxsize=INFLATED_KEPT)
def _inflated(packed_hex: str) -> bytes:
    return zlib.decompress(bytes.fromhex(packed_hex))


# The blocks a newest-first page decided by time and level reads are the same from one
# refresh to the next (the newest 50 errors of a busy service: six blocks of about 200
# entries, 1 ms of JSON): their columns and times are kept as read, never changed by a
# reader (matching copies the metadata of what it returns). Not those of text and field
# searches, nor Loki's reads of every entry of a range, which read many blocks once:
# keeping a field search's too made its p90 a third longer.
@cached(LRUCache(KEPT_ENTRIES, getsizeof=lambda read: len(read[1]) or 1), lock=threading.Lock())
def _kept_columns(packed_hex: str) -> tuple[list[Any], list[int | None]]:
    return _read_columns(packed_hex)


def _read_columns(packed_hex: str) -> tuple[list[Any], list[int | None]]:
    columns = _unpacked_columns(packed_hex)
    return columns, _times(columns[1])


def _columns(entries: list[Any]) -> list[Any]:
    """Entries as columns, each time as the difference from the one before: zlib packs
    like values next to each other a tenth tighter than whole entries."""
    times: list[int | None] = []
    previous = 0
    for entry in entries:
        if entry is None:  # expired: its position stays
            times.append(None)
            continue
        times.append(entry[0] - previous)
        previous = entry[0]

    def column(field: int) -> list[Any]:
        return [e[field] if e is not None and len(e) > field else None for e in entries]

    return [_COLUMNS_V1, times, *(column(field) for field in range(1, 6))]


def _rows(columns: list[Any]) -> list[Any]:
    """The entries back from their columns."""
    fields = columns[2:]
    return [
        None if at is None else _row(at, fields, position)
        for position, at in enumerate(_times(columns[1]))
    ]


def _times(differences: list[int | None]) -> list[int | None]:
    """Each entry's time from the differences (None where an entry expired)."""
    times: list[int | None] = []
    at = 0
    for difference in differences:
        if difference is None:
            times.append(None)
            continue
        at += difference
        times.append(at)
    return times


def _row(at: int, fields: list[list[Any]], position: int) -> list[Any]:
    """One entry back from its columns, as long as it was (the fields after the metadata
    only up to the last it had)."""
    row = [at, *(field[position] for field in fields)]
    while len(row) > 3 and row[-1] is None:
        row.pop()
    return row


def entry_rows(block: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Each entry of a packed block row (its BLOCK_COLUMNS and ``packed``) as the SQL reads
    of plain blocks give it (logsvc.store.blocks.ENTRY_COLUMNS), for entry_view."""
    for position, entry in enumerate(unpacked(block["packed"])):
        if entry is not None:
            yield entry_row(block, position, entry)


def entry_row(block: Mapping[str, Any], position: int, entry: list[Any]) -> dict[str, Any]:
    """One entry of a block (its JSON array item at ``position``) as ENTRY_COLUMNS give it."""
    timestamp, message, metadata, *stored = entry
    return {
        **block,
        "position": position,
        "timestamp": timestamp,
        "message": message,
        "metadata": metadata or {},
        "entry_id": stored[0] if stored else entry_id_of(block["block_id"], position),
        "entry_level": stored[1] if len(stored) > 1 else block["level"],
        "sub_millisecond": stored[2] if len(stored) > 2 else None,
    }


def matching(
    block: Mapping[str, Any], filters: SearchFilters, newest: int | None = None
) -> list[dict[str, Any]]:
    """A packed block's entries that pass the filters, in the API's shape: time and level
    tested on the entry as unpacked, the rest (SearchFilters.matches) on those left. With
    ``newest``, a newest-first read wants no more than that many of them: where time and
    level decide alone (no text, field or lowest-level filter), only the newest that many
    (and those of the same millisecond as the last) are shaped, not every one (a block of
    336 errors, for the newest 50 errors)."""
    start, end, level = filters.start_time, filters.end_time, filters.level
    decided = not filters.q and not filters.fields and filters.min_level is None
    kept = decided and newest is not None  # a page that is refreshed
    columns, times = (_kept_columns if kept else _read_columns)(block["packed"])
    fields, messages, metadata, levels = columns[2:], columns[2], columns[3], columns[5]
    chosen = [
        position
        for position, at in enumerate(times)
        if at is not None
        and (start is None or at >= start)
        and (end is None or at <= end)
        and (level is None or (levels[position] or block["level"]) == level)
    ]
    # The text and the fields tested on their columns, before any entry is shaped (a
    # user's few entries are in about thirty blocks of 5,600 entries: 6.9 -> 0.9 ms).
    if filters.q:
        needle = fold(filters.q)
        chosen = [position for position in chosen if needle in fold(messages[position])]
    if filters.fields:
        test = matcher(filters.fields)
        chosen = [position for position in chosen if test(metadata[position] or {})]
    if newest is not None and len(chosen) > newest and decided:
        last = heapq.nlargest(newest, (times[position] for position in chosen))[-1]
        chosen = [position for position in chosen if times[position] >= last]
    found = []
    for position in chosen:
        row = _row(times[position], fields, position)
        if kept and row[2]:  # the metadata: the caller's own, not what is kept
            row[2] = orjson.loads(orjson.dumps(row[2]))
        view = entry_view(entry_row(block, position, row))
        if filters.matches(view):
            found.append(view)
    return found


def packed_block(row: Mapping[str, Any]) -> dict[str, Any]:
    """A packed block as the Loki reads select it (``block_id``, ``level``, ``service``,
    ``source``, ``packed``), for entry_rows."""
    return {
        "block_id": row["block_id"],
        "level": row["level"],
        "service_name": row["service"],
        "source_type": row["source"],
        "archive_key": None,
        "entry_count": None,
        "packed": row["packed"],
    }


def labels_value(metadata: Any) -> Any:
    """An entry's pushed labels as SQL's json_extract(entry, '$[2].labels') gives them: an
    object or array as JSON text, a number or text as it is, true and false as 1 and 0."""
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if isinstance(labels, dict | list):
        return orjson.dumps(labels).decode()
    if isinstance(labels, bool):
        return int(labels)
    return labels


def stored_entries(db: SqlDatabase) -> Iterator[list[Any]]:
    """Every entry the index holds, plain or packed, as its block's JSON array has it
    (``[timestamp, message, metadata, id, level, ...]``): for tools that read the whole
    index (benchmarks counting what was stored)."""
    for row in db.query(f"SELECT b.entries, {PACKED} FROM log_blocks AS b"):  # noqa: S608 - fixed fragments
        items = (
            unpacked(row["packed"]) if row["packed"] is not None else orjson.loads(row["entries"])
        )
        yield from (item for item in items if item is not None)


def packed_entries(
    db: SqlDatabase, blocks: str, params: tuple[Any, ...]
) -> list[tuple[str, int, list[Any]]]:
    """(id, words_doc, entries) of the packed blocks that ``blocks`` (a WHERE condition on
    log_blocks) selects."""
    rows = db.query(
        f"SELECT b.id, b.words_doc, {PACKED} FROM log_blocks AS b WHERE b.packed IS NOT NULL "  # noqa: S608 - fixed fragments
        f"AND b.id IN (SELECT id FROM log_blocks WHERE {blocks})",
        params,
    )
    return packed_of(rows)


def packed_of(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, int, list[Any]]]:
    """(id, words_doc, entries) of the packed blocks among rows that have their ``id``,
    ``words_doc`` and ``packed`` (PACKED) columns."""
    return [(r["id"], r["words_doc"], unpacked(r["packed"])) for r in rows if r["packed"]]


def restore_statements(db: SqlDatabase, blocks: str, params: tuple[Any, ...]) -> list[Statement]:
    """Unpack in place the packed blocks that ``blocks`` (a WHERE condition on log_blocks)
    selects: before their entries expire (what follows the change of a block's entries is
    SQL over them)."""
    return [
        Statement(
            "UPDATE log_blocks SET entries = ?, packed = NULL WHERE id = ? AND packed IS NOT NULL",
            (orjson.dumps(entries).decode("utf-8"), block_id),
        )
        for block_id, _, entries in packed_entries(db, blocks, params)
    ]
