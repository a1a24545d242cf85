"""The log index: entries packed into block rows, searched without unpacking everything.

This module alone knows the table layout (migrations 0002, 0006 and 0007). Entries written
together that share a service and source share a row of ``log_blocks`` whose ``entries``
column is a JSON array of ``[timestamp, message, metadata, id, level]``; D1 then writes
three rows (the block and two index entries) per block instead of four per log. A block
counts its entries per level and never spans more than MAX_BLOCK_SPAN_MS, so level filters,
stats and the choice of blocks to unpack read the indexes only, whatever order entries
arrive in. Handlers and the ingest pipeline see only LogIndex's methods and dicts in the
API's shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from logsvc.clock import DAY_MS
from logsvc.entries import LEVELS, LogEntry, metadata_json
from logsvc.field_filters import (
    FieldFilter,
    fold,
    matches_all,
    needs_python_fold,
    text_condition,
)
from logsvc.ids import ID_PATTERN, derived_entry_id, entry_id, id_timestamp
from logsvc.sampling import SAMPLED_LEVELS
from logsvc.sql import SqlDatabase, Statement

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
# Searches look at this many block headers per round (index only, no entries read).
SEARCH_HEADERS = 256
# A substring search reads this many times the entries wanted in its first round, and
# looks at this many headers a round (each costs a scan of the block's text).
Q_READ_FACTOR = 16
Q_SEARCH_HEADERS = 16
MAX_HEADERS_PER_ROUND = 65_536
# A round also reads the blocks that overlap in time the ones it needs (other services'
# blocks of the same flushes), as long as the newer blocks hold fewer entries than this:
# overlapping blocks would otherwise each take a round, and each round is a D1 request.
OVERLAP_ENTRIES = 10_000
MAX_ENTRIES_PER_ROUND = 1 << 40

_ID = ID_PATTERN
# JSON escapes these, so the raw block text cannot be searched for them.
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')

_INSERT_BLOCK = (
    "INSERT OR IGNORE INTO log_blocks (id, service_name, level, source_type, first_ts, "  # noqa: S608 - fixed column names
    "last_ts, entry_count, r2_key, entries, "
    + ", ".join(LEVEL_COUNTS.values())
    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_BLOCK_COLUMNS = (
    "b.id AS block_id, b.entry_count, b.service_name, b.level, b.r2_key AS archive_key, "
    "b.source_type"
)


def _entry_level(entry: str, block: str) -> str:
    """An entry's level in SQL: its own (blocks since 0007), or its block's."""
    return f"coalesce(json_extract({entry}, '$[4]'), {block}.level)"


_ENTRY_LEVEL = _entry_level("e.value", "b")
_ENTRY_COLUMNS = (
    "e.key AS position, json_extract(e.value, '$[0]') AS timestamp, "
    "json_extract(e.value, '$[1]') AS message, json_extract(e.value, '$[2]') AS metadata_json, "
    "coalesce(json_extract(e.value, '$[3]'), CASE WHEN substr(b.id, 33, 4) = '0000' "
    "THEN substr(b.id, 1, 32) || printf('%04x', e.key) ELSE b.id END) AS entry_id, "
    f"{_ENTRY_LEVEL} AS entry_level"
)
# Each level's count of a block, recounted over its entries from a cutoff (cleanup).
_RECOUNT_LEVELS = ", ".join(
    f"{column} = (SELECT count(*) FROM json_each(log_blocks.entries) WHERE type != 'null' "  # noqa: S608 - fixed names
    "AND json_extract(value, '$[0]') >= ? "
    f"AND {_entry_level('value', 'log_blocks')} = '{level}')"
    for level, column in LEVEL_COUNTS.items()
)
_CHECKPOINT = (
    "INSERT INTO writer_checkpoints (stream, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (stream) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at"
)


@dataclass(frozen=True)
class SearchFilters:
    service: str | None = None
    level: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    q: str | None = None
    fields: tuple[FieldFilter, ...] = ()  # metadata filters (logsvc.field_filters)
    limit: int = 100
    offset: int = 0


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
    size: int = 0

    @property
    def level(self) -> str:
        present = [level for level, count in self.levels.items() if count]
        return present[0] if len(present) == 1 else MIXED_LEVELS

    def holds(self, timestamp: int, size: int) -> bool:
        return (
            timestamp - self.timestamps[0] <= MAX_BLOCK_SPAN_MS
            and self.size + size <= MAX_BLOCK_BYTES
            and len(self.rows) < MAX_BLOCK_ENTRIES
        )


@dataclass(frozen=True)
class ExpiryStep:
    entries: int  # entries deleted by this step
    finished: bool  # nothing older than the cutoff is left for this service


@dataclass
class PreparedBatch:
    """Entries (with the ids ingest gave them) and the block rows that will index them."""

    entries: list[LogEntry]
    blocks: list[Block]


@dataclass(frozen=True)
class Checkpoint:
    """How far the writer has stored a buffer's stream: written with the blocks, in the
    same D1 request, so a flush that is retried after a crash stores nothing twice."""

    stream: str
    position: int


class LogIndex:
    def __init__(self, db: SqlDatabase):
        self.db = db

    def prepare(self, entries: list[LogEntry], batch_key: str | None = None) -> PreparedBatch:
        """Pack entries (which carry their ids) into blocks of one service and source, each
        spanning at most MAX_BLOCK_SPAN_MS.

        With a batch key (an Idempotency-Key, or a buffer flush's position) the block ids
        derive from it and the packing is deterministic, so writing the same batch again
        changes nothing: INSERT OR IGNORE keeps the first copy.
        """
        open_blocks: dict[tuple[str, str], Block] = {}
        blocks: list[Block] = []
        for entry in sorted(entries, key=lambda e: (e.timestamp, e.id)):
            key = (entry.service_name, entry.source_type)
            row = orjson.dumps(
                [
                    entry.timestamp,
                    entry.indexed_message,
                    _indexed_metadata(entry),
                    entry.id,
                    entry.level,
                ]
            )
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

    def write(
        self,
        batch: PreparedBatch,
        archive_keys: dict[str, str],
        also: Sequence[Statement] = (),
    ) -> None:
        """Index a prepared batch in one round trip; blocks already written are left as is.

        ``archive_keys`` names each service's archive object; ``also`` are statements sent
        after the blocks in the same request (a checkpoint, a receipt): D1 runs a batch as
        one transaction, so they are stored with the blocks or not at all."""
        statements = [self.block_statement(block, archive_keys) for block in batch.blocks]
        statements += also
        if statements:
            self.db.batch(statements)

    @staticmethod
    def checkpoint_statement(checkpoint: Checkpoint, now_ms: int) -> Statement:
        return Statement(_CHECKPOINT, (checkpoint.stream, str(checkpoint.position), now_ms))

    @staticmethod
    def block_statement(block: Block, archive_keys: dict[str, str]) -> Statement:
        return Statement(
            _INSERT_BLOCK,
            (
                block.id,
                block.service_name,
                block.level,
                block.source_type,
                min(block.timestamps),
                max(block.timestamps),
                len(block.rows),
                archive_keys.get(block.service_name),
                (b"[" + b",".join(block.rows) + b"]").decode("utf-8"),
                *block.levels.values(),
            ),
        )

    def checkpoint(self, stream: str) -> int | None:
        """The last buffer position stored from this stream, if any."""
        rows = self.db.query("SELECT position FROM writer_checkpoints WHERE stream = ?", (stream,))
        return int(rows[0]["position"]) if rows else None

    def search(self, filters: SearchFilters) -> tuple[list[dict[str, Any]], bool]:
        """Entries matching the filters, newest first, and whether more follow.

        Blocks are read newest first (by their newest entry). Each round looks at the next
        block headers (from the index, no entries), unpacks just enough of them to hold the
        entries wanted (their entry counts say how many), and stops once that many are
        newer than the newest entry any unread block can hold. Filters that skip entries
        inside blocks, or blocks that overlap in time, take further rounds, each reading
        twice as many entries' worth.
        """
        block_where, block_params = _block_conditions(filters)
        entry_where, entry_params = _entry_conditions(filters)
        wanted = filters.offset + filters.limit + 1
        found: list[dict[str, Any]] = []
        # Entry filters keep only some of a block's entries: start with more of them. A
        # substring is tested on a block's whole text to pick it: look at fewer at a time.
        enough = wanted * (Q_READ_FACTOR if filters.q else 1)
        headers = Q_SEARCH_HEADERS if filters.q else SEARCH_HEADERS
        # A block holds this many entries of the level asked for.
        count = LEVEL_COUNTS[filters.level] if filters.level else "entry_count"
        # Where SQL can only narrow the filters down, Python decides, so every candidate
        # leaves the database.
        python_test = _python_test(filters)
        sent = wanted if python_test is None else MAX_ENTRIES_PER_ROUND
        after: tuple[int, str] | None = None  # the oldest block read so far (keyset)
        while True:
            where, params = block_where, list(block_params)
            if after is not None:
                where += " AND (last_ts < ? OR (last_ts = ? AND id < ?))"
                params += [after[0], after[0], after[1]]
            rows = self.db.query(
                "WITH headers AS (SELECT id, last_ts, first_ts, "  # noqa: S608 - fixed fragments
                f"sum({count}) OVER (ORDER BY last_ts DESC, id DESC) - {count} AS before, "
                "sum(entry_count) OVER (ORDER BY last_ts DESC, id DESC) - entry_count "
                "AS before_all "
                f"FROM log_blocks WHERE {where} ORDER BY last_ts DESC, id DESC LIMIT ?), "
                # The newest blocks that hold enough entries, and those overlapping them in
                # time within the overlap budget: both newest first, so chosen is too.
                "overlap AS (SELECT min(first_ts) AS since FROM headers WHERE before < ?), "
                "picked AS (SELECT id, last_ts, before < ? OR (before_all < ? AND last_ts >= "
                "(SELECT since FROM overlap)) AS read FROM headers), "
                "chosen AS (SELECT id, last_ts FROM picked WHERE read), "
                "oldest AS (SELECT id, last_ts FROM chosen ORDER BY last_ts, id LIMIT 1) "
                "SELECT (SELECT count(*) FROM headers) AS headers_read, "
                "(SELECT max(last_ts) FROM picked WHERE NOT read) AS next_last_ts, "
                "(SELECT last_ts FROM oldest) AS oldest_last_ts, "
                "(SELECT id FROM oldest) AS oldest_id, "
                f"{_BLOCK_COLUMNS}, {_ENTRY_COLUMNS} "
                "FROM chosen JOIN log_blocks AS b ON b.id = chosen.id "
                f"LEFT JOIN json_each(b.entries) AS e ON e.type != 'null' AND {entry_where} "
                # Only the newest entries wanted leave the database: an entry older than
                # that many of this round's can be in no answer.
                "ORDER BY timestamp DESC, entry_id DESC LIMIT ?",
                (
                    *params,
                    headers,
                    enough,
                    enough,
                    OVERLAP_ENTRIES,
                    *entry_params,
                    sent,
                ),
            )
            if not rows:
                break  # no block left
            entries = [_entry(row) for row in rows if row["position"] is not None]
            found += entries if python_test is None else filter(python_test, entries)
            first = rows[0]
            if first["next_last_ts"] is None and first["headers_read"] < headers:
                break  # every matching block has been read
            # No unread block holds an entry newer than its own newest: the next header's,
            # or (every header was read) at most the oldest block read.
            bound = first["next_last_ts"]
            if bound is None:
                bound = first["oldest_last_ts"]
            if sum(1 for entry in found if entry["timestamp"] > bound) >= wanted:
                break  # blocks not yet read hold nothing newer than these
            # Read twice as much next round, after the oldest block read: a search that finds
            # little (a rare substring) covers the index in a few rounds, each one round trip.
            after = (first["oldest_last_ts"], first["oldest_id"])
            enough = min(enough * 2, MAX_ENTRIES_PER_ROUND)
            headers = min(headers * 2, MAX_HEADERS_PER_ROUND)
        found.sort(key=lambda entry: (entry["timestamp"], entry["id"]), reverse=True)
        end = filters.offset + filters.limit
        return found[filters.offset : end], len(found) > end

    def points(self, filters: SearchFilters) -> list[tuple[int, str, str, str, int]]:
        """Every matching entry as (timestamp, level, service, source, message bytes), in
        one query and without building entries: what metric queries count. Filters that
        SQL only narrows down (see _python_test) are not for this method."""
        block_where, block_params = _block_conditions(filters)
        entry_where, entry_params = _entry_conditions(filters)
        rows = self.db.query(
            "SELECT json_extract(e.value, '$[0]') AS t, "  # noqa: S608 - fixed fragments
            f"{_ENTRY_LEVEL} AS level, b.service_name AS service, b.source_type AS source, "
            "length(CAST(json_extract(e.value, '$[1]') AS BLOB)) AS bytes "
            f"FROM log_blocks AS b, json_each(b.entries) AS e WHERE {block_where} "
            f"AND e.type != 'null' AND {entry_where}",
            (*block_params, *entry_params),
        )
        return [(r["t"], r["level"], r["service"], r["source"], r["bytes"]) for r in rows]

    def streams(self, start_ms: int, end_ms: int) -> list[tuple[str, str, str]]:
        """(service, source, level) of the entries between two times, from block headers
        alone (a block straddling an end counts whole)."""
        rows = self.db.query(
            "SELECT service_name, source_type, "  # noqa: S608 - fixed column names
            + ", ".join(f"sum({column}) AS {level}" for level, column in LEVEL_COUNTS.items())
            + " FROM log_blocks WHERE last_ts >= ? AND first_ts <= ? "
            "GROUP BY service_name, source_type",
            (start_ms, end_ms),
        )
        return [
            (row["service_name"], row["source_type"], level)
            for row in rows
            for level in LEVELS
            if row[level]
        ]

    def get(self, entry_id: str) -> dict[str, Any] | None:
        """The entry with this id, in one query: among the blocks of the time bucket its id
        carries, or (an entry written before ids were stored) by its block's primary key."""
        if not _ID.fullmatch(entry_id):
            return None
        timestamp = id_timestamp(entry_id)
        position = int(entry_id[32:], 16)
        rows = self.db.query(
            f"SELECT {_BLOCK_COLUMNS}, e.key AS position, e.value AS entry "  # noqa: S608 - fixed fragments
            "FROM log_blocks AS b JOIN json_each(b.entries) AS e "
            "WHERE b.last_ts >= ? AND b.last_ts <= ? AND b.first_ts <= ? "
            "AND instr(b.entries, ?) > 0 AND e.type = 'array' "
            "AND json_extract(e.value, '$[3]') = ? "
            f"UNION ALL SELECT {_BLOCK_COLUMNS}, CASE WHEN b.id = ? "
            "AND substr(b.id, 33, 4) != '0000' THEN 0 ELSE ? END AS position, "
            "json_extract(b.entries, CASE WHEN b.id = ? AND substr(b.id, 33, 4) != '0000' "
            "THEN '$[0]' ELSE ? END) AS entry FROM log_blocks AS b WHERE b.id IN (?, ?)",
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
            ),
        )
        for row in rows:
            if row["entry"] is None:
                continue
            timestamp, message, metadata, *stored = json.loads(row.pop("entry"))
            found = stored[0] if stored else entry_id_of(row["block_id"], row["position"])
            if found != entry_id:
                continue
            return _entry(
                {
                    **row,
                    "timestamp": timestamp,
                    "message": message,
                    "metadata": metadata or {},
                    "entry_id": found,
                    "entry_level": stored[1] if len(stored) > 1 else row["level"],
                }
            )
        return None

    def error_counts(self, service_name: str, start_ms: int, end_ms: int) -> dict[str, int]:
        """ERROR and CRITICAL entries of a service between two times (inclusive)."""
        wanted = ("ERROR", "CRITICAL")
        sql, params = _window_counts(service_name, start_ms, end_ms, wanted)
        rows = self.db.query(sql, params)
        return {level: sum(row[level] or 0 for row in rows) for level in wanted}

    def service_names(self) -> list[str]:
        rows = self.db.query("SELECT DISTINCT service_name FROM log_blocks ORDER BY 1")
        return [row["service_name"] for row in rows]

    def expire(self, service_name: str, cutoff_ms: int, batch_size: int) -> ExpiryStep:
        """One bounded step of deleting a service's entries older than cutoff_ms.

        Whole blocks older than the cutoff go; blocks that straddle it keep their newer
        entries, the older ones replaced by null so that positions (and ids) stay. Every
        step is idempotent, so concurrent or repeated runs agree.
        """
        deleted = self.db.query(
            "DELETE FROM log_blocks WHERE id IN (SELECT id FROM log_blocks "
            "WHERE service_name = ? AND last_ts < ? LIMIT ?) RETURNING entry_count",
            (service_name, cutoff_ms, batch_size),
        )
        straddling = self.db.query(
            "SELECT id, (SELECT count(*) FROM json_each(entries) WHERE type != 'null' "
            "AND json_extract(value, '$[0]') < ?) AS expired FROM log_blocks "
            "WHERE service_name = ? AND first_ts < ? AND last_ts >= ? LIMIT ?",
            (cutoff_ms, service_name, cutoff_ms, cutoff_ms, batch_size),
        )
        if straddling:
            self.db.execute(
                "UPDATE log_blocks SET "  # noqa: S608 - fixed fragments
                "entries = (SELECT json_group_array(CASE WHEN e.type = 'null' "
                "OR json_extract(e.value, '$[0]') < ? THEN NULL ELSE json(e.value) END) "
                "FROM json_each(log_blocks.entries) AS e), "
                "entry_count = (SELECT count(*) FROM json_each(log_blocks.entries) "
                "WHERE type != 'null' AND json_extract(value, '$[0]') >= ?), "
                f"{_RECOUNT_LEVELS}, "
                "first_ts = (SELECT min(json_extract(value, '$[0]')) "
                "FROM json_each(log_blocks.entries) WHERE type != 'null' "
                "AND json_extract(value, '$[0]') >= ?) "
                "WHERE id IN (SELECT value FROM json_each(?)) AND first_ts < ?",
                (
                    cutoff_ms,
                    cutoff_ms,
                    *[cutoff_ms] * len(LEVEL_COUNTS),
                    cutoff_ms,
                    json.dumps([row["id"] for row in straddling]),
                    cutoff_ms,
                ),
            )
        return ExpiryStep(
            entries=sum(row["entry_count"] for row in deleted)
            + sum(row["expired"] for row in straddling),
            finished=len(deleted) < batch_size and len(straddling) < batch_size,
        )

    def recent(self, service_name: str, limit: int) -> list[dict[str, Any]]:
        return self.search(SearchFilters(service=service_name, limit=limit))[0]

    def services(self) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT service_name, SUM(entry_count) AS log_count, MAX(last_ts) AS last_seen "
            "FROM log_blocks GROUP BY service_name ORDER BY service_name"
        )

    def stats(self, service_name: str, now_ms: int) -> dict[str, Any]:
        """Counts per level, overall and in the last 24 hours, and the time span, in one
        query: from the block headers, unpacking only blocks that straddle the 24-hour mark.
        """
        recent_sql, recent_params = _window_counts(service_name, now_ms - DAY_MS, 1 << 62)
        sampled = ", ".join(
            f"sum(CASE WHEN level = '{level}' THEN count END) AS {level}"
            if level in SAMPLED_LEVELS
            else f"0 AS {level}"
            for level in LEVELS
        )
        counts = ", ".join(f"sum({column}) AS {level}" for level, column in LEVEL_COUNTS.items())
        rows = self.db.query(
            f"SELECT 'all' AS part, {counts}, min(first_ts) AS first, max(last_ts) AS last "  # noqa: S608 - fixed fragments
            f"FROM log_blocks WHERE service_name = ? UNION ALL {recent_sql} UNION ALL "
            f"SELECT 'sampled' AS part, {sampled}, NULL AS first, NULL AS last "
            "FROM sampled_counts WHERE service_name = ?",
            (service_name, *recent_params, service_name),
        )
        levels = dict.fromkeys(LEVELS, 0)
        recent = dict.fromkeys(LEVELS, 0)
        left_out = dict.fromkeys(SAMPLED_LEVELS, 0)
        for row in rows:
            counts = {"all": levels, "window": recent, "sampled": left_out}[row["part"]]
            for level in counts:
                counts[level] += row[level] or 0
        total = next(row for row in rows if row["part"] == "all")
        return {
            "service_name": service_name,
            "total": sum(levels.values()),
            "levels": levels,
            "first_timestamp": total["first"],
            "last_timestamp": total["last"],
            "last_24h": {"total": sum(recent.values()), "levels": recent},
            "sampled_out": left_out,
        }

    def delete_sampled_counts_before(self, service_name: str, day: str) -> None:
        """Forget what sampling left out before a day (cleanup, with the hot window)."""
        self.db.execute(
            "DELETE FROM sampled_counts WHERE service_name = ? AND day < ?", (service_name, day)
        )


def _window_counts(
    service_name: str, start_ms: int, end_ms: int, levels: Sequence[str] = LEVELS
) -> tuple[str, tuple[Any, ...]]:
    """SQL for a service's entries per level between two times (inclusive): the counts of
    blocks wholly inside, and the entries of the blocks that straddle an end. Its rows have
    the columns part ('window'), one per level, first and last (NULL)."""
    inside = ", ".join(f"sum({LEVEL_COUNTS[level]}) AS {level}" for level in levels)
    straddling = ", ".join(f"sum(level = '{level}')" for level in levels)
    either = " OR ".join(f"{LEVEL_COUNTS[level]} > 0" for level in levels)
    sql = (
        f"SELECT 'window' AS part, {inside}, NULL AS first, NULL AS last FROM log_blocks "  # noqa: S608 - fixed fragments
        f"WHERE service_name = ? AND first_ts >= ? AND last_ts <= ? AND ({either}) "
        f"UNION ALL SELECT 'window', {straddling}, NULL, NULL "
        f"FROM (SELECT {_ENTRY_LEVEL} AS level "
        "FROM log_blocks AS b, json_each(b.entries) AS e "
        "WHERE b.service_name = ? AND b.last_ts >= ? AND b.first_ts <= ? "
        f"AND (b.first_ts < ? OR b.last_ts > ?) AND ({either}) AND e.type != 'null' "
        "AND json_extract(e.value, '$[0]') BETWEEN ? AND ?)"
    )
    params = (service_name, start_ms, end_ms, service_name, *(start_ms, end_ms) * 3)
    return sql, params


def _block_conditions(filters: SearchFilters) -> tuple[str, list[Any]]:
    """What can be decided from a block row alone (using the indexes where they help)."""
    conditions = _Conditions()
    conditions.add("service_name = ?", filters.service)
    conditions.add("last_ts >= ?", filters.start_time)
    conditions.add("first_ts <= ?", filters.end_time)
    if filters.level:  # a fixed column name: the block holds entries of this level
        conditions.add(f"{LEVEL_COUNTS[filters.level]} > 0")
    for needle in _raw_text_needles(filters):
        conditions.extend(*text_condition("entries", fold(needle)))
    return conditions.sql()


def _raw_text_needles(filters: SearchFilters) -> list[str]:
    """Texts a block's raw JSON must contain (ignoring case) to hold a match: a cheap pass
    that skips blocks before their entries are unpacked. JSON holds a text as it is, unless
    it escapes some of its characters (then no pass)."""
    needles = []
    if filters.q and not _JSON_ESCAPED.search(filters.q):
        needles.append(filters.q)
    for field_filter in filters.fields:
        value = field_filter.value
        if _JSON_ESCAPED.search(value):
            continue
        if field_filter.op == "~=":
            needles.append(value)
        elif field_filter.op == "=" and field_filter.number is None and not field_filter.literal:
            needles.append(f'"{value}"')  # a whole JSON string
    return needles


def _entry_conditions(filters: SearchFilters) -> tuple[str, list[Any]]:
    """What decides each entry of a block (Python finishes what SQL cannot: see
    _python_test)."""
    conditions = _Conditions()
    conditions.add(f"{_ENTRY_LEVEL} = ?", filters.level)
    conditions.add("json_extract(e.value, '$[0]') >= ?", filters.start_time)
    conditions.add("json_extract(e.value, '$[0]') <= ?", filters.end_time)
    if filters.q:
        conditions.extend(*text_condition("json_extract(e.value, '$[1]')", fold(filters.q)))
    for field_filter in filters.fields:
        conditions.extend(*field_filter.sql("e.value"))
    return conditions.sql()


def _python_test(filters: SearchFilters) -> Callable[[dict[str, Any]], bool] | None:
    """The test an entry must pass after SQL when SQL can only narrow the filters down
    (letters beyond ASCII, which SQLite's LIKE and lower() do not fold), else None."""
    q = fold(filters.q) if filters.q and needs_python_fold(filters.q) else None
    fields = [f for f in filters.fields if f.needs_python()]
    if q is None and not fields:
        return None
    return lambda entry: (
        (q is None or q in fold(entry["message"])) and matches_all(fields, entry["metadata"])
    )


class _Conditions:
    """Conditions ANDed together; values are bound, never spliced in."""

    def __init__(self) -> None:
        self.clauses: list[str] = ["1 = 1"]
        self.params: list[Any] = []

    def add(self, clause: str, value: Any = ...) -> None:
        """Add ``clause`` with its one value (left out when the value is None)."""
        if value is None:
            return
        self.extend(clause, [] if value is ... else [value])

    def extend(self, clause: str, params: list[Any]) -> None:
        self.clauses.append(clause)
        self.params += params

    def sql(self) -> tuple[str, list[Any]]:
        return " AND ".join(self.clauses), self.params


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


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    """A block's entry in the API's shape."""
    position = row["position"]
    block_id = row["block_id"]
    if "metadata" in row:
        metadata = row["metadata"]
    else:
        metadata = json.loads(row["metadata_json"]) if row["metadata_json"] else {}
    return {
        "id": row.get("entry_id") or entry_id_of(block_id, position),
        "service_name": row["service_name"],
        "level": row.get("entry_level") or row["level"],
        "message": row["message"],
        "timestamp": row["timestamp"],
        "r2_key": row["archive_key"],  # the API keeps the original's name
        "metadata": metadata,
        "source_type": row["source_type"],
    }
