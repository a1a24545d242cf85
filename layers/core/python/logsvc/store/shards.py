"""Several index databases as one: how the index grows past one D1 database (10 GB each,
and Cloudflare's way to scale D1 is many databases).

Each service's blocks live in one database, chosen from the service's name by rendezvous
hashing (``place``): the same on every instance with no table to keep, and adding a
database moves only the services that now rank it first (about 1/N of them). Their old
blocks stay where they were and are still found, because every read asks every database,
in parallel, and merges the answers; cleanup expires each database. Everything else
(keys, configs, checkpoints, receipts, sampling's tallies) stays in the first database,
DATABASE_URL: the writer sends a flush's checkpoint with the first database's blocks,
after the other databases' blocks are stored, so a flush retried after a failure stores
nothing twice (block ids derive from the flush) and loses nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from logsvc.filters import SearchFilters
from logsvc.sql import Statement
from logsvc.store.blocks import Block, PreparedBatch
from logsvc.store.log_index import ExpiryStep, LogIndex
from logsvc.store.stream_reads import Point, Stream, Tally, Valued

T = TypeVar("T")


def place(service_name: str, databases: Sequence[str]) -> int:
    """The database (its position in ``databases``, named by their URLs) that holds a
    service's new blocks: the one whose hash with the service's name is highest."""
    return max(
        range(len(databases)),
        key=lambda i: hashlib.sha256(f"{databases[i]}\x00{service_name}".encode()).digest(),
    )


class ShardedIndex:
    """LogIndex's interface over several LogIndexes (see the module)."""

    def __init__(self, shards: Sequence[LogIndex], names: Sequence[str]):
        assert len(shards) == len(names) > 1
        self.shards = list(shards)
        self.names = list(names)
        self.primary = self.shards[0]
        self._pool = ThreadPoolExecutor(len(self.shards), thread_name_prefix="index-shard")

    def shard_of(self, service_name: str) -> LogIndex:
        return self.shards[place(service_name, self.names)]

    def _each(self, read: Callable[[LogIndex], T]) -> list[T]:
        """``read`` of every database, asked in parallel, in database order."""
        return list(self._pool.map(read, self.shards))

    # Writes: each block to its service's database.

    prepare = staticmethod(LogIndex.prepare)
    block_statement = staticmethod(LogIndex.block_statement)
    checkpoint_statement = staticmethod(LogIndex.checkpoint_statement)
    tally_statements = staticmethod(LogIndex.tally_statements)

    def write(
        self,
        batch: PreparedBatch,
        archive_keys: dict[str, str],
        also: Sequence[Statement] = (),
    ) -> None:
        placed: dict[int, list[Block]] = {}
        for block in batch.blocks:
            placed.setdefault(place(block.service_name, self.names), []).append(block)
        for number, blocks in sorted(placed.items()):
            if number != 0:
                self.shards[number].write(PreparedBatch([], blocks), archive_keys)
        # Last, with what goes with the blocks (a checkpoint, a receipt, a tally).
        self.primary.write(PreparedBatch([], placed.get(0, [])), archive_keys, also)

    def checkpoint(self, stream: str) -> int | None:
        return self.primary.checkpoint(stream)

    # Reads: every database, merged.

    def search(self, filters: SearchFilters) -> tuple[list[dict[str, Any]], bool]:
        end = filters.offset + filters.limit
        wanted = replace(filters, offset=0, limit=end)
        pages = self._each(lambda shard: shard.search(wanted))
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
        for part in self._each(lambda s: s.error_counts(service_name, start_ms, end_ms)):
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
        parts = self._each(lambda s: s.stats(service_name, now_ms))
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
        return [p for part in self._each(lambda s: s.points(filters)) for p in part]

    def values(
        self, filters: SearchFilters, line_paths: tuple[str, ...], metadata_paths: tuple[str, ...]
    ) -> list[Valued]:
        parts = self._each(lambda s: s.values(filters, line_paths, metadata_paths))
        return [value for part in parts for value in part]

    def tallies(self, filters: SearchFilters, origin: int, bucket_ms: int) -> list[Tally]:
        parts = self._each(lambda s: s.tallies(filters, origin, bucket_ms))
        return [tally for part in parts for tally in part]

    def streams(self, start_ms: int, end_ms: int) -> list[Stream]:
        parts = self._each(lambda s: s.streams(start_ms, end_ms))
        return list(dict.fromkeys(stream for part in parts for stream in part))

    def block_values(
        self, column: str, start_ms: int, end_ms: int, services: frozenset[str] | None
    ) -> list[str]:
        parts = self._each(lambda s: s.block_values(column, start_ms, end_ms, services))
        return list(dict.fromkeys(value for part in parts for value in part))

    # Retention and the size budget: each database keeps its own.

    def expire(self, service_name: str, cutoff_ms: int, batch_size: int) -> ExpiryStep:
        steps = self._each(lambda s: s.expire(service_name, cutoff_ms, batch_size))
        return ExpiryStep(
            entries=sum(step.entries for step in steps),
            finished=all(step.finished for step in steps),
        )

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
