"""Several index databases as one: how the index grows past one D1 database (10 GB each,
and Cloudflare's way to scale D1 is many databases).

Each service's blocks live in one database at a time, as the ``index_placements`` table
says (logsvc.store.placements): a new service goes where its blocks already are, else to
the emptiest database, and moves off one that passes its budget to one that is at most half
full (announced a minute ahead, so no reader misses its newest blocks). A read of some
services asks only the databases that hold or held them (every database for a service not
yet placed, and for reads of all services), in parallel, and merges the answers; cleanup
expires each database. Everything else (keys, configs, checkpoints, receipts, sampling's
tallies, placements) stays in the first database, DATABASE_URL: the writer sends a flush's
checkpoint with the first database's blocks, after the other databases' blocks are stored
(each with the checkpoint too, so a flush retried after a failure skips a database that has
its share already), and so stores nothing twice and loses nothing. Databases are numbered
by position: add new ones at the end of INDEX_SHARD_URLS, never reorder them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from logsvc.filters import SearchFilters
from logsvc.refreshed import Refreshed
from logsvc.sql import Statement
from logsvc.store.blocks import Block, Checkpoint, PreparedBatch
from logsvc.store.expiry import ExpiryStep
from logsvc.store.hot_windows import bytes_to_add
from logsvc.store.log_index import LogIndex
from logsvc.store.placements import MOVE_NOTICE_MS, MOVE_TO_FILL, Placements, current
from logsvc.store.stream_reads import Point, Stream, Tally, Valued

T = TypeVar("T")


class ShardedIndex:
    """LogIndex's interface over several LogIndexes (see the module)."""

    def __init__(self, shards: Sequence[LogIndex], placements: Placements):
        assert len(shards) > 1
        self.shards = list(shards)
        self.primary = self.shards[0]
        self.placements = placements
        self._placed = Refreshed(placements.read, {}, "index placements")
        self._placing = threading.Lock()
        # (database, stream) -> the last flush position stored there, read once while warm.
        self._checkpoints: dict[tuple[int, str], int | None] = {}
        self._pool = ThreadPoolExecutor(len(self.shards), thread_name_prefix="index-shard")

    def _each(
        self, read: Callable[[LogIndex], T], shards: Sequence[LogIndex] | None = None
    ) -> list[T]:
        """``read`` of every database (or of ``shards``), asked in parallel, in order."""
        return list(self._pool.map(read, self.shards if shards is None else shards))

    def _holding(self, services: Iterable[str] | None) -> list[LogIndex]:
        """The databases that hold or held blocks of ``services`` (None: of any)."""
        if services is None:
            return self.shards
        placed = self._placed.get()
        numbers: set[int] = set()
        for service in services:
            if service not in placed:
                return self.shards  # not placed yet (or by a writer since the last read)
            numbers.update(database for database, _ in placed[service])
        return [self.shards[n] for n in sorted(numbers) if n < len(self.shards)]

    def _for(self, filters: SearchFilters) -> list[LogIndex]:
        if filters.service is not None:
            return self._holding([filters.service])
        return self._holding(filters.services)

    # Writes: each block to its service's database.

    prepare = staticmethod(LogIndex.prepare)
    block_statement = staticmethod(LogIndex.block_statement)
    tally_statements = staticmethod(LogIndex.tally_statements)

    def write(
        self,
        batch: PreparedBatch,
        archive_keys: dict[str, str],
        also: Sequence[Statement] = (),
        checkpoint: Checkpoint | None = None,
    ) -> None:
        """Each block to its service's database; the first database last, with ``also``.
        A flush's share of another database goes with the flush's checkpoint there, and is
        skipped when that database's checkpoint says an earlier try stored it: so its
        blocks may take appends (PreparedBatch.appendable) as the first database's do.
        Without a checkpoint, another database's blocks keep their derived ids."""
        placed: dict[int, list[Block]] = {}
        adding = [0] * len(self.shards)  # bytes this batch brings to each database so far
        for block in batch.blocks:
            number = self._database_of(block.service_name, adding)
            placed.setdefault(number, []).append(block)
            adding[number] += block.size
        for number, blocks in placed.items():
            self._move_if_full(number, blocks)
        try:
            for number, blocks in sorted(placed.items()):
                if number != 0:
                    self._write_share(number, blocks, batch.appendable, archive_keys, checkpoint)
            # Last, with what goes with the blocks (a checkpoint, a receipt, a tally).
            first = PreparedBatch([], placed.get(0, []), batch.appendable)
            self.primary.write(first, archive_keys, also, checkpoint)
        except BaseException:
            self._checkpoints.clear()  # read again: a try may have stored more than known
            raise

    def _write_share(
        self,
        number: int,
        blocks: list[Block],
        appendable: bool,
        archive_keys: dict[str, str],
        checkpoint: Checkpoint | None,
    ) -> None:
        shard = self.shards[number]
        if checkpoint is None:  # a retry finds these blocks by their derived ids alone
            shard.write(PreparedBatch([], blocks, False), archive_keys)
            return
        key = (number, checkpoint.stream)
        if key not in self._checkpoints:
            self._checkpoints[key] = shard.checkpoint(checkpoint.stream)
        done = self._checkpoints[key]
        if done is not None and done >= checkpoint.position:
            return  # an earlier try of this flush stored them here
        shard.write(PreparedBatch([], blocks, appendable), archive_keys, checkpoint=checkpoint)
        self._checkpoints[key] = checkpoint.position

    def _database_of(self, service: str, adding: list[int]) -> int:
        """Where a service's new blocks go; placed now if it never was (``adding``: what
        this batch already brings to each database)."""
        now = self.placements.clock()
        rows = self._placed.get().get(service)
        if rows is None:
            with self._placing:
                self._placed.reset()  # another writer may have placed it meanwhile
                rows = self._placed.get().get(service)
                if rows is None:
                    self._place_first(service, now, adding)
                    self._placed.reset()
                    rows = self._placed.get()[service]
        number = current(rows, now)
        return number if number is not None and number < len(self.shards) else 0

    def _place_first(self, service: str, now: int, adding: list[int]) -> None:
        holders = self._each(lambda shard: shard.holds(service))
        if any(holders):  # an index that grew from one database: stay where the blocks are
            for number, holds in enumerate(holders):
                if holds:
                    self.placements.place(service, number, 0)
            return
        sizes = self._each(lambda shard: shard.hot_windows.size_bytes())
        sizes = [size + more for size, more in zip(sizes, adding, strict=True)]
        self.placements.place(service, sizes.index(min(sizes)), now)

    def _move_if_full(self, number: int, blocks: list[Block]) -> None:
        """Announce a move of the first service of ``blocks`` off database ``number`` when
        writing them would pass its budget and another database is at most half full (one
        move announced at a time)."""
        windows = self.shards[number].hot_windows
        if not windows.budget_bytes:
            return
        sizes = [block.size for block in blocks]
        adding = bytes_to_add(sizes, sum(sizes))  # as if it sealed them all
        if windows.size_bytes() + adding <= windows.budget_bytes:
            return
        now = self.placements.clock()
        placed = self._placed.get()
        if any(since > now for rows in placed.values() for _, since in rows):
            return  # a move is already on its way
        sizes = [shard.hot_windows.size_bytes() for shard in self.shards]
        emptiest = sizes.index(min(sizes))
        if emptiest == number or sizes[emptiest] > windows.budget_bytes * MOVE_TO_FILL:
            return
        with self._placing:
            self.placements.place(blocks[0].service_name, emptiest, now + MOVE_NOTICE_MS)
            self._placed.reset()

    def move(self, service: str, database: int) -> int:
        """An operator's move of ``service``'s new blocks to ``database`` (its number in
        DATABASE_URL then INDEX_SHARD_URLS, from 0), announced as the writer's own moves are;
        when it takes effect. Blocks already written stay where they are."""
        if not 0 <= database < len(self.shards):
            raise ValueError(f"database: {database} is not one of 0-{len(self.shards) - 1}")
        at = self.placements.clock() + MOVE_NOTICE_MS
        with self._placing:
            self.placements.place(service, database, at)
            self._placed.reset()
        return at

    def checkpoint(self, stream: str) -> int | None:
        return self.primary.checkpoint(stream)

    # Reads: every database, merged.

    def search(self, filters: SearchFilters) -> tuple[list[dict[str, Any]], bool]:
        end = filters.offset + filters.limit
        wanted = replace(filters, offset=0, limit=end)
        pages = self._each(lambda shard: shard.search(wanted), self._for(filters))
        found = [entry for entries, _ in pages for entry in entries]
        found.sort(key=lambda entry: (entry["timestamp"], entry["id"]), reverse=True)
        more = any(has_more for _, has_more in pages) or len(found) > end
        return found[filters.offset : end], more

    def recent(self, service_name: str, limit: int) -> list[dict[str, Any]]:
        return self.search(SearchFilters(service=service_name, limit=limit))[0]

    def get(self, entry_id: str) -> dict[str, Any] | None:
        return next((entry for entry in self._each(lambda s: s.get(entry_id)) if entry), None)

    def error_counts(self, service_name: str, start_ms: int, end_ms: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        shards = self._holding([service_name])
        for part in self._each(lambda s: s.error_counts(service_name, start_ms, end_ms), shards):
            for level, count in part.items():
                counts[level] = counts.get(level, 0) + count
        return counts

    def service_names(self) -> list[str]:
        return sorted({name for names in self._each(LogIndex.service_names) for name in names})

    def services(self) -> list[dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for rows in self._each(LogIndex.services):
            for row in rows:
                seen = merged.setdefault(row["service_name"], {**row, "log_count": 0})
                seen["log_count"] += row["log_count"] or 0
                seen["last_seen"] = _most(max, seen["last_seen"], row["last_seen"])
        return [merged[name] for name in sorted(merged)]

    def stats(self, service_name: str, now_ms: int) -> dict[str, Any]:
        # The first database too: sampling's tallies are kept there.
        shards = list(dict.fromkeys([self.primary, *self._holding([service_name])]))
        parts = self._each(lambda s: s.stats(service_name, now_ms), shards)
        merged = parts[0]
        for part in parts[1:]:
            merged["total"] += part["total"]
            merged["last_24h"]["total"] += part["last_24h"]["total"]
            for name in ("levels", "sampled_out"):
                for level, count in part[name].items():
                    merged[name][level] += count
            for level, count in part["last_24h"]["levels"].items():
                merged["last_24h"]["levels"][level] += count
            merged["first_timestamp"] = _most(
                min, merged["first_timestamp"], part["first_timestamp"]
            )
            merged["last_timestamp"] = _most(max, merged["last_timestamp"], part["last_timestamp"])
        return merged

    def points(self, filters: SearchFilters) -> list[Point]:
        parts = self._each(lambda s: s.points(filters), self._for(filters))
        return [point for part in parts for point in part]

    def values(
        self, filters: SearchFilters, line_paths: tuple[str, ...], metadata_paths: tuple[str, ...]
    ) -> list[Valued]:
        parts = self._each(
            lambda s: s.values(filters, line_paths, metadata_paths), self._for(filters)
        )
        return [value for part in parts for value in part]

    def tallies(self, filters: SearchFilters, origin: int, bucket_ms: int) -> list[Tally]:
        parts = self._each(lambda s: s.tallies(filters, origin, bucket_ms), self._for(filters))
        return [tally for part in parts for tally in part]

    def streams(self, start_ms: int, end_ms: int) -> list[Stream]:
        parts = self._each(lambda s: s.streams(start_ms, end_ms))
        return list(dict.fromkeys(stream for part in parts for stream in part))

    def block_values(
        self, column: str, start_ms: int, end_ms: int, services: frozenset[str] | None
    ) -> list[str]:
        parts = self._each(
            lambda s: s.block_values(column, start_ms, end_ms, services), self._holding(services)
        )
        return list(dict.fromkeys(value for part in parts for value in part))

    # Retention and the size budget: each database keeps its own.

    def expire(self, service_name: str, cutoff_ms: int, batch_size: int) -> ExpiryStep:
        steps = self._each(lambda s: s.expire(service_name, cutoff_ms, batch_size))
        finished = all(step.finished for step in steps)
        if finished:
            self._forget_emptied(service_name)
        return ExpiryStep(entries=sum(step.entries for step in steps), finished=finished)

    def seal_open(self, before_ms: int, limit: int) -> int:
        return sum(self._each(lambda s: s.seal_open(before_ms, limit)))

    def _forget_emptied(self, service: str) -> None:
        """Drop a moved service's rows for databases that no longer hold its blocks."""
        rows = self.placements.read().get(service, [])
        if len(rows) < 2:
            return
        now = self.placements.clock()
        keep = current(rows, now)
        for number, since in rows:
            if number != keep and since <= now and not self.shards[number].holds(service):
                self.placements.forget(service, number)

    def delete_sampled_counts_before(self, service_name: str, day: str) -> None:
        self.primary.delete_sampled_counts_before(service_name, day)

    def windows(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for part in self._each(LogIndex.windows):
            for service, since in part.items():
                merged[service] = max(since, merged.get(service, since))
        return merged

    def forget_window_before(self, service_name: str, cutoff_ms: int) -> None:
        self._each(lambda s: s.forget_window_before(service_name, cutoff_ms))

    def capacity(self) -> list[dict[str, Any]]:
        return [c for part in self._each(LogIndex.capacity) for c in part]


def _most(pick: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else pick(a, b)
