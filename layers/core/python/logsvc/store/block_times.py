"""Time summaries of sealed blocks: each stream's entry times and sizes, so that counts per
time bucket (Loki's count_over_time, rate, bytes_over_time and volumes over a bare
selector) read no entries (issue 30, "charts without unpacking"; migration 0013).

A sealed block (logsvc.store.sealing) has a row in ``block_times``, under its
``words_doc``: its service and source, ``since`` (its oldest entry's time) and
``streams``, a JSON array with one item per stream the block holds, ``[level, labels,
times, sizes]``: the stream's pushed labels as the index reads them (JSON text, or null),
its entries' times in ms after ``since`` in ascending order, and their message sizes in
bytes. All of it is computed in SQL from the stored
entries when the block is sealed (SUMMARY), so it costs no bytes on the wire, and computed
again when expiry changes the block's entries.

Counting a bucket is then a binary search in a stream's times. Blocks without a summary
(open ones, and those sealed before migration 0013) are counted from their entries in SQL,
as before.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any

import orjson

from logsvc.filters import SearchFilters
from logsvc.sql import Statement
from logsvc.store.blocks import ENTRY_LEVEL

# One row per entry of the block row ``b``: its stream, time and message size.
_ENTRIES = (
    f"SELECT {ENTRY_LEVEL} AS level, json_extract(e.value, '$[2].labels') AS labels, "  # noqa: S608 - fixed fragments
    "json_extract(e.value, '$[0]') - b.first_ts AS at, "
    "length(CAST(json_extract(e.value, '$[1]') AS BLOB)) AS size "
    "FROM json_each(b.entries) AS e WHERE e.type != 'null'"
)
# The block's streams, each with its entries' times in order and their message sizes in the
# same order.
SUMMARY = (
    "(SELECT json_group_array(json_array(s.level, s.labels, "  # noqa: S608 - fixed fragments
    "(SELECT json_group_array(at) FROM (SELECT at FROM (" + _ENTRIES + ") "
    "WHERE level = s.level AND labels IS s.labels ORDER BY at)), "
    "(SELECT json_group_array(size) FROM (SELECT size FROM (" + _ENTRIES + ") "
    "WHERE level = s.level AND labels IS s.labels ORDER BY at, size)))) "
    "FROM (SELECT DISTINCT level, labels FROM (" + _ENTRIES + ")) AS s)"
)


def write_statement(blocks: str, params: Iterable[object]) -> Statement:
    """(Re)write the summaries of the blocks ``blocks`` selects (a WHERE condition on the
    block row ``b``)."""
    return Statement(
        "INSERT OR REPLACE INTO block_times (doc, service_name, source_type, since, streams) "  # noqa: S608 - fixed fragments
        f"SELECT b.words_doc, b.service_name, b.source_type, b.first_ts, {SUMMARY} "
        f"FROM log_blocks AS b WHERE b.words_doc IS NOT NULL AND {blocks}",
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


def nth_newest(docs: str, filters: SearchFilters, n: int) -> tuple[str, list[Any]]:
    """SQL for the time of the ``n``-th newest entry matching the filters' level and time
    range in the summaries of the blocks ``docs`` (SQL selecting their words_doc) names
    (NULL when they hold fewer), and its parameters after those of ``docs``."""
    level = "json_extract(s.value, '$[0]') = ?" if filters.level else "1 = 1"
    start = filters.start_time if filters.start_time is not None else -(1 << 62)
    end = filters.end_time if filters.end_time is not None else 1 << 62
    sql = (
        "(SELECT t.since + at.value FROM block_times AS t, json_each(t.streams) AS s, "  # noqa: S608 - fixed fragments
        f"json_each(s.value, '$[2]') AS at WHERE t.doc IN ({docs}) AND {level} "
        "AND t.since + at.value BETWEEN ? AND ? ORDER BY 1 DESC LIMIT 1 OFFSET ?)"
    )
    return sql, [*([filters.level] if filters.level else []), start, end, n - 1]


def count(
    rows: Iterable[dict[str, Any]],
    level: str | None,
    start: int,
    end: int,
    origin: int,
    bucket_ms: int,
) -> dict[tuple[int, str, str, str, str | None], list[int]]:
    """Entries and bytes per (bucket, level, service, source, labels) of summary rows, for
    entries of ``level`` (None: any) between ``start`` and ``end`` (inclusive, at or after
    ``origin``): bucket n holds [origin + n * bucket_ms, origin + (n + 1) * bucket_ms)."""
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
