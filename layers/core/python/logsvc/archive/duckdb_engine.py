"""Archive search on DuckDB (embedded): over the local archive folder in place, and over an
S3 API (R2) by fetching the objects a query needs into a bounded local cache first.

Why fetch rather than DuckDB's httpfs: the extension is downloaded at run time (a cold
start would depend on a third host), and boto3 already holds the archive's credentials,
retries and R2's quirks (logsvc.archive.s3). Objects never change once written (a retry
rewrites the same bytes), so a cached copy stays right until retention deletes it.

Which objects a query reads: those of the days in its range, gzip NDJSON and compacted
Parquet alike (an object holds entries of its date only).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from logsvc.archive.local import LocalObjectStore
from logsvc.archive.log_archive import SHARED_FOLDER, LogArchive
from logsvc.archive.query import RELATION, ArchiveAnswer, ArchiveQuery, entry_of
from logsvc.clock import utc_date
from logsvc.errors import ArchiveUnavailable

# The columns of an NDJSON record, read as such (extra keys are ignored, missing ones null).
NDJSON_COLUMNS = {
    "id": "VARCHAR",
    "service_name": "VARCHAR",
    "level": "VARCHAR",
    "message": "VARCHAR",
    "timestamp": "BIGINT",
    "metadata": "JSON",
    "source_type": "VARCHAR",
}
SELECT_COLUMNS = (
    'SELECT id, service_name, level, message, "timestamp", CAST(metadata AS VARCHAR) '
    "AS metadata, source_type"
)
# gzip NDJSON objects as DuckDB reads them; its parameters: [paths, NDJSON_COLUMNS].
READ_NDJSON = "read_json(?, format = 'newline_delimited', compression = 'gzip', columns = ?)"
FETCH_ROWS = 2048  # rows taken from DuckDB at a time (replay)
FETCH_THREADS = 16  # objects fetched at once from an S3 API


class ObjectFiles:
    """Local files for archive keys: the local folder's own files, or cached copies."""

    def __init__(self, archive: LogArchive, cache_dir: str, cache_bytes: int):
        self.archive = archive
        self.cache = Path(cache_dir)
        self.cache_bytes = cache_bytes
        self._lock = threading.Lock()  # fetches run on several threads
        self._used: int | None = None  # bytes in the cache, counted on first use

    def path(self, key: str) -> str | None:
        """A readable file holding the object, or None when it is gone."""
        objects = self.archive.objects
        if isinstance(objects, LocalObjectStore):
            path = objects.root / key
            return str(path) if path.is_file() else None
        cached = self.cache / key
        if cached.is_file():
            os.utime(cached)  # recently used: evicted last
            return str(cached)
        data = objects.get(key)  # fetched outside the lock: several at once
        if data is None:
            return None
        with self._lock:  # room made and the file written together, so the count is exact
            self._make_room(len(data))
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f".part-{cached.name}")
            partial.write_bytes(data)
            partial.replace(cached)
        return str(cached)

    def paths(self, keys: list[str]) -> dict[str, str]:
        """Files for many keys (fetched a few at a time from an S3 API); gone ones left out."""
        if isinstance(self.archive.objects, LocalObjectStore):
            found = zip(keys, map(self.path, keys), strict=True)
        else:
            with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
                found = zip(keys, pool.map(self.path, keys), strict=True)
        return {key: path for key, path in found if path}

    def _make_room(self, incoming: int) -> None:
        """Keep the cache within its size: the least recently used files go first (the
        caller holds the lock)."""
        if self._used is None:
            self._used = sum(size for _, _, size in self._cached())
        if self._used + incoming > self.cache_bytes:
            for _, path, size in sorted(self._cached()):
                if self._used + incoming <= self.cache_bytes:
                    break
                path.unlink(missing_ok=True)
                self._used -= size
        self._used += incoming

    def _cached(self) -> list[tuple[float, Path, int]]:
        """(last use, path, bytes) of every cached file."""
        found = []
        for path in self.cache.rglob("*") if self.cache.is_dir() else ():
            with contextlib.suppress(FileNotFoundError):  # evicted meanwhile
                if path.is_file():
                    info = path.stat()
                    found.append((info.st_mtime, path, info.st_size))
        return found


class DuckDbArchive:
    """The archive engine of the local server and of R2 deployments."""

    def __init__(
        self,
        archive: LogArchive,
        *,
        cache_dir: str | None = None,  # default: logsvc-archive-cache in the temp folder
        cache_bytes: int = 2 << 30,
        threads: int | None = None,
    ):
        self.archive = archive
        cache = cache_dir or os.path.join(tempfile.gettempdir(), "logsvc-archive-cache")
        self.files = ObjectFiles(archive, cache, cache_bytes)
        self.threads = threads
        self._database: Any = None
        self._opening = threading.Lock()

    # -- which objects ----------------------------------------------------------------

    def keys_for(self, query: ArchiveQuery) -> tuple[list[str], list[str]]:
        """(NDJSON keys, Parquet keys) that can hold entries of the query's range."""
        return self._keys(self._folders(query))

    def _folders(self, query: ArchiveQuery) -> list[tuple[str, str, bool]]:
        """(date, folder, compacted) of every date folder in the query's range: the
        services', and the one of objects several services share (the query's SQL names
        its services, so others' entries there are left out)."""
        first, last = utc_date(query.start), utc_date(query.end)
        services = query.services if query.services is not None else self.archive.services()
        folders = [(service, compacted) for service in services for compacted in (False, True)]
        return [
            (date, folder, compacted)
            for folder, compacted in [*folders, (SHARED_FOLDER, False)]
            for date in self.archive.dates(folder, compacted)
            if first <= date <= last
        ]

    def _keys(self, folders: list[tuple[str, str, bool]]) -> tuple[list[str], list[str]]:
        ndjson: list[str] = []
        parquet: list[str] = []
        for date, service, compacted in folders:
            (parquet if compacted else ndjson).extend(self.archive.keys(service, date, compacted))
        return ndjson, parquet

    # -- searching ----------------------------------------------------------------------

    def search(
        self, query: ArchiveQuery, timeout_s: float = 20.0, query_id: str | None = None
    ) -> ArchiveAnswer:
        """The newest entries matching the query (at most query.limit), and whether every
        object in range could be read in time (queries end within the request: query_id,
        Athena's, has nothing to collect here)."""
        deadline = time.monotonic() + timeout_s
        if query.limit is None or query.oldest_first:
            return self._run(query, *self.keys_for(query), deadline)
        return self._newest_days_first(query, deadline)

    def _newest_days_first(self, query: ArchiveQuery, deadline: float) -> ArchiveAnswer:
        """A page of the newest entries, read a day, then two, four... days at a time from
        the newest: every entry of a day is newer than every entry of the days before it
        (objects hold one day each), so once a round has filled the page, older days cannot
        change it. A newest-50 search over 30 days mostly lists and reads one day."""
        days: dict[str, list[tuple[str, str, bool]]] = {}
        for folder in self._folders(query):
            days.setdefault(folder[0], []).append(folder)
        newest_first = sorted(days, reverse=True)
        total = ArchiveAnswer([])
        wanted = query.limit or 0
        first, width = 0, 1
        while first < len(newest_first):
            chunk = newest_first[first : first + width]
            ndjson, parquet = self._keys([f for day in chunk for f in days[day]])
            answer = self._run(
                replace(query, limit=wanted - len(total.entries)), ndjson, parquet, deadline
            )
            total.entries += answer.entries
            total.objects_read += answer.objects_read
            if answer.skipped:
                total.skipped = (total.skipped or []) + answer.skipped
                total.status, total.reason = "partial", answer.reason
            if answer.reason == "timeout":
                total.status, total.reason = "partial", "timeout"
                break
            if len(total.entries) >= wanted:
                break
            first, width = first + width, width * 2
        return total

    def _run(
        self, query: ArchiveQuery, ndjson: list[str], parquet: list[str], deadline: float
    ) -> ArchiveAnswer:
        import duckdb

        found = {"ndjson": self.files.paths(ndjson), "parquet": self.files.paths(parquet)}
        files = {kind: list(paths.values()) for kind, paths in found.items()}
        skipped = [key for key in ndjson + parquet if not any(key in f for f in found.values())]
        if not files["ndjson"] and not files["parquet"]:
            return _answer([], skipped, 0)
        while True:
            try:
                entries = self._query(query, files, deadline)
                read = len(files["ndjson"]) + len(files["parquet"])
                return _answer(entries, skipped, read)
            except _Interrupted:
                return ArchiveAnswer([], "partial", "timeout", skipped=skipped or None)
            except duckdb.Error as exc:
                bad = self._unreadable(files)
                if not bad:  # not an object's fault (memory, say): the engine's
                    raise ArchiveUnavailable(f"the archive search failed: {exc}") from exc
                skipped += bad
                files = {k: [p for p in v if p not in bad] for k, v in files.items()}
                if not files["ndjson"] and not files["parquet"]:
                    return _answer([], skipped, 0)

    def _query(
        self, query: ArchiveQuery, files: dict[str, list[str]], deadline: float
    ) -> list[dict[str, Any]]:
        con = self._connect()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Interrupted
        timer = threading.Timer(remaining, con.interrupt)
        timer.start()
        try:
            test = query.residual()
            if test is None or query.limit is None:
                rows = con.execute(*_statement(query, files)).fetchall()
                return [e for e in map(entry_of, rows) if test is None or test(e)]
            # Python decides: ask for a few times the rows wanted, more while too few pass
            # (a top-N costs far less than ordering every candidate).
            rows_asked = query.limit * 4
            while True:
                rows = con.execute(*_statement(query, files, rows_asked)).fetchall()
                found = [e for e in map(entry_of, rows) if test(e)]
                if len(found) >= query.limit or len(rows) < rows_asked:
                    return found[: query.limit]
                rows_asked *= 8
        except Exception as exc:
            if time.monotonic() >= deadline or "INTERRUPT" in str(exc).upper():
                raise _Interrupted from exc
            raise
        finally:
            timer.cancel()
            con.close()

    def entries(self, query: ArchiveQuery) -> Iterator[dict[str, Any]]:
        """Every matching entry, in the query's order, read in pieces (replay)."""
        import duckdb

        ndjson, parquet = self.keys_for(query)
        files = {
            "ndjson": list(self.files.paths(ndjson).values()),
            "parquet": list(self.files.paths(parquet).values()),
        }
        if not files["ndjson"] and not files["parquet"]:
            return
        con = self._connect()
        try:
            test = query.residual()
            cursor = con.execute(*_statement(query, files))
            while rows := cursor.fetchmany(FETCH_ROWS):
                for entry in map(entry_of, rows):
                    if test is None or test(entry):
                        yield entry
        except duckdb.Error as exc:
            raise ArchiveUnavailable(f"cannot read the archive: {exc}") from exc
        finally:
            con.close()

    def _connect(self) -> Any:
        """A cursor on the engine's one in-memory database: opening a database costs about
        18 ms, and a warm one keeps Parquet footers cached (a newest-50 search over 7 days
        of Parquet: 22 ms on a new database, 5 ms on a warm one)."""
        with self._opening:
            if self._database is None:
                import duckdb

                self._database = duckdb.connect(":memory:", config=duckdb_config(self.threads))
            return self._database.cursor()

    def _unreadable(self, files: dict[str, list[str]]) -> list[str]:
        con = self._connect()
        try:
            return unreadable(con, files)
        finally:
            con.close()


def unreadable(con: Any, files: dict[str, list[str]]) -> list[str]:
    """The files DuckDB cannot read (corrupt, truncated, vanished), one at a time; ``files``
    by kind ("ndjson", "parquet")."""
    import duckdb

    bad = []
    for kind, paths in files.items():
        for path in paths:
            relation, params = _relation({kind: [path]})
            try:
                con.execute(f"SELECT count(*) FROM ({relation})", params).fetchall()  # noqa: S608
            except duckdb.Error:
                bad.append(path)
    return bad


def duckdb_config(threads: int | None = None) -> dict[str, Any]:
    """DuckDB's settings here: in Lambda, memory within the function's (DuckDB would take
    80% of the host's) and spilling to the temp folder (/tmp)."""
    config: dict[str, Any] = {"threads": threads} if threads else {}
    function_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if function_mb and function_mb.isdigit():
        config["memory_limit"] = f"{int(function_mb) * 6 // 10}MB"
        config["temp_directory"] = os.path.join(tempfile.gettempdir(), "duckdb-spill")
    return config


class _Interrupted(Exception):
    """The query ran past its deadline and was stopped."""


def _relation(files: dict[str, list[str]]) -> tuple[str, list[Any]]:
    """archive_logs over the given files: NDJSON and Parquet, as one relation."""
    parts, params = [], []
    if files.get("ndjson"):
        parts.append(f"{SELECT_COLUMNS} FROM {READ_NDJSON}")
        params += [files["ndjson"], NDJSON_COLUMNS]
    if files.get("parquet"):
        parts.append(f"{SELECT_COLUMNS} FROM read_parquet(?)")
        params.append(files["parquet"])
    return " UNION ALL ".join(parts), params


def _statement(
    query: ArchiveQuery, files: dict[str, list[str]], rows: int | None = None
) -> tuple[str, list[Any]]:
    """The query over the files, and its parameters."""
    relation, relation_params = _relation(files)
    sql, params = query.sql("duckdb", rows)
    return f"WITH {RELATION} AS ({relation}) {sql}", relation_params + params


def _answer(entries: list[dict[str, Any]], skipped: list[str], read: int) -> ArchiveAnswer:
    if skipped:
        names = [_key_name(path) for path in skipped]
        return ArchiveAnswer(entries, "partial", "unreadable_objects", None, read, 0, names)
    return ArchiveAnswer(entries, objects_read=read)


def _key_name(path: str) -> str:
    """An archive key from a file path (the part from logs/ or compacted/ on)."""
    for marker in ("/logs/", "/compacted/"):
        if marker in path:
            return path[path.rindex(marker) + 1 :]
    return path
