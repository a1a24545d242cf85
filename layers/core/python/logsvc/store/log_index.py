"""The log index: its reads and writes over block rows (the layout: logsvc.store.blocks;
the filters' SQL: logsvc.store.block_sql), searched without unpacking everything.

Callers see only LogIndex's methods and dicts in the API's shape; readers reach it through
the querier (logsvc.querier), which also asks the archive past the index's hot window. Its
reads for Loki's streams and metrics (points, tallies, values, streams) are in
logsvc.store.stream_reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from logsvc.clock import DAY_MS
from logsvc.entries import LEVELS, SAMPLED_LEVELS, LogEntry
from logsvc.errors import DatabaseFull
from logsvc.filters import SearchFilters
from logsvc.sql import SqlDatabase, Statement
from logsvc.store import block_times
from logsvc.store.block_sql import block_conditions, entry_conditions, residual, window_counts
from logsvc.store.blocks import (
    BLOCK_COLUMNS,
    CHECKPOINT_SQL,
    ENTRY_COLUMNS,
    LEVEL_COUNTS,
    NO_ENTRY_COLUMNS,
    Block,
    Checkpoint,
    PreparedBatch,
    block_statement,
    entry_view,
    pack,
)
from logsvc.store.entry_lookup import find_entry
from logsvc.store.expiry import ExpiryStep, expire
from logsvc.store.hot_windows import HotWindows, bytes_to_add
from logsvc.store.open_blocks import OpenBlocks
from logsvc.store.packing import PACKED, matching
from logsvc.store.sealing import seal_statements
from logsvc.store.stream_reads import StreamReads
from logsvc.store.summary_cache import SummaryCache

# Searches look at this many block headers in their first round (index only, no entries
# read; each round after looks at twice as many): SEARCH_HEADERS where a round trip costs
# what D1's does, down to MIN_SEARCH_HEADERS on a local file, where the window sums over
# the headers are a good part of the round (about 2.5 us a header; the newest 50 errors of
# a busy service at 1,000,000 logs, in process: p50 5.97 ms with 256, 5.03 with 64).
SEARCH_HEADERS = 256
MIN_SEARCH_HEADERS = 64
HEADERS_PER_MS = 400
# A substring search reads this many times the entries wanted in its first round, and
# looks at this many headers a round (each costs a scan of the block's text).
Q_READ_FACTOR = 16
Q_SEARCH_HEADERS = 16
MAX_HEADERS_PER_ROUND = 65_536
# A round also reads the blocks that overlap in time the ones it needs (other services'
# blocks of the same flushes, blocks widened by late entries), as long as the newer blocks
# hold fewer entries than the database's round trip is worth (overlap_entries): each
# round is a request, and SQLite unpacks about ENTRIES_PER_MS entries a millisecond. On
# D1 that is OVERLAP_ENTRIES; on a local file, MIN_OVERLAP_ENTRIES (1,000,000 logs, the
# newest 50 errors of a busy service: 14.3 ms at 10,000, 3.6 at 2,000, 4.8 at 500 in two
# rounds). A text or field search keeps few of the entries it reads: it reads ahead as on
# D1.
OVERLAP_ENTRIES = 10_000
MIN_OVERLAP_ENTRIES = 2_000
ENTRIES_PER_MS = 500
MAX_ENTRIES_PER_ROUND = 1 << 40
# How far past the blocks that hold enough entries a search reads time summaries to bound
# the blocks worth reading: those holding this many times enough, and at least this many
# blocks (the newest are often open: they have none).
SUMMARIES_READ_AHEAD = 3
_TALLY_ROWS_PER_STATEMENT = 25  # 4 parameters a row, D1's limit of 100 a statement
# What a search round says beside each row: how far it read.
_ROUND = (
    "(SELECT count(*) FROM headers) AS headers_read, "
    "(SELECT max(last_ts) FROM picked WHERE NOT read) AS next_last_ts, "
    "(SELECT last_ts FROM oldest) AS oldest_last_ts, (SELECT id FROM oldest) AS oldest_id"
)


def search_headers(db: SqlDatabase) -> int:
    """How many block headers a search looks at in its first round on ``db``."""
    worth = int(db.round_trip_ms * HEADERS_PER_MS)
    return min(SEARCH_HEADERS, max(MIN_SEARCH_HEADERS, worth))


def overlap_entries(db: SqlDatabase) -> int:
    """How many entries of overlapping blocks a search round may read ahead on ``db``."""
    worth = int(db.round_trip_ms * ENTRIES_PER_MS)
    return min(OVERLAP_ENTRIES, max(MIN_OVERLAP_ENTRIES, worth))


class LogIndex(StreamReads):
    def __init__(
        self,
        db: SqlDatabase,
        budget_bytes: int | None = None,
        open_blocks: OpenBlocks | None = None,
    ):
        self.db = db
        self.search_headers = search_headers(db)
        self.summaries = SummaryCache()
        self.overlap_entries = overlap_entries(db)
        self.hot_windows = HotWindows(db, budget_bytes)
        # The writer's: small blocks take the next flushes' entries (logsvc.store.open_blocks).
        self.open_blocks = open_blocks

    @staticmethod
    def prepare(entries: list[LogEntry], batch_key: str | None = None) -> PreparedBatch:
        """Entries packed into blocks (logsvc.store.blocks.pack)."""
        return pack(entries, batch_key)

    def write(
        self,
        batch: PreparedBatch,
        archive_keys: dict[str, str],
        also: Sequence[Statement] = (),
        checkpoint: Checkpoint | None = None,
    ) -> None:
        """Index a prepared batch in one round trip; blocks already written are left as is.

        ``archive_keys`` names each service's archive object; ``also`` (a receipt, a
        tally) and a flush's ``checkpoint`` are sent after the blocks in the same request:
        D1 runs a batch as one transaction, so they are stored with the blocks or not at
        all."""
        appending = self.open_blocks is not None and batch.appendable
        if appending:
            statements, plans = self.open_blocks.statements(batch.blocks, archive_keys)
            sealed = sum(plan.sealed for plan in plans)
        else:  # written whole: sealed at once
            statements = [self.block_statement(block, archive_keys) for block in batch.blocks]
            statements += [
                s
                for block in batch.blocks
                for s in seal_statements(block.id, block.source_type, block.json())
            ]
            sealed = sum(block.size for block in batch.blocks)
        statements += also
        if checkpoint is not None:
            statements.append(self.checkpoint_statement(checkpoint))
        if not statements:
            return
        windows = self.hot_windows
        adding = bytes_to_add([block.size for block in batch.blocks], sealed)
        # Room first, so the budget is not passed even briefly.
        if windows.budget_bytes and windows.size_bytes() + adding > windows.budget_bytes:
            windows.make_room(adding)
        try:
            try:
                results = self.db.batch(statements)
            except DatabaseFull:
                if not windows.budget_bytes:
                    raise
                windows.make_room(adding, full=True)
                results = self.db.batch(statements)  # still full: the caller retries later
        except BaseException:
            if self.open_blocks is not None:
                self.open_blocks.forget()
            raise
        if appending:
            self.open_blocks.settle(plans, results)

    @staticmethod
    def block_statement(block: Block, archive_keys: dict[str, str]) -> Statement:
        return block_statement(block, archive_keys)

    @staticmethod
    def checkpoint_statement(checkpoint: Checkpoint) -> Statement:
        return Statement(
            CHECKPOINT_SQL, (checkpoint.stream, str(checkpoint.position), checkpoint.at_ms)
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
        block_where, block_params = block_conditions(filters)
        entry_where, entry_params = entry_conditions(filters)
        wanted = filters.offset + filters.limit + 1
        found: list[dict[str, Any]] = []
        # A text or field filter keeps few of a block's entries: start with more of them,
        # and read ahead as on D1. A substring is tested on a block's whole text to pick
        # it: look at fewer at a time.
        sparse = bool(filters.q or filters.fields)
        summarized = not sparse  # the time summaries answer the other filters
        enough = wanted * (Q_READ_FACTOR if sparse else 1)
        headers = Q_SEARCH_HEADERS if filters.q else self.search_headers
        # A block holds this many entries of the level asked for.
        count = LEVEL_COUNTS[filters.level] if filters.level else "entry_count"
        # Where SQL can only narrow the filters down, Python decides, so every candidate
        # leaves the database.
        undecided = residual(filters)
        sent = wanted if undecided is None else MAX_ENTRIES_PER_ROUND
        after: tuple[int, str] | None = None  # the oldest block read so far (keyset)
        while True:
            if filters.deadline is not None:
                filters.deadline.check()
            where, params = block_where, list(block_params)
            if after is not None:
                # One range on last_ts, so the time index answers alone: an OR of two
                # ranges made SQLite read each block's whole row (its entries) instead.
                where += " AND last_ts <= ? AND (last_ts < ? OR id < ?)"
                params += [after[0], after[0], after[1]]
            since, since_params = _overlap_since(filters, summarized, enough)
            # MATERIALIZED: each part computed once on any SQLite (D1's, like 3.50, inlines
            # a CTE used twice, running the window sums and the summaries again per use).
            rows = self.db.query(
                "WITH headers AS MATERIALIZED (SELECT id, last_ts, first_ts, words_doc, "  # noqa: S608 - fixed fragments
                "row_number() OVER (ORDER BY last_ts DESC, id DESC) AS n, "
                f"sum({count}) OVER (ORDER BY last_ts DESC, id DESC) - {count} AS before, "
                "sum(entry_count) OVER (ORDER BY last_ts DESC, id DESC) - entry_count "
                "AS before_all "
                f"FROM log_blocks WHERE {where} ORDER BY last_ts DESC, id DESC LIMIT ?), "
                # The newest blocks that hold enough entries, and those overlapping them in
                # time within the overlap budget: both newest first, so chosen is too.
                "needed AS MATERIALIZED (SELECT id, first_ts, words_doc, before_all FROM headers "
                "WHERE before < ?), "
                f"overlap AS MATERIALIZED (SELECT {since} AS since), "
                "picked AS MATERIALIZED (SELECT id, last_ts, "
                "before < ? OR (before_all < ? AND last_ts >= (SELECT since FROM overlap)) AS read "
                "FROM headers), "
                "chosen AS MATERIALIZED (SELECT id, last_ts FROM picked WHERE read), "
                "oldest AS MATERIALIZED "
                "(SELECT id, last_ts FROM chosen ORDER BY last_ts, id LIMIT 1) "
                f"SELECT * FROM (SELECT {_ROUND}, {BLOCK_COLUMNS}, {ENTRY_COLUMNS}, "
                "NULL AS packed FROM chosen JOIN log_blocks AS b ON b.id = chosen.id "
                f"LEFT JOIN json_each(b.entries) AS e ON e.type != 'null' AND {entry_where} "
                # Only the newest entries wanted leave the database: an entry older than
                # that many of this round's can be in no answer.
                "ORDER BY timestamp DESC, entry_id DESC LIMIT ?) "
                # Packed blocks whole (logsvc.store.packing): their entries are read here.
                f"UNION ALL SELECT {_ROUND}, {BLOCK_COLUMNS}, {NO_ENTRY_COLUMNS}, {PACKED} "
                "FROM chosen JOIN log_blocks AS b ON b.id = chosen.id "
                "WHERE b.packed IS NOT NULL",
                (
                    *params,
                    headers,
                    enough,
                    *since_params,
                    enough,
                    OVERLAP_ENTRIES if sparse else self.overlap_entries,
                    *entry_params,
                    sent,
                ),
            )
            if not rows:
                break  # no block left
            entries = [entry_view(row) for row in rows if row["position"] is not None]
            found += entries if undecided is None else filter(undecided, entries)
            for row in rows:
                if row["packed"] is not None:
                    found += matching(row, filters, newest=wanted)
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

    def get(self, entry_id: str) -> dict[str, Any] | None:
        """The entry with this id (logsvc.store.entry_lookup)."""
        return find_entry(self.db, entry_id)

    def error_counts(self, service_name: str, start_ms: int, end_ms: int) -> dict[str, int]:
        """ERROR and CRITICAL entries of a service between two times (inclusive)."""
        wanted = ("ERROR", "CRITICAL")
        sql, params = window_counts(service_name, start_ms, end_ms, wanted)
        rows = self.db.query(sql, params)
        return {level: sum(row[level] or 0 for row in rows) for level in wanted}

    def holds(self, service_name: str) -> bool:
        """Whether any block of the service is here (one index seek)."""
        rows = self.db.query(
            "SELECT 1 AS found FROM log_blocks WHERE service_name = ? LIMIT 1", (service_name,)
        )
        return bool(rows)

    def service_names(self) -> list[str]:
        rows = self.db.query("SELECT DISTINCT service_name FROM log_blocks ORDER BY 1")
        return [row["service_name"] for row in rows]

    def expire(self, service_name: str, cutoff_ms: int, batch_size: int) -> ExpiryStep:
        """One bounded step of deleting a service's entries older than cutoff_ms
        (logsvc.store.expiry)."""
        return expire(self.db, service_name, cutoff_ms, batch_size)

    def seal_open(self, before_ms: int, limit: int) -> int:
        """Seal up to ``limit`` blocks still open whose newest entry is older than
        ``before_ms`` (blocks a writer left open when it stopped: see
        logsvc.store.content_index); how many there were."""
        rows = self.db.query(
            "SELECT id, source_type, entries FROM log_blocks "
            "WHERE last_ts < ? AND words_doc IS NULL LIMIT ?",
            (before_ms, limit),
        )
        if rows:
            self.db.batch(
                [
                    s
                    for r in rows
                    for s in seal_statements(r["id"], r["source_type"], r["entries"].encode())
                ]
            )
        return len(rows)

    def windows(self) -> dict[str, int]:
        """The services whose hot window the size budget shrank: where each now starts."""
        return self.hot_windows.windows()

    def forget_window_before(self, service_name: str, cutoff_ms: int) -> None:
        self.hot_windows.forget_before(service_name, cutoff_ms)

    def capacity(self) -> list[dict[str, Any]]:
        """The database's size against its budget (one entry: ShardedIndex lists each)."""
        windows = self.hot_windows
        size = windows.size_bytes()
        budget = windows.budget_bytes or None
        return [
            {
                "bytes": size,
                "budget_bytes": budget,
                "fill": round(size / budget, 4) if budget else None,
            }
        ]

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
        recent_sql, recent_params = window_counts(service_name, now_ms - DAY_MS, 1 << 62)
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

    @staticmethod
    def tally_statements(tally: Mapping[tuple[str, str, str], int]) -> list[Statement]:
        """What adds sampling's tally ((service, day, level) -> entries left out) to
        sampled_counts, in the request that stores the kept entries (none when empty)."""
        rows = sorted(tally.items())
        statements = []
        for start in range(0, len(rows), _TALLY_ROWS_PER_STATEMENT):
            chunk = rows[start : start + _TALLY_ROWS_PER_STATEMENT]
            statements.append(
                Statement(
                    "INSERT INTO sampled_counts (service_name, day, level, count) VALUES "  # noqa: S608 - placeholders only
                    + ", ".join("(?, ?, ?, ?)" for _ in chunk)
                    + " ON CONFLICT (service_name, day, level) "
                    "DO UPDATE SET count = count + excluded.count",
                    tuple(
                        value
                        for (service, day, level), count in chunk
                        for value in (service, day, level, count)
                    ),
                )
            )
        return statements

    def delete_sampled_counts_before(self, service_name: str, day: str) -> None:
        """Forget what sampling left out before a day (cleanup, with the hot window)."""
        self.db.execute(
            "DELETE FROM sampled_counts WHERE service_name = ? AND day < ?", (service_name, day)
        )


def _overlap_since(filters: SearchFilters, summarized: bool, enough: int) -> tuple[str, list[Any]]:
    """SQL for the time before which no block need be read this round: the oldest entry of
    the ``needed`` blocks (those that hold enough entries), or, where the filters are what
    time summaries answer, the time of the ``enough``-th newest matching entry in the
    summaries of the newest blocks (SUMMARIES_READ_AHEAD): the answer holds nothing older
    (late entries make a block's oldest a loose bound)."""
    loose = "(SELECT min(first_ts) FROM needed)"
    if not summarized:
        return loose, []
    newest = "SELECT words_doc FROM headers WHERE before < ? OR n <= ?"
    tight, params = block_times.nth_newest(newest, filters, enough)
    return f"coalesce({tight}, {loose})", [
        enough * SUMMARIES_READ_AHEAD,
        SUMMARIES_READ_AHEAD,
        *params,
    ]
