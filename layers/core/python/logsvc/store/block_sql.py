"""The index's SQL for the one filter model (logsvc.filters): what a block row decides,
what each entry of a block decides, and what only Python can decide (the residual)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from logsvc.entries import LEVELS
from logsvc.field_filters import FieldFilter, fold, text_condition
from logsvc.filters import Predicate, SearchFilters
from logsvc.store import block_times, content_index
from logsvc.store.blocks import ENTRY_LEVEL, LEVEL_COUNTS

# JSON escapes these, so the raw block text cannot be searched for them.
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')


def window_counts(
    service_name: str, start_ms: int, end_ms: int, levels: Sequence[str] = LEVELS
) -> tuple[str, tuple[Any, ...]]:
    """SQL for a service's entries per level between two times (inclusive): the counts of
    blocks wholly inside, and the entries of the blocks that straddle an end. Its rows have
    the columns part ('window'), one per level, first and last (NULL)."""
    inside = ", ".join(f"sum({LEVEL_COUNTS[level]}) AS {level}" for level in levels)
    straddling = ", ".join(f"sum(level = '{level}')" for level in levels)
    either = " OR ".join(f"{LEVEL_COUNTS[level]} > 0" for level in levels)
    straddling_blocks = (
        "service_name = ? AND last_ts >= ? AND first_ts <= ? "
        f"AND (first_ts < ? OR last_ts > ?) AND ({either})"
    )
    sql = (
        f"SELECT 'window' AS part, {inside}, NULL AS first, NULL AS last FROM log_blocks "  # noqa: S608 - fixed fragments
        f"WHERE service_name = ? AND first_ts >= ? AND last_ts <= ? AND ({either}) "
        f"UNION ALL SELECT 'window', {straddling}, NULL, NULL "
        f"FROM (SELECT {ENTRY_LEVEL} AS level "
        "FROM log_blocks AS b, json_each(b.entries) AS e "
        # The straddling blocks picked from the covering index first: with the conditions
        # beside json_each, SQLite read every block row of the range (85 ms for a service's
        # day of 413 blocks, none straddling; 0.15 ms so).
        f"WHERE b.id IN (SELECT id FROM log_blocks WHERE {straddling_blocks}) "
        "AND e.type != 'null' AND json_extract(e.value, '$[0]') BETWEEN ? AND ? "
        # Packed straddling blocks (no entries in SQL's reach): their time summaries.
        "UNION ALL SELECT json_extract(s.value, '$[0]') "
        f"FROM block_times AS t, {block_times.listed_times('t')} "
        "WHERE t.doc IN (SELECT p.words_doc FROM log_blocks AS p WHERE p.packed IS NOT NULL "
        f"AND p.id IN (SELECT id FROM log_blocks WHERE {straddling_blocks})) "
        "AND t.since + a.value BETWEEN ? AND ?)"
    )
    straddling = (service_name, start_ms, end_ms, start_ms, end_ms, start_ms, end_ms)
    params = (service_name, start_ms, end_ms, *straddling, *straddling)
    return sql, params


def block_conditions(filters: SearchFilters) -> tuple[str, list[Any]]:
    """What can be decided from a block row alone: a WHERE clause for a scan of
    ``log_blocks`` by that name (not an alias), answered from its indexes but for the
    text tests, which read the block's row only for the blocks the content index leaves.

    The row is read in a subquery of its own: log_blocks has no rowids, so a scan that
    needs a column outside the index reads every block's whole row, entries and all,
    before any other condition is tested (38 ms for 250,000 logs whatever the content
    index said; 2 ms so)."""
    conditions = _Conditions()
    conditions.add("service_name = ?", filters.service)
    if filters.services is not None:  # a key's services, before any text narrows the blocks
        conditions.add(
            "service_name IN (SELECT value FROM json_each(?))",
            json.dumps(sorted(filters.services)),
        )
    conditions.add("last_ts >= ?", filters.start_time)
    conditions.add("first_ts <= ?", filters.end_time)
    if filters.level:  # a fixed column name: the block holds entries of this level
        conditions.add(f"{LEVEL_COUNTS[filters.level]} > 0")
    pushed = [f for f in filters.fields if _pushed_label_equality(f)]
    if pushed:
        # Decided by the block's list of its streams (a few label sets), not its entries:
        # one stream must hold every label asked for (blocks written before blocks listed
        # their streams, migration 0009, are read).
        conditions.extend(
            "(streams IS NULL OR EXISTS (SELECT 1 FROM json_each(streams) AS s WHERE "  # noqa: S608 - fixed fragments, values bound
            + " AND ".join("json_extract(s.value, ?) = ?" for _ in pushed)
            + "))",
            [p for f in pushed for p in (f'$[1]."{f.keys[1]}"', f.value)],
        )
    # The content index first (see logsvc.store.content_index), then the raw text of the
    # blocks it leaves: one term, so that order holds.
    texts = _Conditions()
    for needle in _raw_text_needles(filters):
        texts.extend(*text_condition("r.entries", fold(needle)))
    # A packed block's text is not in SQL's reach (logsvc.store.packing): the reader tests
    # its entries once unpacked.
    row_test = (
        "(SELECT CASE WHEN r.packed IS NOT NULL THEN 1 ELSE "  # noqa: S608 - fixed fragments
        f"({texts.sql()[0]}) END FROM log_blocks AS r WHERE r.id = log_blocks.id)"
        if len(texts.clauses) > 1
        else None
    )
    by_content = content_index.block_condition(filters)
    if by_content is not None:
        content, content_params = by_content
        if row_test is None:
            conditions.extend(content, content_params)
        else:
            conditions.extend(
                f"CASE WHEN {content} THEN {row_test} ELSE 0 END",
                [*content_params, *texts.params],
            )
    elif row_test is not None:
        conditions.extend(row_test, texts.params)
    return conditions.sql()


def block_ids(filters: SearchFilters, alias: str, also: str = "") -> tuple[str, list[Any]]:
    """A condition that the block ``alias`` is one block_conditions chooses (and ``also``,
    more SQL on log_blocks, says): for reads that unpack every block chosen (the blocks
    picked from the indexes first)."""
    where, params = block_conditions(filters)
    return f"{alias}.id IN (SELECT id FROM log_blocks WHERE {where}{also})", params  # noqa: S608 - fixed fragments


def _pushed_label_equality(field_filter: FieldFilter) -> bool:
    """Whether a filter asks for a pushed label's value (metadata.labels.NAME=text): what
    each block row's streams list holds."""
    return (
        field_filter.op == "="
        and len(field_filter.keys) == 2
        and field_filter.keys[0] == "labels"
        and field_filter.number is None
        and not field_filter.literal
    )


def _raw_text_needles(filters: SearchFilters) -> list[str]:
    """Texts a block's raw JSON must contain (ignoring case) to hold a match: a cheap pass
    that skips blocks before their entries are unpacked. JSON holds a text as it is, unless
    it escapes some of its characters (then no pass)."""
    needles = []
    if filters.q and not _JSON_ESCAPED.search(filters.q):
        needles.append(filters.q)
    for field_filter in filters.fields:
        value = field_filter.value
        if _JSON_ESCAPED.search(value) or _pushed_label_equality(field_filter):
            continue
        if field_filter.op == "~=":
            needles.append(value)
        elif field_filter.op == "=" and field_filter.number is None and not field_filter.literal:
            needles.append(f'"{value}"')  # a whole JSON string
    return needles


def entry_conditions(filters: SearchFilters) -> tuple[str, list[Any]]:
    """What decides each entry of a block (Python finishes what SQL cannot: see
    residual)."""
    conditions = _Conditions()
    conditions.add(f"{ENTRY_LEVEL} = ?", filters.level)
    conditions.add("json_extract(e.value, '$[0]') >= ?", filters.start_time)
    conditions.add("json_extract(e.value, '$[0]') <= ?", filters.end_time)
    if filters.q:
        conditions.extend(*text_condition("json_extract(e.value, '$[1]')", fold(filters.q)))
    for field_filter in filters.fields:
        conditions.extend(*field_filter.sql("e.value"))
    return conditions.sql()


def residual(filters: SearchFilters) -> Predicate | None:
    """What an entry must still pass after the index's SQL (see SearchFilters.residual):
    the index decides most field filters in SQL itself."""
    return filters.residual(fields_in_sql=True)


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
