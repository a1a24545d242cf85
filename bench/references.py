"""The same corpus and query shapes on reference engines (issue: search stays fast whatever
order the logs arrive in). They show what a log engine can do on this machine; none is used
by the service. Each only loads the logs and answers the queries:

- ``sqlite_rows``: SQLite with one row per log and the original service's three indexes
  (migrations/0001_initial_schema.sql), as the original stored them;
- ``duckdb``: DuckDB, a column store, one table;
- ``chdb``: ClickHouse embedded (chDB), a ``MergeTree`` ordered by service and timestamp.

DuckDB and chDB come from the ``bench`` extra (``pip install -e '.[bench]'``, which
``make bench`` does); without them those engines are reported as not installed.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
ROW = tuple[str, str, str, int, str]  # service_name, level, message, timestamp, metadata


def rows_of(requests: Iterable[list[dict[str, Any]]]) -> list[ROW]:
    return [
        (e["service_name"], e["level"], e["message"], e["timestamp"], json.dumps(e["metadata"]))
        for batch in requests
        for e in batch
    ]


def query_texts(service: str, last_ms: int) -> dict[str, str]:
    """The query shapes of bench.arrival, as SQL every engine here reads alike (the values
    are the benchmark's own, spliced into the text)."""
    newest = "ORDER BY timestamp DESC LIMIT 50"
    columns = "service_name, level, message, timestamp, metadata"
    return {
        "service+level newest 50": f"SELECT {columns} FROM logs WHERE service_name = '{service}' "
        f"AND level = 'ERROR' {newest}",
        "service newest 50": f"SELECT {columns} FROM logs WHERE service_name = '{service}' "
        f"{newest}",
        "level newest 50": f"SELECT {columns} FROM logs WHERE level = 'WARN' {newest}",
        "all newest 50": f"SELECT {columns} FROM logs {newest}",
        "service, last hour": f"SELECT {columns} FROM logs WHERE service_name = '{service}' "
        f"AND timestamp BETWEEN {last_ms - HOUR_MS} AND {last_ms} {newest}",
        "substring, many matches": f"SELECT {columns} FROM logs "
        f"WHERE lower(message) LIKE '%timeout after%' {newest}",
        "substring, no match": f"SELECT {columns} FROM logs "
        f"WHERE lower(message) LIKE '%text that no log contains%' {newest}",
        "stats of a service": "SELECT level, count(*) AS total, "
        f"sum(CASE WHEN timestamp >= {last_ms - DAY_MS} THEN 1 ELSE 0 END) AS recent, "
        "min(timestamp) AS first, max(timestamp) AS last "
        f"FROM logs WHERE service_name = '{service}' GROUP BY level",
    }


class SqliteRows:
    name = "sqlite_rows"

    def __init__(self, rows: list[ROW], folder: Path):
        self.db = sqlite3.connect(folder / "rows.db")
        self.db.executescript(
            "CREATE TABLE logs (id INTEGER PRIMARY KEY, service_name TEXT NOT NULL, "
            "level TEXT NOT NULL, message TEXT NOT NULL, timestamp INTEGER NOT NULL, "
            "metadata TEXT);"
            "CREATE INDEX idx_logs_service_time ON logs (service_name, timestamp);"
            "CREATE INDEX idx_logs_service_level_time ON logs (service_name, level, timestamp);"
            "CREATE INDEX idx_logs_timestamp ON logs (timestamp);"
        )
        with self.db:
            self.db.executemany(
                "INSERT INTO logs (service_name, level, message, timestamp, metadata) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        self.db.execute("ANALYZE")

    def run(self, sql: str) -> list[Any]:
        return self.db.execute(sql).fetchall()


def _parquet(rows: list[ROW], folder: Path) -> Path:
    """The corpus as one Parquet file, which both column stores load fastest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = ["service_name", "level", "message", "timestamp", "metadata"]
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})
    path = folder / "corpus.parquet"
    pq.write_table(table, path)
    return path


class DuckDb:
    name = "duckdb"

    def __init__(self, rows: list[ROW], folder: Path):
        import duckdb

        self.db = duckdb.connect(str(folder / "logs.duckdb"))
        parquet = _parquet(rows, folder)
        self.db.execute(f"CREATE TABLE logs AS SELECT * FROM read_parquet('{parquet}')")

    def run(self, sql: str) -> list[Any]:
        return self.db.execute(sql).fetchall()


class ChDb:
    name = "chdb"

    def __init__(self, rows: list[ROW], folder: Path):
        from chdb import session

        self.session = session.Session(str(folder / "chdb"))
        parquet = _parquet(rows, folder)
        self.session.query("CREATE DATABASE IF NOT EXISTS bench")
        self.session.query(
            "CREATE TABLE bench.logs (service_name LowCardinality(String), "
            "level LowCardinality(String), message String, timestamp Int64, metadata String) "
            "ENGINE = MergeTree ORDER BY (service_name, timestamp)"
        )
        self.session.query(f"INSERT INTO bench.logs SELECT * FROM file('{parquet}', Parquet)")
        self.session.query("OPTIMIZE TABLE bench.logs FINAL")

    def run(self, sql: str) -> list[Any]:
        result = self.session.query(sql.replace("FROM logs", "FROM bench.logs"), "JSONCompact")
        return json.loads(result.bytes())["data"]


ENGINES: dict[str, Callable[[list[ROW], Path], Any]] = {
    "sqlite_rows": SqliteRows,
    "duckdb": DuckDb,
    "chdb": ChDb,
}


def measure(
    requests: list[list[dict[str, Any]]],
    services: list[str],
    last_ms: int,
    samples: int,
    latency: Callable[[Callable[[int], Any], int], dict[str, Any]],
) -> dict[str, Any]:
    """p50/p95 per engine and query shape over the same corpus, or why an engine is missing."""
    rows = rows_of(requests)
    report: dict[str, Any] = {}
    for name, engine in ENGINES.items():
        with tempfile.TemporaryDirectory(prefix=f"logsvc-{name}-") as folder:
            try:
                loaded = engine(rows, Path(folder))
            except ImportError as exc:
                report[name] = {"not installed": str(exc)}
                continue
            shapes = {
                shape: [query_texts(s, last_ms)[shape] for s in services]
                for shape in query_texts(services[0], last_ms)
            }
            report[name] = {
                shape: latency(
                    lambda i, texts=texts, loaded=loaded: loaded.run(texts[i % len(texts)]),
                    max(10, samples // 5) if "no match" in shape else samples,
                )
                for shape, texts in shapes.items()
            }
    return report
