"""The archive's search, written once: one SQL query (produced for each engine's dialect by
sqlglot) that narrows the archive down, and the same Python test as the index's and live
tail's that decides.

Every engine reads a relation ``archive_logs`` with the archived entry's columns (``id``,
``service_name``, ``level``, ``message``, ``timestamp`` in Unix ms, ``metadata`` as JSON
text, ``source_type``); how it builds that relation from the objects (gzip NDJSON and
compacted Parquet) is the engine's business (logsvc.archive.duckdb_engine, .athena).

SQL keeps a superset where an engine's text functions could disagree with Python's
(``fold``: Unicode lower-casing; JSON values by type): a substring whose letters need
Unicode folding, and metadata field filters, are narrowed by tests on the JSON text
and then decided in Python by the one filter model's residual (logsvc.filters), so both
tiers answer alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import orjson

from logsvc.field_filters import COMPARISONS, FieldFilter, fold, needs_python_fold
from logsvc.filters import Predicate, SearchFilters

Dialect = Literal["duckdb", "athena"]
COLUMNS = ("id", "service_name", "level", "message", "timestamp", "metadata", "source_type")
RELATION = "archive_logs"
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # written as is in a JSON path
_ORDER = {False: '"timestamp" DESC, id DESC', True: '"timestamp", id'}


@dataclass(frozen=True)
class ArchiveQuery:
    """Entries of the archive between two times (inclusive, Unix ms), newest first."""

    start: int
    end: int
    services: tuple[str, ...] | None = None  # None: every service
    level: str | None = None
    q: str | None = None
    fields: tuple[FieldFilter, ...] = ()
    entry_id: str | None = None  # one entry by its id
    # Rows wanted (offset + limit + 1 for a page); None: all of them (replay).
    limit: int | None = None
    oldest_first: bool = False  # replay sends in time order

    def sql(self, dialect: Dialect, rows: int | None = None) -> tuple[str, list[Any]]:
        """The query in ``dialect`` over the relation archive_logs, and its parameters
        (``?`` placeholders, in order). ``rows`` caps what it returns; by default the
        query's limit when SQL is exact, else everything (Python then decides)."""
        conditions = ['"timestamp" >= ?', '"timestamp" <= ?']
        params: list[Any] = [self.start, self.end]
        if self.services is not None:
            conditions.append(f"service_name IN ({', '.join('?' * len(self.services))})")
            params += self.services
        if self.entry_id:
            conditions.append("id = ?")
            params.append(self.entry_id)
        if self.level:
            conditions.append("level = ?")
            params.append(self.level)
        if self.q and not needs_python_fold(self.q):
            conditions.append("STRPOS(LOWER(message), ?) > 0")
            params.append(fold(self.q))
        for hint, value in (hint for f in self.fields for hint in _field_hints(f)):
            conditions.append(hint)
            params.append(value)
        text = (
            f"SELECT {', '.join(_quoted(c) for c in COLUMNS)} FROM {RELATION} "  # noqa: S608 - fixed column names
            f"WHERE {' AND '.join(conditions)} ORDER BY {_ORDER[self.oldest_first]}"
        )
        if rows is None and self.residual() is None:
            rows = self.limit
        if rows is not None:
            text += f" LIMIT {int(rows)}"
        return _transpiled(text, dialect), params

    def residual(self) -> Predicate | None:
        """What SQL only narrowed down, decided as the index decides it (the one filter
        model's residual: every field filter, since engines read JSON types their own way);
        None: SQL is exact."""
        return SearchFilters(q=self.q, fields=self.fields).residual(fields_in_sql=False)


def entry_of(row: tuple[Any, ...]) -> dict[str, Any]:
    """A result row (columns in COLUMNS' order) as an entry; metadata parsed."""
    entry = dict(zip(COLUMNS, row, strict=True))
    metadata = entry["metadata"]
    entry["metadata"] = orjson.loads(metadata) if isinstance(metadata, str | bytes) else {}
    entry["timestamp"] = int(entry["timestamp"])
    return entry


def _quoted(column: str) -> str:
    return f'"{column}"' if column == "timestamp" else column


def _field_hints(f: FieldFilter) -> list[tuple[str, str]]:
    """Conditions on the metadata that every entry the filter keeps meets: the last key is
    written as "key" in its JSON text, a text value (unless JSON escapes it) appears in it
    case folded, a compared number compares so. Absence and difference need nothing. The
    path is part of the SQL text (keys are letters, digits and _ only; parse checked the
    characters), the number a parameter."""
    if f.op in ("absent", "!="):
        return []
    hints = [("STRPOS(metadata, ?) > 0", f'"{f.keys[-1]}"')]
    if f.op in COMPARISONS and all(_PLAIN_KEY.fullmatch(key) for key in f.keys):
        # A number there compares so (a numeric string too: a superset, Python decides).
        path = "$." + ".".join(f.keys)
        hints.append(
            (f"TRY_CAST(JSON_EXTRACT_STRING(metadata, '{path}') AS DOUBLE) {f.op} ?", f.number)
        )
    plain = not any(c in f.value for c in '"\\') and all(ord(c) >= 0x20 for c in f.value)
    if (
        f.op in ("=", "~=")
        and f.value
        and plain
        and f.number is None
        and not f.literal
        and not needs_python_fold(f.value)
    ):
        hints.append(("STRPOS(LOWER(metadata), ?) > 0", fold(f.value)))
    return hints


@lru_cache(maxsize=512)
def _transpiled(text: str, dialect: Dialect) -> str:
    """The query in an engine's dialect. It is written in DuckDB's, which DuckDB runs as it
    is (sparing a cold start sqlglot's 100 ms import); sqlglot writes the others."""
    if dialect == "duckdb":
        return text
    import sqlglot

    return sqlglot.transpile(text, read="duckdb", write=dialect, identify=True)[0]


@dataclass
class ArchiveAnswer:
    """What an engine found, and how much of the archive it covers."""

    entries: list[dict[str, Any]]
    # complete: every object in range was read; partial: some were not (see reason);
    # running: an asynchronous query goes on (poll it with query_id).
    status: Literal["complete", "partial", "running"] = "complete"
    reason: str | None = None
    query_id: str | None = None
    objects_read: int = 0
    bytes_scanned: int = 0
    skipped: list[str] | None = None  # objects that could not be read

    @property
    def complete(self) -> bool:
        return self.status == "complete"
