"""Time summaries of sealed blocks: each stream's entry times and sizes, so that counts per
time bucket (Loki's count_over_time, rate, bytes_over_time and volumes over a bare
selector) read no entries (issue 30, "charts without unpacking"; migration 0013).

A sealed block (logsvc.store.sealing) has a row in ``block_times``: its service and
source, ``since`` (its oldest entry's time) and ``streams``, a JSON array with one item per
stream the block holds, ``[level, labels, offsets, sizes]``: the stream's pushed labels as
the index reads them (JSON text, or null), its entries' times in ms after ``since`` in
ascending order, and their message sizes in bytes, summed so far (cumulative). All of it is
computed in SQL from the stored entries when the block is sealed (SUMMARY), so it costs no
bytes on the wire, and computed again when expiry changes the block's entries.

Counting a bucket is then two binary searches in a stream's times; the bytes, a difference
of two sums. Blocks without a summary (open ones, and those sealed before migration 0013)
are counted from their entries in SQL, as before.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any

import orjson

from logsvc.sql import Statement
from logsvc.store.blocks import ENTRY_LEVEL

# One row per entry of the block row ``b``: its stream, time and message size.
_ENTRIES = (
    f"SELECT {ENTRY_LEVEL} AS level, json_extract(e.value, '$[2].labels') AS labels, "  # noqa: S608 - fixed fragments
    "json_extract(e.value, '$[0]') - b.first_ts AS at, "
    "length(CAST(json_extract(e.value, '$[1]') AS BLOB)) AS size "
    "FROM json_each(b.entries) AS e WHERE e.type != 'null'"
)
# The block's streams, each with its times in order and its cumulative sizes.
SUMMARY = (
    "(SELECT json_group_array(json_array(s.level, s.labels, "  # noqa: S608 - fixed fragments
    "(SELECT json_group_array(at) FROM (SELECT at FROM (" + _ENTRIES + ") "
    "WHERE level = s.level AND labels IS s.labels ORDER BY at)), "
    "(SELECT json_group_array(total) FROM (SELECT sum(size) OVER (ORDER BY at "
    "ROWS UNBOUNDED PRECEDING) AS total FROM (" + _ENTRIES + ") "
    "WHERE level = s.level AND labels IS s.labels ORDER BY at)))) "
    "FROM (SELECT DISTINCT level, labels FROM (" + _ENTRIES + ")) AS s)"
)


def write_statement(blocks: str, params: Iterable[object]) -> Statement:
    """(Re)write the summaries of the blocks ``blocks`` selects (a WHERE condition on the
    block row ``b``)."""
    return Statement(
        "INSERT OR REPLACE INTO block_times (id, service_name, source_type, since, streams) "  # noqa: S608 - fixed fragments
        f"SELECT b.id, b.service_name, b.source_type, b.first_ts, {SUMMARY} "
        f"FROM log_blocks AS b WHERE {blocks}",
        tuple(params),
    )


def delete_statement(blocks: str, params: Iterable[object]) -> Statement:
    """Delete the summaries of the blocks ``blocks`` (a WHERE condition on log_blocks)
    selects, before the blocks go."""
    return Statement(
        f"DELETE FROM block_times WHERE id IN (SELECT id FROM log_blocks WHERE {blocks})",  # noqa: S608 - fixed fragments
        tuple(params),
    )


def count(
    rows: Iterable[dict[str, Any]],
    level: str | None,
    start: int | None,
    end: int | None,
    origin: int,
    bucket_ms: int,
) -> dict[tuple[int, str, str, str, str | None], list[int]]:
    """Entries and bytes per (bucket, level, service, source, labels) of summary rows, for
    entries of ``level`` (None: any) between ``start`` and ``end`` (inclusive; None: no
    bound): bucket n holds [origin + n * bucket_ms, origin + (n + 1) * bucket_ms)."""
    counted: dict[tuple[int, str, str, str, str | None], list[int]] = {}
    for row in rows:
        since, service, source = row["since"], row["service_name"], row["source_type"]
        for stream_level, labels, offsets, sizes in orjson.loads(row["streams"]):
            if level is not None and stream_level != level:
                continue
            p = 0 if start is None else bisect_left(offsets, start - since)
            last = len(offsets) if end is None else bisect_right(offsets, end - since)
            while p < last:
                bucket = (since + offsets[p] - origin) // bucket_ms
                q = bisect_left(offsets, origin + (bucket + 1) * bucket_ms - since, p, last)
                key = (bucket, stream_level, service, source, labels)
                found = counted.get(key)
                size = sizes[q - 1] - (sizes[p - 1] if p else 0)
                if found is None:
                    counted[key] = [q - p, size]
                else:
                    found[0] += q - p
                    found[1] += size
                p = q
    return counted
