"""Compaction: each past day's gzip NDJSON objects of a service rewritten as one Parquet file
(zstd, sorted by timestamp, row groups with min/max statistics), then deleted. Objects that
several services share (a writer flush's small groups: logsvc.archive.log_archive) are
split into each service's files the same way.

Runs in the daily cleanup job (logsvc.cleanup), after the index is expired, one slice of a
service-day at a time (SLICE_OBJECTS objects), resumable:
- the file's name is a digest of the objects it holds, so a run that stops between writing
  it and deleting them writes the same file again next time (a day's keys list in order);
- entries already in that day's compacted files are left out (objects that arrive for a
  compacted day, a late backfill, make a further file of that day, never a duplicate);
- an object DuckDB cannot read stays where it is and is reported, the rest are compacted.

The index's ``r2_key`` still names the object an entry was written to; once it is gone,
/full finds the entry by its id in the day's compacted files (functions/search).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from logsvc.archive.duckdb_engine import (
    NDJSON_COLUMNS,
    READ_NDJSON,
    SELECT_COLUMNS,
    ObjectFiles,
    duckdb_config,
    unreadable,
)
from logsvc.archive.log_archive import SHARED_FOLDER, LogArchive, compacted_key
from logsvc.clock import now_ms, utc_date

PARQUET_TYPE = "application/vnd.apache.parquet"
# DuckDB skips a row group whose min/max timestamp is out of range (and, for newest-N, below
# the N-th newest seen so far): 10,000 rows made a newest-50 search 40% faster than 100,000.
ROW_GROUP_ROWS = 10_000
# Objects compacted into one file at a time: a day of a service flushing every 4 s holds
# 21,600, more than one run's time can read; a slice is a few minutes' work at most.
SLICE_OBJECTS = 2000
_DAY = "strftime(make_timestamp(\"timestamp\" * 1000), '%Y-%m-%d')"  # an entry's UTC day


@dataclass
class CompactionSummary:
    days_compacted: int = 0
    objects_compacted: int = 0
    entries_written: int = 0
    bytes_before: int = 0  # gzip NDJSON
    bytes_after: int = 0  # Parquet
    unreadable_objects: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Compactor:
    def __init__(self, archive: LogArchive, clock: Callable[[], int] = now_ms):
        self.archive = archive
        self.clock = clock

    def days(self) -> list[tuple[str, str]]:
        """(date, folder) of every NDJSON folder before today (UTC), oldest first: each
        service's, and that of objects several services share (SHARED_FOLDER)."""
        today = utc_date(self.clock())
        return sorted(
            (date, folder)
            for folder in (*self.archive.services(), SHARED_FOLDER)
            for date in self.archive.dates(folder)
            if date < today
        )

    def run(self, check_time: Callable[[], None], summary: CompactionSummary) -> None:
        """Compact every past day, oldest first, a slice of at most SLICE_OBJECTS objects
        at a time; check_time raises to stop between slices. Every slice finished is kept,
        so each run makes progress however many objects a day holds."""
        for date, service in self.days():
            while True:
                check_time()
                if not self.compact(service, date, summary):
                    break

    def compact(self, service: str, date: str, summary: CompactionSummary) -> bool:
        """One slice of a date folder (a service's, or the one of objects several services
        share): its first SLICE_OBJECTS NDJSON objects into Parquet, one file for each
        service and day of their entries, then deleted. Whether objects are left."""
        import duckdb

        keys = self.archive.keys(service, date)
        with tempfile.TemporaryDirectory() as folder:
            # Fetched objects (S3, R2) live as long as this slice's work, outside search's cache.
            files = ObjectFiles(self.archive, folder, cache_bytes=1 << 62)
            paths = files.paths(keys[:SLICE_OBJECTS])
            written: list[tuple[str, bytes, int]] = []  # (key, Parquet, entries)
            con = duckdb.connect(":memory:", config=duckdb_config())
            try:
                try:
                    groups = _groups(con, list(paths.values()))
                except duckdb.Error:
                    bad_files = set(unreadable(con, {"ndjson": list(paths.values())}))
                    bad = [key for key, path in paths.items() if path in bad_files]
                    summary.unreadable_objects += bad
                    paths = {key: path for key, path in paths.items() if key not in bad}
                    groups = _groups(con, list(paths.values())) if paths else []
                digest = hashlib.sha256("\n".join(sorted(paths)).encode()).hexdigest()[:32]
                for name, day in groups:
                    earlier = files.paths(self.archive.keys(name, day, compacted=True))
                    target = Path(folder) / f"{len(written)}.parquet"
                    count = _copy(
                        con, list(paths.values()), list(earlier.values()), target, name, day
                    )
                    if count:
                        written.append(
                            (compacted_key(name, day, digest), target.read_bytes(), count)
                        )
            finally:
                con.close()
            if not paths:
                return False
            for key, data, count in written:
                self.archive.objects.put(key, data, PARQUET_TYPE, None)
                summary.bytes_after += len(data)
                summary.entries_written += count
            summary.bytes_before += sum(Path(p).stat().st_size for p in paths.values())
            self.archive.objects.delete(list(paths))
            summary.objects_compacted += len(paths)
            more = len(keys) > SLICE_OBJECTS
            summary.days_compacted += 0 if more else 1
            return more


def _groups(con: Any, ndjson: list[str]) -> list[tuple[str, str]]:
    """(service, UTC day) of the files' entries."""
    rows = con.execute(
        f"SELECT DISTINCT service_name, {_DAY} FROM {READ_NDJSON} ORDER BY 1, 2",  # noqa: S608 - fixed fragments
        [ndjson, NDJSON_COLUMNS],
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def _copy(
    con: Any, ndjson: list[str], earlier: list[str], target: Path, service: str, day: str
) -> int:
    """Write the NDJSON files' entries of one service and day (less those already in
    ``earlier`` Parquet files) to ``target``, sorted by time; the number written."""
    params: list[Any] = [ndjson, NDJSON_COLUMNS, service, day]
    where = f"WHERE service_name = ? AND {_DAY} = ?"
    if earlier:
        where += " AND id NOT IN (SELECT id FROM read_parquet(?))"
        params.append(earlier)
    written = con.execute(
        # An entry archived twice (a flush retried as halves: stacks/ingest_buffer.py) is
        # written once.
        f"COPY ({SELECT_COLUMNS} FROM {READ_NDJSON} {where} "
        "QUALIFY row_number() OVER (PARTITION BY id) = 1 "
        'ORDER BY "timestamp", id) '
        f"TO '{target}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})",
        params,
    ).fetchone()
    return int(written[0]) if written else 0
