"""The log index: write batches of entries, search them, read stats.

This module alone knows the table layout; handlers and the ingest pipeline see only
LogStore's methods and plain dicts in the API's shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from logsvc.clock import DAY_MS
from logsvc.entries import LEVELS, LogEntry
from logsvc.sql import SqlDatabase, Statement

# One bound JSON parameter carries many rows (D1 allows 100 parameters per statement and
# 2 MB per value). Counted in characters: at up to 4 UTF-8 bytes each, still under 2 MB.
MAX_CHUNK_CHARS = 450_000
# Metadata larger than this is kept whole in the archive only; the index keeps a marker.
MAX_INDEXED_METADATA_BYTES = 16_384

_COLUMNS = "id, service_name, level, message, timestamp, r2_key, metadata_json, source_type"

_INSERT = f"""INSERT OR IGNORE INTO logs ({_COLUMNS})
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
       json_extract(value, '$[6]'), json_extract(value, '$[7]')
FROM json_each(?)"""  # noqa: S608 - fixed column list, values are bound


@dataclass(frozen=True)
class SearchFilters:
    service: str | None = None
    level: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    q: str | None = None
    limit: int = 100
    offset: int = 0


class LogStore:
    def __init__(self, db: SqlDatabase):
        self.db = db

    def add(self, entries: list[LogEntry], archive_keys: dict[str, str]) -> None:
        """Index entries; an id already indexed is left as it is (retries are harmless)."""
        rows = [
            [
                e.id,
                e.service_name,
                e.level,
                e.indexed_message,
                e.timestamp,
                archive_keys.get(e.id),
                _indexed_metadata(e.metadata),
                e.source_type,
            ]
            for e in entries
        ]
        statements = [Statement(_INSERT, (chunk,)) for chunk in _json_chunks(rows)]
        if statements:
            self.db.batch(statements)

    def search(self, filters: SearchFilters) -> tuple[list[dict[str, Any]], bool]:
        """Entries matching the filters, newest first, and whether more follow."""
        clauses, params = [], []
        if filters.service is not None:
            clauses.append("service_name = ?")
            params.append(filters.service)
        if filters.level is not None:
            clauses.append("level = ?")
            params.append(filters.level)
        if filters.start_time is not None:
            clauses.append("timestamp >= ?")
            params.append(filters.start_time)
        if filters.end_time is not None:
            clauses.append("timestamp <= ?")
            params.append(filters.end_time)
        if filters.q:
            # instr, not LIKE: D1 limits LIKE patterns to 50 bytes and LIKE treats % and _
            # in the user's text as wildcards.
            clauses.append("instr(lower(message), lower(?)) > 0")
            params.append(filters.q)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM logs {where} "  # noqa: S608 - fixed fragments only
            "ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?",
            (*params, filters.limit + 1, filters.offset),
        )
        return [_entry(row) for row in rows[: filters.limit]], len(rows) > filters.limit

    def get(self, entry_id: str) -> dict[str, Any] | None:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM logs WHERE id = ?",  # noqa: S608
            (entry_id,),
        )
        return _entry(rows[0]) if rows else None

    def recent(self, service_name: str, limit: int) -> list[dict[str, Any]]:
        return self.search(SearchFilters(service=service_name, limit=limit))[0]

    def services(self) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT service_name, COUNT(*) AS log_count, MAX(timestamp) AS last_seen "
            "FROM logs GROUP BY service_name ORDER BY service_name"
        )

    def stats(self, service_name: str, now_ms: int) -> dict[str, Any]:
        """Counts per level, overall and in the last 24 hours, and the time span."""
        rows = self.db.query(
            "SELECT level, COUNT(*) AS count, MIN(timestamp) AS first, MAX(timestamp) AS last, "
            "SUM(CASE WHEN timestamp >= ? THEN 1 ELSE 0 END) AS recent "
            "FROM logs WHERE service_name = ? GROUP BY level",
            (now_ms - DAY_MS, service_name),
        )
        levels = dict.fromkeys(LEVELS, 0)
        recent = dict.fromkeys(LEVELS, 0)
        for row in rows:
            levels[row["level"]] = row["count"]
            recent[row["level"]] = row["recent"]
        return {
            "service_name": service_name,
            "total": sum(levels.values()),
            "levels": levels,
            "first_timestamp": min((r["first"] for r in rows), default=None),
            "last_timestamp": max((r["last"] for r in rows), default=None),
            "last_24h": {"total": sum(recent.values()), "levels": recent},
        }


def _indexed_metadata(metadata: dict[str, Any]) -> str | None:
    if not metadata:
        return None
    text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > MAX_INDEXED_METADATA_BYTES:
        return json.dumps({"_truncated": True, "_bytes": len(text.encode())})
    return text


def _json_chunks(rows: list[list[Any]]) -> Iterator[str]:
    chunk: list[str] = []
    size = 0
    for row in rows:
        encoded = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        if chunk and size + len(encoded) > MAX_CHUNK_CHARS:
            yield f"[{','.join(chunk)}]"
            chunk, size = [], 0
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        yield f"[{','.join(chunk)}]"


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    """A row in the API's shape: metadata as an object."""
    metadata_json = row.pop("metadata_json", None)
    row["metadata"] = json.loads(metadata_json) if metadata_json else {}
    return row
