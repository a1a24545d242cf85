"""The log index's reads for Loki's streams and metrics, over block rows: each entry's
time, labels and size (points), each stream's entries and bytes per time bucket (tallies),
an entry's values for unwrap (values), and the streams and block columns a time range
holds (label names and values). LogIndex has them; the querier asks them over both tiers
and reads the archive's part with the same helpers (read_values, labels_json)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from typing import Any

import orjson

from logsvc.entries import loads_json, pushed_labels
from logsvc.filters import SearchFilters
from logsvc.sql import SqlDatabase
from logsvc.store.block_sql import block_conditions, block_ids, entry_conditions
from logsvc.store.blocks import ENTRY_LEVEL, LEVEL_COUNTS
from logsvc.store.packing import PACKED, labels_value, matching, packed_block
from logsvc.store.summary_cache import SummaryCache

# The labels an agent pushed with an entry (logsvc.sources.loki_push keeps them under
# metadata.labels): Loki's stream labels beside service_name, level and source_type.
_PUSHED_LABELS = "json_extract(e.value, '$[2].labels')"
Point = tuple[int, str, str, str, int, str | None]  # time, level, service, source, bytes, labels
Stream = tuple[str, str, str, str | None]  # service, source, level, labels
# An entry's values for unwrap: time, level, service, source, labels, the value read from
# its line (None: absent), whether the line is a JSON object (None: not read), the value
# read from its metadata.
Valued = tuple[int, str, str, str, str | None, Any, bool | None, Any]
# A stream's entries and bytes in one time bucket: bucket number, level, service, source,
# labels, entries, bytes.
Tally = tuple[int, str, str, str, str | None, int, int]


def labels_json(labels: dict[str, Any] | None) -> str | None:
    """Pushed labels as the index returns them: JSON text (keys sorted), or None."""
    return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode() if labels else None


def read_values(
    timestamp: int,
    level: str,
    service: str,
    source: str,
    message: str,
    metadata: dict[str, Any],
    line_paths: tuple[str, ...],
    metadata_paths: tuple[str, ...],
) -> Valued:
    """An entry's values for unwrap (see LogIndex.values): read from the index's rows and
    the archive's entries alike."""
    is_object, line_value = None, None
    if line_paths:
        try:
            line = loads_json(message)
        except (ValueError, RecursionError):
            line = None
        is_object = isinstance(line, dict)
        line_value = json_path_value(line, line_paths) if is_object else None
    labels_text = labels_json(pushed_labels(metadata))
    # Structured metadata is read only where the line holds no such field.
    metadata_value = (
        json_path_value(metadata, metadata_paths)
        if line_value is None or isinstance(line_value, dict | list)
        else None
    )
    return (timestamp, level, service, source, labels_text, line_value, is_object, metadata_value)


def json_path_value(document: dict[str, Any], paths: tuple[str, ...]) -> Any:
    """The value at the first of ``paths`` (``$."a"."b"``) that holds one."""
    for path in paths:
        found: Any = document
        for step in _path_steps(path):
            found = found.get(step) if isinstance(found, dict) else None
        if found is not None:
            return found
    return None


@lru_cache(maxsize=256)
def _path_steps(path: str) -> tuple[str, ...]:
    return tuple(json.loads("[" + ",".join(path[2:].split(".")) + "]")) if path != "$" else ()


def _packed_rows(columns: str, block_where: str) -> str:
    """SQL: a row for each packed block ``block_where`` chooses (alias ``b``): ``columns``
    (in the place of a plain entry's), then its id and its packed entries, which the caller
    reads (logsvc.store.packing)."""
    return (
        f" UNION ALL SELECT {columns}, b.id, {PACKED} FROM log_blocks AS b "  # noqa: S608 - fixed fragments
        f"WHERE {block_where} AND b.packed IS NOT NULL"
    )


def _of(row: dict[str, Any]) -> tuple[str, str]:
    """A row's service and source."""
    return row["service"], row["source"]


def _packed_points(row: dict[str, Any], filters: SearchFilters) -> Iterator[Point]:
    """A packed block row's matching entries as ``points`` gives them: (time, level,
    service, source, message bytes, pushed labels)."""
    for entry in matching(packed_block(row), filters):
        size = len(entry["message"].encode("utf-8"))
        yield entry["timestamp"], entry["level"], *_of(row), size, labels_value(entry["metadata"])


def _bucket(timestamp: int, origin: int, bucket_ms: int) -> int:
    """The bucket SQL's CAST((t - origin) / bucket AS INTEGER) gives: toward zero."""
    after = timestamp - origin
    return after // bucket_ms if after >= 0 else -(-after // bucket_ms)


class StreamReads:
    """LogIndex's reads for Loki (see the module)."""

    db: SqlDatabase
    summaries: SummaryCache

    def points(self, filters: SearchFilters) -> list[Point]:
        """Every matching entry as (timestamp, level, service, source, message bytes, its
        pushed labels as JSON text or None), in one query and without building entries:
        what metric queries count. Filters that SQL only narrows down (see
        block_sql.residual) are not for this method."""
        block_where, block_params = block_ids(filters, "b")
        entry_where, entry_params = entry_conditions(filters)
        rows = self.db.query(
            "SELECT json_extract(e.value, '$[0]') AS t, "  # noqa: S608 - fixed fragments
            f"{ENTRY_LEVEL} AS level, b.service_name AS service, b.source_type AS source, "
            "length(CAST(json_extract(e.value, '$[1]') AS BLOB)) AS bytes, "
            f"{_PUSHED_LABELS} AS labels, NULL AS block_id, NULL AS packed "
            f"FROM log_blocks AS b, json_each(b.entries) AS e WHERE {block_where} "
            f"AND e.type != 'null' AND {entry_where} "
            + _packed_rows("NULL, b.level, b.service_name, b.source_type, NULL, NULL", block_where),
            (*block_params, *entry_params, *block_params),
        )
        found = []
        for r in rows:
            if r["packed"] is None:
                found.append(
                    (r["t"], r["level"], r["service"], r["source"], r["bytes"], r["labels"])
                )
                continue
            found += _packed_points(r, filters)
        return found

    def values(
        self, filters: SearchFilters, line_paths: tuple[str, ...], metadata_paths: tuple[str, ...]
    ) -> list[Valued]:
        """Every matching entry with the value at the first of ``line_paths`` that holds one
        in its line (the indexed message, when it is a JSON object; not read when there are
        no paths), whether the line is a JSON object, and the value at the first of
        ``metadata_paths`` in its metadata (JSON paths, ``$`` for the document): what an
        unwrap metric over JSON lines or structured metadata reads, without building
        entries. Each entry leaves SQL whole and is read once here (orjson): cheaper than
        asking SQLite for each part, which parses the entry's JSON for every one."""
        block_where, block_params = block_ids(filters, "b")
        entry_where, entry_params = entry_conditions(filters)
        rows = self.db.query(
            "SELECT b.level AS level, b.service_name AS service, "  # noqa: S608 - fixed fragments
            "b.source_type AS source, e.value AS entry, NULL AS block_id, NULL AS packed "
            f"FROM log_blocks AS b, json_each(b.entries) AS e WHERE {block_where} "
            f"AND e.type != 'null' AND {entry_where} "
            + _packed_rows("b.level, b.service_name, b.source_type, NULL", block_where),
            (*block_params, *entry_params, *block_params),
        )
        found = []
        for r in rows:
            if r["packed"] is not None:
                found += [
                    read_values(
                        entry["timestamp"],
                        entry["level"],
                        *_of(r),
                        entry["message"],
                        entry["metadata"],
                        line_paths,
                        metadata_paths,
                    )
                    for entry in matching(packed_block(r), filters)
                ]
                continue
            timestamp, message, metadata, *stored = loads_json(r["entry"])
            level = stored[1] if len(stored) > 1 else r["level"]
            found.append(
                read_values(
                    timestamp,
                    level,
                    r["service"],
                    r["source"],
                    message,
                    metadata or {},
                    line_paths,
                    metadata_paths,
                )
            )
        return found

    def tallies(self, filters: SearchFilters, origin: int, bucket_ms: int) -> list[Tally]:
        """Each stream's entries and message bytes per time bucket (bucket n holds
        [origin + n * bucket_ms, origin + (n + 1) * bucket_ms)), one row per stream and
        bucket, however many entries the range holds: from sealed blocks' time summaries
        where the filters are the block's alone (logsvc.store.block_times), and counted
        in SQL from the entries of the other blocks. Filters as for ``points``."""
        counted: dict[tuple[int, str, str, str, str | None], list[int]] = {}
        where, params = block_conditions(filters)
        others = ""
        if not filters.q and not filters.fields:  # what a summary answers
            # The same blocks but for their range: one chart's, however its range moves.
            ranged = replace(filters, start_time=None, end_time=None)
            selection_where, selection_params = block_conditions(ranged)
            counted, unsummarized = self.summaries.count(
                self.db,
                where,
                params,
                (selection_where, tuple(selection_params)),
                filters.level,
                filters.start_time,
                filters.end_time,
                origin,
                bucket_ms,
            )
            # The other blocks, chosen from the indexes alone (no block row read): the open
            # ones, and any sealed without a summary (sealed before migration 0013, or whose
            # entries do not fit points).
            others = (
                " AND NOT EXISTS (SELECT 1 FROM block_times AS t "
                "WHERE t.doc = log_blocks.words_doc)"
                if unsummarized
                else " AND words_doc IS NULL"
            )
        # The blocks chosen once, each entry's fields read once (MATERIALIZED: SQLite would
        # do both again for each use, parsing the entry each time: 2.4 ms for an open block
        # of 221 entries, 1.0 so), its time and level tested on them.
        unread = replace(filters, level=None, start_time=None, end_time=None)
        entry_where, entry_params = entry_conditions(unread)
        tested = [("level = ?", filters.level), ("at >= ?", filters.start_time)]
        tested.append(("at <= ?", filters.end_time))
        kept = " AND ".join(["1 = 1", *(test for test, value in tested if value is not None)])
        chosen = "b.id IN (SELECT id FROM chosen)"
        rows = self.db.query(
            f"WITH chosen AS MATERIALIZED (SELECT id FROM log_blocks WHERE {where}{others}), "  # noqa: S608 - fixed fragments
            "entry AS MATERIALIZED (SELECT json_extract(e.value, '$[0]') AS at, "
            f"{ENTRY_LEVEL} AS level, b.service_name AS service, b.source_type AS source, "
            f"{_PUSHED_LABELS} AS labels, "
            "length(CAST(json_extract(e.value, '$[1]') AS BLOB)) AS bytes "
            f"FROM log_blocks AS b, json_each(b.entries) AS e WHERE {chosen} "
            f"AND e.type != 'null' AND {entry_where}) "
            # CAST: D1 binds a JSON number as REAL, and REAL division keeps the fraction.
            "SELECT CAST((at - ?) / ? AS INTEGER) AS bucket, level, service, source, labels, "
            "count(*) AS entries, sum(bytes) AS bytes, NULL AS block_id, NULL AS packed "
            f"FROM entry WHERE {kept} GROUP BY 1, 2, 3, 4, 5"
            + _packed_rows(
                "NULL, b.level, b.service_name, b.source_type, NULL, NULL, NULL", chosen
            ),
            (
                *params,
                *entry_params,
                origin,
                bucket_ms,
                *(value for _, value in tested if value is not None),
            ),
        )
        for r in rows:
            if r["packed"] is not None:
                for timestamp, level, service, source, size, labels in _packed_points(r, filters):
                    key = (_bucket(timestamp, origin, bucket_ms), level, service, source, labels)
                    found = counted.setdefault(key, [0, 0])
                    found[0] += 1
                    found[1] += size
                continue
            key = (r["bucket"], r["level"], r["service"], r["source"], r["labels"])
            found = counted.setdefault(key, [0, 0])
            found[0] += r["entries"]
            found[1] += r["bytes"]
        return [(*key, entries, size) for key, (entries, size) in counted.items()]

    def block_values(
        self, column: str, start_ms: int, end_ms: int, services: frozenset[str] | None
    ) -> list[str]:
        """The distinct values of a block column (``service_name``, ``source_type``, or
        ``level``: the levels whose counts are not 0) between two times, from the time
        index alone: what a label's values are for the labels every entry has."""
        where = "last_ts >= ? AND first_ts <= ?"
        params: list[Any] = [start_ms, end_ms]
        if services is not None:
            where += " AND service_name IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(sorted(services)))
        if column == "level":
            present = ", ".join(f"max({c} > 0) AS {c}" for c in LEVEL_COUNTS.values())
            (row,) = self.db.query(
                f"SELECT {present} FROM log_blocks INDEXED BY idx_blocks_time WHERE {where}",  # noqa: S608 - fixed column names
                params,
            )
            return [level for level, c in LEVEL_COUNTS.items() if row[c]]
        assert column in ("service_name", "source_type")
        rows = self.db.query(
            f"SELECT DISTINCT {column} AS value FROM log_blocks INDEXED BY idx_blocks_time "  # noqa: S608 - fixed column names
            f"WHERE {where}",
            params,
        )
        return [r["value"] for r in rows]

    def streams(self, start_ms: int, end_ms: int) -> list[Stream]:
        """(service, source, level, pushed labels as JSON text or None) of each distinct
        stream between two times: from the streams each block row lists (a block that
        straddles an end counts whole), or, for blocks written before blocks listed them
        (migration 0009), from their entries."""
        rows = self.db.query(
            "SELECT DISTINCT b.service_name AS service, b.source_type AS source, "  # noqa: S608 - fixed fragments
            "json_extract(s.value, '$[0]') AS level, json_extract(s.value, '$[1]') AS labels "
            "FROM log_blocks AS b INDEXED BY idx_blocks_time, json_each(b.streams) AS s "
            "WHERE b.last_ts >= ? AND b.first_ts <= ? AND b.streams IS NOT NULL "
            "UNION SELECT DISTINCT b.service_name, b.source_type, "
            f"{ENTRY_LEVEL}, {_PUSHED_LABELS} "
            "FROM log_blocks AS b, json_each(b.entries) AS e "
            "WHERE b.last_ts >= ? AND b.first_ts <= ? AND b.streams IS NULL "
            "AND e.type != 'null' AND json_extract(e.value, '$[0]') BETWEEN ? AND ?",
            (start_ms, end_ms, start_ms, end_ms, start_ms, end_ms),
        )
        return [(r["service"], r["source"], r["level"], r["labels"]) for r in rows]
