"""Time summaries kept between reads (issue 30): a chart refreshed every few seconds asks
for the same day of summaries each time, and all but the newest few are the same.

A sealed block's summary (logsvc.store.block_times) changes only when expiry removes some
of its entries, which lowers the block's entry count, and block ids are never reused: a
summary read once is good for as long as its block has the same id and entry count. So a
read asks the index which sealed blocks it wants, with their ids and entry counts (from
the index on log_blocks alone, no summary row read), and reads from ``block_times`` only
the summaries it does not keep yet. On D1 that is a few new summaries a refresh instead
of every one in hex; on a local file it skips 1,640 row reads for a busy service's day.

Kept in memory up to MAX_BYTES, one cache per database (LogIndex has it); past it the
first kept go first (the oldest blocks, which expire first). A block with no summary
(sealed before migration 0013, or whose entries do not fit points) is kept as such: its
entries are counted instead.

What they count is kept too, per query (``count``): counts add up over blocks, so a chart
asked again with the same range reads and counts only the summaries of the blocks sealed
since (none, within a few seconds), and counts every summary again only when a block it
counted is gone or has lost entries. The QUERIES_KEPT latest queries a database and
process. A chart whose range moves (the same selection, a range a few seconds later) is
counted from a timeline of its points instead (logsvc.store.timelines; _from_timeline
decides when one is built).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

import orjson

from logsvc.sql import SqlDatabase
from logsvc.store import block_times, timelines
from logsvc.store.block_times import Counts, Summary

# A day of the busiest of 40 services at 150 logs a second is about 2.3 MB (1,640
# summaries of 1.2 KB, and their keys): 32 MB keeps a dashboard's worth, well within the
# search function's 512 MB.
MAX_BYTES = 32 * 1024 * 1024
# What one query reads: the summaries come back as one row, and D1 holds no text or BLOB
# over 2,000,000 bytes (its limits page: "maximum string, BLOB or table row size"), hex
# included; a day of the busiest service's points is 3.8 MB as hex. A summary takes
# about ANSWER_BYTES_PER_ENTRY a point there (7 bytes as 14 hex digits, or JSON times and
# sizes before migration 0015) and ANSWER_BYTES_PER_SUMMARY for its numbers and streams.
MAX_ANSWER_BYTES = 1_500_000
ANSWER_BYTES_PER_ENTRY = 16
ANSWER_BYTES_PER_SUMMARY = 200
# Blocks whose keys one query reads: a key is at most 36 + 1 + 4 characters, and 3 more in
# a JSON array (1.3 MB).
KEYS_PER_QUERY = 30_000
_OVERHEAD_BYTES = 200  # a kept summary's key, tuple and object headers
_UNKNOWN: Any = object()  # not kept
# Queries whose counts are kept: a dashboard's panels and services (a busy service's day by
# level is about 1,200 counts and 1,640 keys: some 300 KB a query).
QUERIES_KEPT = 32
# Points held in timelines (16 bytes each: about 48 MB), and past what share of a
# timeline's points the blocks new since it was built make it built again.
TIMELINE_POINTS = 3_000_000
NEW_POINTS_SHARE = 0.25


class _Counted(NamedTuple):
    """What one query's summaries counted: the blocks counted (their keys), whether any
    of them has no summary, and the counts."""

    keys: frozenset[str]
    unsummarized: bool
    counts: Counts


class SummaryCache:
    """Summaries read before, by block id and entry count (``id:count``), and what the
    latest queries counted of them."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.max_bytes = max_bytes
        self._kept: dict[str, Summary | None] = {}
        self._bytes = 0
        self._counted: OrderedDict[tuple[Any, ...], _Counted] = OrderedDict()
        self._timelines: OrderedDict[Hashable, timelines.Timeline | frozenset[str]] = OrderedDict()
        self._lock = threading.Lock()

    def count(
        self,
        db: SqlDatabase,
        blocks: str,
        params: Sequence[Any],
        selection: Hashable,
        level: str | None,
        start: int,
        end: int,
        origin: int,
        bucket_ms: int,
    ) -> tuple[Counts, bool]:
        """block_times.count over the summaries of the sealed blocks ``blocks`` (a WHERE
        condition on log_blocks) chooses, and whether any of them has none (its entries
        are to be counted). ``selection`` names what ``blocks`` chooses but its range (the
        same for every range of one chart)."""
        keys, entry_counts, docs = _keys(db, blocks, params)
        chosen = frozenset(keys)
        query = (blocks, tuple(params), level, start, end, origin, bucket_ms)
        with self._lock:
            before = self._counted.get(query)
        span = (level, start, end, origin, bucket_ms)
        if before is not None and before.keys <= chosen:
            # The blocks counted before are all there as they were: only the new ones.
            new = [n for n, key in enumerate(keys) if key not in before.keys]
            read = self._summaries(db, new, keys, entry_counts, docs)
            more = _count(read, *span)
            counted = _Counted(
                chosen, before.unsummarized or None in read, _added(before.counts, more)
            )
        else:
            counted = self._from_timeline(db, selection, chosen, keys, entry_counts, docs, span)
        with self._lock:
            self._counted[query] = counted
            self._counted.move_to_end(query)
            while len(self._counted) > QUERIES_KEPT:
                self._counted.popitem(last=False)
        fresh = {key: list(found) for key, found in counted.counts.items()}  # the caller adds
        return fresh, counted.unsummarized

    def _from_timeline(
        self,
        db: SqlDatabase,
        selection: Hashable,
        chosen: frozenset[str],
        keys: list[str],
        entry_counts: list[int],
        docs: list[int],
        span: tuple[str | None, int, int, int, int],
    ) -> _Counted:
        """Every block's count, from the selection's timeline where it answers (the blocks
        it does not hold counted beside it), else from the summaries. A timeline is built
        (logsvc.store.timelines) where the blocks asked share at least half with those
        asked before for the selection: a chart whose range moves, not one paged through
        history."""
        _, start, end, _, _ = span
        with self._lock:
            held = self._timelines.get(selection)  # a timeline, or the keys asked before
        if isinstance(held, timelines.Timeline) and timelines.answers(held, chosen, start, end):
            new = [n for n, key in enumerate(keys) if key not in held.keys]
            read = self._summaries(db, new, keys, entry_counts, docs)
            if _points(read) <= held.points * NEW_POINTS_SHARE:
                counts = _added(timelines.count(held, *span), _count(read, *span))
                return _Counted(chosen, None in read, counts)
        read = self._summaries(db, range(len(keys)), keys, entry_counts, docs)
        before = held.keys if isinstance(held, timelines.Timeline) else held
        moving = before is not None and 2 * len(before & chosen) >= len(chosen)
        whole = bool(read) and all(s is not None and s.packed for s in read)
        built = None
        if moving and whole and _points(read) <= TIMELINE_POINTS:
            built = timelines.build({k: s for k, s in zip(keys, read, strict=True) if s})
        with self._lock:
            self._timelines[selection] = chosen if built is None else built
            self._timelines.move_to_end(selection)
            self._trim_timelines()
        if built is None:
            return _Counted(chosen, None in read, _count(read, *span))
        return _Counted(chosen, False, timelines.count(built, *span))

    def _trim_timelines(self) -> None:
        def points(held: timelines.Timeline | frozenset[str]) -> int:
            return held.points if isinstance(held, timelines.Timeline) else 0

        total = sum(map(points, self._timelines.values()))
        while total > TIMELINE_POINTS or len(self._timelines) > QUERIES_KEPT:
            total -= points(self._timelines.popitem(last=False)[1])

    def _summaries(
        self,
        db: SqlDatabase,
        wanted: Sequence[int],
        keys: list[str],
        entry_counts: list[int],
        docs: list[int],
    ) -> list[Summary | None]:
        """The summaries of the blocks ``wanted`` (places in the lists _keys read), None for
        a block that has none: those kept, and the others read."""
        with self._lock:
            chosen = [self._kept.get(keys[n], _UNKNOWN) for n in wanted]
        missing = [n for n, summary in zip(wanted, chosen, strict=True) if summary is _UNKNOWN]
        found: dict[int, Summary | None] = {}
        for part in _parts(missing, entry_counts):
            (row,) = db.query(
                block_times.summaries_sql(db, "SELECT value FROM json_each(?)"),
                (json.dumps([docs[n] for n in part]),),
            )
            read = block_times.summaries(row)
            for n in part:
                found[n] = self._keep(keys[n], read.get(docs[n]))
        return [
            found[n] if summary is _UNKNOWN else summary
            for n, summary in zip(wanted, chosen, strict=True)
        ]

    def kept_bytes(self) -> int:
        """About how much memory the summaries kept take."""
        return self._bytes

    def _keep(self, key: str, summary: Summary | None) -> Summary | None:
        with self._lock:
            if key not in self._kept:
                self._kept[key] = summary
                self._bytes += _size(summary)
            while self._bytes > self.max_bytes and self._kept:  # the first kept go first
                dropped = self._kept.pop(next(iter(self._kept)))
                self._bytes -= _size(dropped)
        return summary


def _count(
    summaries: list[Summary | None],
    level: str | None,
    start: int,
    end: int,
    origin: int,
    bucket_ms: int,
) -> Counts:
    read = [summary for summary in summaries if summary is not None]
    return block_times.count(read, level, start, end, origin, bucket_ms) if read else {}


def _points(read: list[Summary | None]) -> int:
    """How many points the summaries ``read`` hold."""
    return sum(len(s.points) for s in read if s is not None) // block_times.POINT_BYTES


def _added(counts: Counts, more: Counts) -> Counts:
    """The sum of two counts (neither changed)."""
    added = dict(counts)
    for key, (entries, size) in more.items():
        entries_before, size_before = added.get(key, (0, 0))
        added[key] = [entries_before + entries, size_before + size]
    return added


def _keys(
    db: SqlDatabase, blocks: str, params: Sequence[Any]
) -> tuple[list[str], list[int], list[int]]:
    """The keys (``id:entry_count``), entry counts and summary docs of the sealed blocks
    ``blocks`` chooses, from the index on log_blocks alone, KEYS_PER_QUERY a query: a busy
    service's week is about 100,000 blocks, whose keys as one value would be past D1's
    2,000,000 bytes. Where one query holds them all, in the index's order (sorting a
    day's 1,600 by id cost as much as reading them); else oldest first, a run at a time."""
    row = _key_run(db, blocks, params, "")
    keys, counts, docs = (orjson.loads(row[c]) for c in ("keys", "counts", "docs"))
    if row["n"] < KEYS_PER_QUERY:
        return keys, counts, docs
    keys, counts, docs = [], [], []
    where, bound = blocks, list(params)
    while True:
        row = _key_run(db, where, bound, "ORDER BY last_ts, id")
        keys += orjson.loads(row["keys"])
        counts += orjson.loads(row["counts"])
        docs += orjson.loads(row["docs"])
        if row["n"] < KEYS_PER_QUERY:
            return keys, counts, docs
        # After the last block read: one range on last_ts, so the index answers alone.
        last_id = keys[-1].rsplit(":", 1)[0]
        where = f"{blocks} AND last_ts >= ? AND (last_ts > ? OR id > ?)"
        bound = [*params, row["last_ts"], row["last_ts"], last_id]


def _key_run(db: SqlDatabase, where: str, params: Sequence[Any], order: str) -> dict[str, Any]:
    """Up to KEYS_PER_QUERY sealed blocks' keys, entry counts and docs as JSON arrays, how
    many (``n``) and the newest block's last_ts."""
    (row,) = db.query(
        "SELECT json_group_array(id || ':' || entry_count) AS keys, "  # noqa: S608 - fixed fragments
        "json_group_array(entry_count) AS counts, json_group_array(words_doc) AS docs, "
        "max(last_ts) AS last_ts, count(*) AS n FROM (SELECT id, entry_count, words_doc, "
        f"last_ts FROM log_blocks WHERE {where} AND words_doc IS NOT NULL {order} LIMIT ?)",
        (*params, KEYS_PER_QUERY),
    )
    return row


def _parts(missing: list[int], counts: list[int]) -> list[list[int]]:
    """The blocks ``missing`` (places in ``counts``, their entry counts) in runs whose
    summaries one query can answer."""
    parts: list[list[int]] = []
    size = MAX_ANSWER_BYTES
    for n in missing:
        adding = ANSWER_BYTES_PER_SUMMARY + counts[n] * ANSWER_BYTES_PER_ENTRY
        if size + adding > MAX_ANSWER_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(n)
        size += adding
    return parts


def _size(summary: Summary | None) -> int:
    if summary is None:
        return _OVERHEAD_BYTES
    return _OVERHEAD_BYTES + len(summary.listing) + len(summary.points)
