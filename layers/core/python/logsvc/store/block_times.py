"""Time summaries of sealed blocks: each stream's entry times and sizes, so that counts per
time bucket (Loki's count_over_time, rate, bytes_over_time and volumes over a bare
selector) read no entries (issue 30, "charts without unpacking"; migrations 0013, 0015).

A sealed block (logsvc.store.sealing) has a row in ``block_times``, under its
``words_doc``: its service and source, ``since`` (its oldest entry's time), ``streams``,
``points`` and ``times``. ``streams`` is ``[service, source, [[level, labels], ...]]``:
the block's streams (the pushed labels as the index reads them: JSON text, or null), the
same text for most blocks of a service. ``points`` holds every entry as seven bytes: a
big-endian uint32 of its time in ms after ``since``, a big-endian uint16 of its message's
size in bytes, and its stream's position in that list (a block spans at most
MAX_BLOCK_SPAN_MS, an indexed message is at most MAX_INDEXED_MESSAGE_CHARS characters, and
a block with more than MAX_STREAMS streams gets no summary): what counting reads, in
Python. ``times`` lists each stream's times (ms after ``since``, ascending) as ``[level,
labels, times]``: what SQL reads (listed_times), to bound a newest-first search
(nth_newest), find an entry of a packed block by its time and count a packed block that
straddles a day's end. All of it is computed in SQL from the stored entries when the block
is sealed (so it costs no bytes on the wire), and again when expiry changes the block's
entries.

Counting is then one pass over the points of every summary read, in numpy. Summaries
written before migration 0015 have neither points nor times and list each stream as
``[level, labels, times, sizes]`` in ``streams``: they are counted as before, with a
binary search per bucket, and their times read in SQL at the same place. Blocks without
a summary (open ones, those sealed before migration 0013, and any whose entries do not
fit points) are counted from their entries in SQL.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

from logsvc.filters import SearchFilters
from logsvc.sql import SqlDatabase, Statement, blob_bytes, blob_column
from logsvc.store.blocks import ENTRY_LEVEL

# A point as numpy reads it: time after the block's oldest entry, message size, stream.
POINT = [("at", ">u4"), ("size", ">u2"), ("stream", "u1")]
POINT_BYTES = 7
MAX_STREAMS = 256
_MAX_SPAN_MS = 1 << 32
_MAX_SIZE = (1 << 16) - 1
# Above this many (stream, bucket) cells, count them sorted rather than in one array.
_DENSE_CELLS = 1 << 22

# One row per entry of the block row ``b``: its stream, time and message size.
_ENTRIES = (
    f"SELECT {ENTRY_LEVEL} AS level, json_extract(e.value, '$[2].labels') AS labels, "  # noqa: S608 - fixed fragments
    "json_extract(e.value, '$[0]') - b.first_ts AS at, "
    "length(CAST(json_extract(e.value, '$[1]') AS BLOB)) AS size "
    "FROM json_each(b.entries) AS e WHERE e.type != 'null'"
)
# The block's streams, in the order of their positions.
_STREAMS = f"SELECT DISTINCT level, labels FROM ({_ENTRIES}) ORDER BY level, labels"  # noqa: S608 - fixed fragments
STREAMS = (
    "(SELECT json_array(b.service_name, b.source_type, "  # noqa: S608 - fixed fragments
    f"json_group_array(json_array(level, labels))) FROM ({_STREAMS}))"
)
# Each stream's times, ascending.
TIMES = (
    "(SELECT json_group_array(json_array(s.level, s.labels, "  # noqa: S608 - fixed fragments
    f"(SELECT json_group_array(at) FROM (SELECT at FROM ({_ENTRIES}) "
    "WHERE level = s.level AND labels IS s.labels ORDER BY at)))) "
    f"FROM ({_STREAMS}) AS s)"
)
# Every entry's time, size and stream position as hexadecimal digits.
POINTS = (
    "unhex(coalesce((SELECT group_concat(printf('%08X%04X%02X', e.at, e.size, s.n), '') "  # noqa: S608 - fixed fragments
    f"FROM ({_ENTRIES}) AS e JOIN (SELECT level, labels, "
    f"row_number() OVER (ORDER BY level, labels) - 1 AS n FROM ({_STREAMS})) AS s "
    "ON e.level = s.level AND e.labels IS s.labels), ''))"
)
# What fits the points: entries less than 2**32 ms apart, messages of fewer than 2**16
# bytes, no more than MAX_STREAMS streams.
_FITS = (
    f"b.last_ts - b.first_ts < {_MAX_SPAN_MS} "  # noqa: S608 - fixed fragments
    f"AND NOT EXISTS (SELECT 1 FROM ({_ENTRIES}) WHERE size > {_MAX_SIZE}) "
    f"AND (SELECT count(*) FROM ({_STREAMS})) <= {MAX_STREAMS}"
)


def summaries_sql(db: SqlDatabase, docs: str) -> str:
    """SQL for the summaries of the blocks whose words_doc ``docs`` (SQL) selects, as one
    row: each summary's doc, its ``since`` and its points' length in bytes (-1 for a
    summary written before migration 0015) as comma-separated numbers, its ``streams`` one
    a line (a summary written before as ``[service, source, streams]``), and all their
    points one after another (as ``db`` answers a BLOB best): read with ``summaries``.
    One row, not one a summary: a day of a busy service is 1,640 summaries, whose rows
    cost more than their points. Aggregates of one query see the rows in the same order,
    so the lists line up."""
    points = blob_column(db, "CAST(group_concat(points, '') AS BLOB)")
    return (
        "SELECT group_concat(doc) AS docs, group_concat(since) AS since, "  # noqa: S608 - fixed fragments
        "group_concat(coalesce(length(points), -1)) AS lengths, "
        "group_concat(CASE WHEN points IS NULL THEN json_array(service_name, source_type, streams) "
        f"ELSE streams END, char(10)) AS streams, {points} AS points "
        f"FROM block_times WHERE doc IN ({docs})"
    )


class Summary(NamedTuple):
    """One block's summary as count() reads it: ``since``, its ``listing`` (its streams
    line) and ``points`` (empty, and ``packed`` false, for a summary written before
    migration 0015, whose listing holds its times and sizes)."""

    since: int
    listing: str
    points: bytes
    packed: bool


def summaries(row: dict[str, Any]) -> dict[int, Summary]:
    """The summaries of a row read with summaries_sql, by doc."""
    if row["docs"] is None:
        return {}
    docs = [int(doc) for doc in row["docs"].split(",")]
    since = [int(at) for at in row["since"].split(",")]
    lengths = [int(length) for length in row["lengths"].split(",")]
    listings = row["streams"].split("\n")  # JSON text has no line breaks
    points = blob_bytes(row["points"] or b"")
    found: dict[int, Summary] = {}
    offset = 0
    for doc, at, length, listing in zip(docs, since, lengths, listings, strict=True):
        size = max(length, 0)
        found[doc] = Summary(at, listing, points[offset : offset + size], length >= 0)
        offset += size
    return found


def write_statement(blocks: str, params: Iterable[object]) -> Statement:
    """(Re)write the summaries of the blocks ``blocks`` selects (a WHERE condition on the
    block row ``b``)."""
    return Statement(
        "INSERT OR REPLACE INTO block_times "  # noqa: S608 - fixed fragments
        "(doc, service_name, source_type, since, streams, points, times) "
        f"SELECT b.words_doc, b.service_name, b.source_type, b.first_ts, {STREAMS}, {POINTS}, "
        f"{TIMES} "
        f"FROM log_blocks AS b WHERE b.words_doc IS NOT NULL AND {_FITS} AND {blocks}",
        tuple(params),
    )


def delete_statement(blocks: str, params: Iterable[object]) -> Statement:
    """Delete the summaries of the blocks ``blocks`` (a WHERE condition on log_blocks)
    selects, before the blocks go."""
    return Statement(
        "DELETE FROM block_times WHERE doc IN "  # noqa: S608 - fixed fragments
        f"(SELECT words_doc FROM log_blocks WHERE {blocks})",
        tuple(params),
    )


def listed_times(summary: str) -> str:
    """SQL FROM items for the times the summary ``summary`` (an alias of block_times) lists:
    one row per stream, ``s`` (its level ``json_extract(s.value, '$[0]')``), by one row per
    time of that stream, ``a`` (``a.value``, in ms after the summary's ``since``)."""
    return (
        f"json_each(coalesce({summary}.times, {summary}.streams)) AS s, "
        "json_each(s.value, '$[2]') AS a"
    )


def nth_newest(docs: str, filters: SearchFilters, n: int) -> tuple[str, list[Any]]:
    """SQL for the time of the ``n``-th newest entry matching the filters' level and time
    range in the summaries of the blocks ``docs`` (SQL selecting their words_doc) names
    (NULL when they hold fewer), and its parameters after those of ``docs``."""
    level = "json_extract(s.value, '$[0]') = ?" if filters.level else "1 = 1"
    start = filters.start_time if filters.start_time is not None else -(1 << 62)
    end = filters.end_time if filters.end_time is not None else 1 << 62
    sql = (
        f"(SELECT t.since + a.value FROM block_times AS t, {listed_times('t')} "  # noqa: S608 - fixed fragments
        f"WHERE t.doc IN ({docs}) AND {level} "
        "AND t.since + a.value BETWEEN ? AND ? ORDER BY 1 DESC LIMIT 1 OFFSET ?)"
    )
    return sql, [*([filters.level] if filters.level else []), start, end, n - 1]


Counts = dict[tuple[int, str, str, str, str | None], list[int]]


def count(
    read: list[Summary], level: str | None, start: int, end: int, origin: int, bucket_ms: int
) -> Counts:
    """Entries and bytes per (bucket, level, service, source, labels) of the summaries
    ``read``, for entries of ``level`` (None: any) between ``start`` and ``end``
    (inclusive, at or after ``origin``): bucket n holds [origin + n * bucket_ms, origin +
    (n + 1) * bucket_ms)."""
    packed = [summary for summary in read if summary.packed]
    counted = _count_packed(packed, level, start, end, origin, bucket_ms) if packed else {}
    if len(packed) == len(read):
        return counted
    listed = [
        dict(zip(("service_name", "source_type", "streams"), orjson.loads(s.listing), strict=True))
        | {"since": s.since}
        for s in read
        if not s.packed
    ]
    for key, (entries, size) in _count_listed(listed, level, start, end, origin, bucket_ms).items():
        found = counted.setdefault(key, [0, 0])
        found[0] += entries
        found[1] += size
    return counted


class Decoded(NamedTuple):
    """The points of summaries (all with points) as numpy reads them: each summary's
    ``since`` and number of points; each point's time after its summary's ``since`` (uint32),
    slot and message size (big-endian uint16); each slot's stream (its place in
    ``streams``: (level, service, source, labels))."""

    since: Any
    counts: Any
    at: Any
    slot: Any
    sizes: Any
    stream_of: Any
    streams: list[tuple[str, str, str, str | None]]


def decoded(read: list[Summary]) -> Decoded:
    """The points of the summaries ``read`` (each conversion from the packed big-endian
    fields goes through their own width first: numpy's direct casts of unaligned fields are
    ten times slower)."""
    import numpy as np  # here: 60-140 ms of a cold start, for the functions that count

    first_seen, listings, all_points, _ = zip(*read, strict=True)
    keys: dict[tuple[str, str, str, str | None], int] = {}  # a stream's number here
    named: list[int] = []  # per slot (a listing's place, then its streams): its stream's number
    places: dict[str, int] = {}  # a listing -> its first slot
    for listing in set(listings):
        service, source, streams = orjson.loads(listing)
        places[listing] = len(named)
        named += [
            keys.setdefault((stream_level, service, source, labels), len(keys))
            for stream_level, labels in streams
        ]
    points = np.frombuffer(b"".join(all_points), np.dtype(POINT))
    counts = np.array(list(map(len, all_points)), np.int64) // points.itemsize
    slot = points["stream"]  # a slot: the place of a listing's first stream, plus the position
    if len(places) > 1:
        first = np.fromiter(map(places.__getitem__, listings), np.int32, len(listings))
        slot = np.repeat(first, counts) + slot
    return Decoded(
        np.array(first_seen, np.int64),
        counts,
        points["at"].astype("=u4"),
        slot,
        points["size"],
        np.asarray(named),
        list(keys),
    )


def _count_packed(
    read: list[Summary], level: str | None, start: int, end: int, origin: int, bucket_ms: int
) -> Counts:
    """count() for summaries with points: every point in one numpy pass."""
    import numpy as np

    since, counts, at, slot, sizes, stream_of, streams = decoded(read)
    # Each point's time in ms after origin: as int32 where every one fits (half the memory
    # to go through), else int64.
    shift = since - origin
    late = int(at.max()) if len(at) else 0
    if late < 1 << 31 and shift.min() > -(1 << 31) and shift.max() + late < 1 << 31:
        at = at.view(np.int32)
        at += np.repeat(shift.astype(np.int32), counts)
    else:
        at = at.astype(np.int64)
        at += np.repeat(shift, counts)
    low, high = start - origin, end - origin
    kept = (at >= low) & (at <= high) if len(at) and (at.min() < low or at.max() > high) else None
    if level is not None:
        leveled = np.asarray([stream[0] == level for stream in streams])[stream_of][slot]
        kept = leveled if kept is None else kept & leveled
    if kept is not None:
        slot, at, sizes = slot[kept], at[kept], sizes[kept]
    buckets = (end - origin) // bucket_ms + 1
    sizes = sizes.astype("=u2")
    slots = len(stream_of)
    if slots * buckets <= _DENSE_CELLS:
        # Per slot and bucket, then the slots of each stream added up.
        cell = slot.astype(np.intp) * buckets
        cell += at // bucket_ms
        slot_cells = slots * buckets
        entries = np.bincount(cell, minlength=slot_cells)
        size = np.bincount(cell, sizes, minlength=slot_cells)
        if len(streams) < slots:  # the same stream in several listings
            shape = (slots, buckets)
            entries, size = entries.reshape(shape), size.reshape(shape)
            summed = np.zeros((len(streams), buckets), np.int64), np.zeros((len(streams), buckets))
            np.add.at(summed[0], stream_of, entries)
            np.add.at(summed[1], stream_of, size)
            entries, size = summed[0].ravel(), summed[1].ravel()
        cells = np.flatnonzero(entries)
        entries, size = entries[cells], size[cells]
    else:
        cells, index, entries = np.unique(
            stream_of[slot] * buckets + at // bucket_ms, return_inverse=True, return_counts=True
        )
        size = np.bincount(index, sizes)
    return {
        (c % buckets, *streams[c // buckets]): [n, round(b)]
        for c, n, b in zip(cells.tolist(), entries.tolist(), size.tolist(), strict=True)
    }


def _count_listed(
    rows: list[dict[str, Any]], level: str | None, start: int, end: int, origin: int, bucket_ms: int
) -> Counts:
    """count() for summaries written before migration 0015: times and sizes listed in
    JSON, a binary search per stream and bucket."""
    buckets = (end - origin) // bucket_ms + 1
    streams: dict[tuple[str, str, str, str | None], tuple[list[int], list[int]]] = {}
    for row in rows:
        since, service, source = row["since"], row["service_name"], row["source_type"]
        shift = since - origin  # a time in ms after since, in ms after origin
        for stream_level, labels, times, sizes in orjson.loads(row["streams"]):
            if level is not None and stream_level != level:
                continue
            p = bisect_left(times, start - since)
            last = bisect_right(times, end - since)
            if p >= last:
                continue
            key = (stream_level, service, source, labels)
            if key not in streams:
                streams[key] = ([0] * buckets, [0] * buckets)
            entries, size = streams[key]
            while p < last:
                bucket = (times[p] + shift) // bucket_ms
                q = bisect_left(times, (bucket + 1) * bucket_ms - shift, p, last)
                entries[bucket] += q - p
                size[bucket] += sum(sizes[p:q])
                p = q
    return {
        (bucket, *key): [entries[bucket], size[bucket]]
        for key, (entries, size) in streams.items()
        for bucket in range(buckets)
        if entries[bucket]
    }
