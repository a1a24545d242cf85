"""`make bench`: ingest throughput, search latency, cold imports and cost counters.

Every figure is measured in one run on this machine, next to the machine's own reference
(raw executemany into a one-row-per-log table, gzip of the same bytes, import of boto3 and
the Powertools resolver), so the ratios hold across machines. Prints a table and writes
bench/results/latest.json.

    python -m bench.run                 # the full run: 1,000,000 logs
    python -m bench.run --logs 20000    # a quick one
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench.corpus import SERVICES, Corpus
from logsvc import components
from logsvc.archive import LogArchive
from logsvc.archive.local import LocalObjectStore
from logsvc.buffer.direct import DirectBuffer
from logsvc.ids import new_id
from logsvc.ingest import Ingestor
from logsvc.sql import open_database
from logsvc.sql.migrations import apply_migrations
from logsvc.sql.sqlite import SqliteDatabase
from logsvc.store.log_index import LogIndex
from logsvc.store.packing import stored_entries
from logsvc.store.receipts import ReceiptStore
from logsvc.writer import Writer
from logsvc_local.events import LocalContext, proxy_event
from logsvc_local.project import FUNCTIONS_DIR, MIGRATIONS_DIR, ROOT, load_handler

API_KEY = "bench-key"
DAY_MS = 86_400_000
START_MS = 1_790_000_000_000
# The original design: one row per log, the three indexes of migrations/0001.
REFERENCE_SCHEMA = """
CREATE TABLE logs (id TEXT PRIMARY KEY, service_name TEXT NOT NULL, level TEXT NOT NULL,
    message TEXT NOT NULL, timestamp INTEGER NOT NULL, r2_key TEXT, metadata_json TEXT,
    source_type TEXT NOT NULL DEFAULT 'http');
CREATE INDEX idx_logs_service_time ON logs (service_name, timestamp);
CREATE INDEX idx_logs_service_level_time ON logs (service_name, level, timestamp);
CREATE INDEX idx_logs_timestamp ON logs (timestamp);
"""
REFERENCE_ROWS_WRITTEN_PER_LOG = 4  # the table row and three index entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", type=int, default=1_000_000, help="logs to store and search")
    parser.add_argument("--batch", type=int, default=1000, help="logs per ingest request")
    parser.add_argument("--http-logs", type=int, default=200_000, help="logs sent over HTTP")
    parser.add_argument("--queries", type=int, default=200, help="samples per search kind")
    parser.add_argument("--import-samples", type=int, default=7, help="fresh interpreters each")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()

    corpus = Corpus()
    batches = make_batches(corpus, args.logs, args.batch)
    results: dict[str, Any] = {"machine": machine(), "logs": args.logs, "batch": args.batch}
    with tempfile.TemporaryDirectory(prefix="logsvc-bench-") as tmp:
        work = Path(tmp)
        use_local_service(work / "service")
        results["ingest"] = bench_ingest(batches)
        results["reference"] = bench_reference(batches, work / "reference.db")
        results["ingest"]["ratio_to_executemany"] = round(
            results["ingest"]["logs_per_s"] / results["reference"]["executemany_rows_per_s"], 3
        )
        results["search"] = bench_search(batches, args.queries)
        results["storage"] = storage(
            work / "service", work / "reference.db", args.logs, batches[0][:200]
        )
        results["cost"] = cost_counters(corpus, work / "counted", args.batch)
        results["http"] = bench_http(
            make_batches(Corpus(7), args.http_logs, args.batch), work / "http"
        )
    results["imports"] = bench_imports(args.import_samples)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print_report(results)
    print(f"\nwritten to {args.output}")


def make_batches(corpus: Corpus, logs: int, size: int) -> list[list[dict[str, Any]]]:
    """Requests of one service each, round-robin over 20 services, spread over 7 days."""
    count = max(1, logs // size)
    step = 7 * DAY_MS // count
    return [
        corpus.batch(SERVICES[i % len(SERVICES)], size, START_MS + i * step) for i in range(count)
    ]


def use_local_service(data_dir: Path) -> None:
    """Point the handlers at a fresh SQLite file and archive folder, as `logsvc serve` does."""
    data_dir.mkdir(parents=True)
    url = f"sqlite:///{data_dir / 'logs.db'}"
    db = open_database(url, create=True)
    apply_migrations(db, MIGRATIONS_DIR)
    db.close()
    os.environ.update(
        {
            "DATABASE_URL": url,
            "ARCHIVE_URL": (data_dir / "archive").as_uri(),
            "LOG_SERVICE_API_KEY": API_KEY,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    components.reset()


def invoke(
    function: str,
    method: str,
    path: str,
    *,
    body: str = "",
    query: list[tuple[str, str]] | None = None,
    resource: str | None = None,
    path_parameters: dict | None = None,
) -> dict:
    event = proxy_event(
        method=method,
        resource=resource or path,
        path=path,
        headers=[("authorization", f"Bearer {API_KEY}"), ("content-type", "application/json")],
        query=query or [],
        path_parameters=path_parameters or {},
        body=body.encode(),
        source_ip="127.0.0.1",
    )
    result = load_handler(function).lambda_handler(event, LocalContext(function))
    if result["statusCode"] >= 300:
        raise RuntimeError(f"{method} {path}: {result['statusCode']} {result['body'][:200]}")
    return json.loads(result["body"])


def bench_ingest(batches: list[list[dict]]) -> dict[str, Any]:
    """The ingest handler called with API Gateway events: validate, archive, index."""
    bodies = [json.dumps({"logs": batch}) for batch in batches]
    logs = sum(len(batch) for batch in batches)
    started = time.perf_counter()
    for body in bodies:
        invoke("ingest", "POST", "/api/v1/logs/ingest/batch", body=body)
    seconds = time.perf_counter() - started
    return {
        "logs_per_s": round(logs / seconds),
        "seconds": round(seconds, 2),
        "request_bytes_per_log": round(sum(map(len, bodies)) / logs),
    }


def bench_reference(batches: list[list[dict]], path: Path) -> dict[str, Any]:
    """The machine's own speed: plain executemany, one row per log, and gzip of the logs."""
    rows = [
        (
            new_id(),
            e["service_name"],
            e["level"],
            e["message"][:1000],
            e["timestamp"],
            None,
            json.dumps(e["metadata"], separators=(",", ":")),
            "http",
        )
        for batch in batches
        for e in batch
    ]
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(REFERENCE_SCHEMA)
    size = len(batches[0])
    started = time.perf_counter()
    for start in range(0, len(rows), size):
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows[start : start + size]
        )
        connection.execute("COMMIT")
    insert_seconds = time.perf_counter() - started
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()

    ndjson = "".join(
        json.dumps(e, separators=(",", ":")) + "\n" for batch in batches for e in batch
    ).encode()
    started = time.perf_counter()
    compressed = sum(
        len(gzip.compress(ndjson[i : i + 4_000_000], compresslevel=6))
        for i in range(0, len(ndjson), 4_000_000)
    )
    gzip_seconds = time.perf_counter() - started
    return {
        "executemany_rows_per_s": round(len(rows) / insert_seconds),
        "gzip6_mb_per_s": round(len(ndjson) / gzip_seconds / 1e6, 1),
        "gzip6_ratio": round(len(ndjson) / compressed, 2),
    }


def bench_search(batches: list[list[dict]], samples: int) -> dict[str, Any]:
    """Latency of the search handler over everything stored by bench_ingest."""
    last_ms = batches[-1][-1]["timestamp"]
    ids = [entry[3] for entry in stored_entries(components.database()) if entry[0] % 997 == 0]
    ids = ids[:2000]
    rare = "text that no log contains"
    kinds: dict[str, Callable[[int], Any]] = {
        "service_level_newest_50": lambda i: invoke(
            "search",
            "GET",
            "/api/v1/logs/search",
            query=[("service", SERVICES[i % 20]), ("level", "ERROR"), ("limit", "50")],
        ),
        "service_time_range_1h": lambda i: invoke(
            "search",
            "GET",
            "/api/v1/logs/search",
            query=[
                ("service", SERVICES[i % 20]),
                ("start_time", str(last_ms - (i % 100 + 2) * 3_600_000)),
                ("end_time", str(last_ms - (i % 100 + 1) * 3_600_000)),
                ("limit", "50"),
            ],
        ),
        "substring_q_common": lambda i: invoke(
            "search", "GET", "/api/v1/logs/search", query=[("q", "timeout after"), ("limit", "50")]
        ),
        "substring_q_rare_full_scan": lambda i: invoke(
            "search", "GET", "/api/v1/logs/search", query=[("q", rare), ("limit", "50")]
        ),
        "get_by_id": lambda i: invoke(
            "search",
            "GET",
            f"/api/v1/logs/logs/{ids[i % len(ids)]}",
            resource="/api/v1/logs/logs/{id}",
            path_parameters={"id": ids[i % len(ids)]},
        ),
        "stats": lambda i: invoke(
            "search",
            "GET",
            f"/api/v1/logs/stats/{SERVICES[i % 20]}",
            resource="/api/v1/logs/stats/{service}",
            path_parameters={"service": SERVICES[i % 20]},
        ),
    }
    return {
        name: latency(call, samples if "full_scan" not in name else max(10, samples // 10))
        for name, call in kinds.items()
    }


def latency(call: Callable[[int], Any], count: int) -> dict[str, Any]:
    """p50 and p95 of ``count`` calls (call(i) for each i), after one to warm up."""
    call(0)
    timings = []
    for i in range(count):
        started = time.perf_counter()
        call(i)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 95), 2),
        "samples": count,
    }


def storage(
    service_dir: Path, reference: Path, logs: int, sample_logs: list[dict]
) -> dict[str, Any]:
    """Bytes kept per log: the index (SQLite pages, as D1 bills) and the archive; and what
    compressing block entries, or only their metadata, would keep instead."""
    db = SqliteDatabase(str(service_dir / "logs.db"))
    db.query("PRAGMA wal_checkpoint(TRUNCATE)")
    index_bytes = sqlite_bytes(service_dir / "logs.db")
    sample = [row["entries"] for row in db.query("SELECT entries FROM log_blocks LIMIT 200")]
    entry_bytes = db.query("SELECT sum(length(CAST(entries AS BLOB))) AS n FROM log_blocks")
    db.close()
    raw = sum(len(text.encode()) for text in sample)
    compressed = sum(len(zlib.compress(text.encode(), 6)) for text in sample)
    # Only metadata compressed, per block, as base64 text (what D1's JSON API can bind).
    blocks = [json.loads(text) for text in sample]
    plain = sum(len(_compact([[ts, message] for ts, message, *_ in b])) for b in blocks)
    metadata = sum(
        len(base64.b64encode(zlib.compress(_compact([m for _, _, m, *_ in b]), 6))) for b in blocks
    )
    archive = sum(p.stat().st_size for p in (service_dir / "archive").rglob("*.ndjson.gz"))
    one_object_each = statistics.mean(
        len(gzip.compress(json.dumps(entry).encode(), 6)) for entry in sample_logs
    )
    return {
        "index_bytes_per_log": round(index_bytes / logs, 1),
        "reference_index_bytes_per_log": round(sqlite_bytes(reference) / logs, 1),
        "entries_share_of_index": round(entry_bytes[0]["n"] / index_bytes, 3),
        "archive_bytes_per_log": round(archive / logs, 1),
        "reference_archive_bytes_per_log": round(one_object_each, 1),
        "entries_zlib6_ratio": round(raw / compressed, 2),
        "metadata_share_of_entries": round(1 - plain / raw, 3),
        "metadata_compressed_entries_ratio": round(raw / (plain + metadata), 2),
    }


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sqlite_bytes(path: Path) -> int:
    connection = sqlite3.connect(path)
    pages, free, size = (
        connection.execute(f"PRAGMA {p}").fetchone()[0]
        for p in ("page_count", "freelist_count", "page_size")
    )
    connection.close()
    return (pages - free) * size


class CountingDatabase:
    """Counts the round trips and statements the log store sends to the database."""

    def __init__(self, db: SqliteDatabase):
        self.db, self.requests, self.statements = db, 0, 0

    def batch(self, statements):
        self.requests += 1
        self.statements += len(statements)
        return self.db.batch(statements)

    def __getattr__(self, name):
        return getattr(self.db, name)


class CountingObjects(LocalObjectStore):
    puts = 0

    def put(self, key, data, content_type, content_encoding):
        self.puts += 1
        super().put(key, data, content_type, content_encoding)


def cost_counters(corpus: Corpus, folder: Path, size: int) -> dict[str, Any]:
    """What D1 and R2 bill per log: rows written, requests, PUTs (one service per request)."""
    folder.mkdir()
    db = open_database(f"sqlite:///{folder / 'logs.db'}", create=True)
    apply_migrations(db, MIGRATIONS_DIR)
    counted = CountingDatabase(db)
    objects = CountingObjects(str(folder / "archive"))
    index = LogIndex(counted)
    writer = Writer(LogArchive(objects), index)
    ingestor = Ingestor(DirectBuffer(writer, ReceiptStore(counted)))
    requests_sent = 20
    for i in range(requests_sent):
        ingestor.ingest_batch(corpus.batch(SERVICES[i], size, START_MS + i * 60_000))
    logs = requests_sent * size
    blocks = db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"]
    indexes = db.query(
        "SELECT count(*) AS n FROM pragma_index_list('log_blocks') WHERE origin = 'c'"
    )[0]["n"]
    db.close()
    return {
        "blocks_per_request": blocks / requests_sent,
        "d1_rows_written_per_log": round(blocks * (1 + indexes) / logs, 4),
        "reference_d1_rows_written_per_log": REFERENCE_ROWS_WRITTEN_PER_LOG,
        "d1_requests_per_request": counted.requests / requests_sent,
        "d1_statements_per_request": counted.statements / requests_sent,
        "archive_puts_per_1000_logs": objects.puts * 1000 / logs,
        "reference_archive_puts_per_1000_logs": 1000,
    }


def bench_http(batches: list[list[dict]], data_dir: Path, clients: int = 4) -> dict[str, Any]:
    """Batches POSTed to a real `logsvc serve` on 127.0.0.1 by a few client threads."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environment = {**os.environ, "LOG_SERVICE_API_KEY": API_KEY}
    for name in ("DATABASE_URL", "ARCHIVE_URL"):
        environment.pop(name, None)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "logsvc"),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        bodies = [json.dumps({"logs": batch}).encode() for batch in batches]
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        failures: list[int] = []

        def send(share: list[bytes]) -> None:
            with requests.Session() as session:
                for body in share:
                    response = session.post(
                        f"{url}/api/v1/logs/ingest/batch", data=body, headers=headers, timeout=60
                    )
                    if response.status_code != 201:
                        failures.append(response.status_code)

        threads = [
            threading.Thread(target=send, args=(bodies[i::clients],)) for i in range(clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    if failures:
        raise RuntimeError(f"HTTP ingest failed: {failures[:5]}")
    logs = sum(len(batch) for batch in batches)
    return {"logs_per_s": round(logs / seconds), "seconds": round(seconds, 2), "clients": clients}


def bench_imports(samples: int = 7) -> dict[str, Any]:
    """Cold import of each handler module in a fresh interpreter, against the baseline."""

    def median_seconds(code: str, cwd: Path) -> float:
        timings = []
        for _ in range(samples):
            out = subprocess.run(
                [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
            ).stdout
            timings.append(float(out))
        return statistics.median(timings)

    timer = "import time; t = time.perf_counter(); {}; print(time.perf_counter() - t)"
    baseline = median_seconds(
        timer.format(
            "import boto3; from aws_lambda_powertools.event_handler import APIGatewayRestResolver"
            "; APIGatewayRestResolver()"
        ),
        ROOT,
    )
    report: dict[str, Any] = {"baseline_boto3_and_resolver_ms": round(baseline * 1000, 1)}
    for function in sorted(p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir()):
        alone = median_seconds(timer.format("import handler"), FUNCTIONS_DIR / function)
        with_boto3 = median_seconds(timer.format("import handler, boto3"), FUNCTIONS_DIR / function)
        report[function] = {
            "import_ms": round(alone * 1000, 1),
            "import_with_boto3_ms": round(with_boto3 * 1000, 1),
            "ratio_to_baseline": round(alone / baseline, 2),
        }
    return report


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "date": time.strftime("%Y-%m-%d"),
    }


def print_report(r: dict[str, Any]) -> None:
    m, ingest, ref, http = r["machine"], r["ingest"], r["reference"], r["http"]
    cost, kept, imports = r["cost"], r["storage"], r["imports"]
    print(
        f"\nlogsvc benchmark: {r['logs']:,} logs in {r['batch']}-log requests; "
        f"{m['cpus']} CPUs, {m['processor']}, Python {m['python']}, SQLite {m['sqlite']}"
    )
    rows = [
        ("ingest in-process (handler, SQLite + archive)", f"{ingest['logs_per_s']:,} logs/s"),
        ("  reference: executemany, one row per log", f"{ref['executemany_rows_per_s']:,} rows/s"),
        ("  ratio (target >= 0.6)", f"{ingest['ratio_to_executemany']}"),
        (
            "  reference: gzip -6 of the same logs",
            f"{ref['gzip6_mb_per_s']} MB/s, {ref['gzip6_ratio']}x",
        ),
        (
            f"ingest over HTTP, {http['clients']} clients (target >= 20,000)",
            f"{http['logs_per_s']:,} logs/s",
        ),
    ]
    rows += [
        (f"search {name}", f"p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms")
        for name, f in r["search"].items()
    ]
    rows += [
        (
            "D1 rows written per log (target <= 0.02)",
            f"{cost['d1_rows_written_per_log']} (one row per log: "
            f"{cost['reference_d1_rows_written_per_log']})",
        ),
        (
            "D1 requests / statements per ingest request",
            f"{cost['d1_requests_per_request']} / {cost['d1_statements_per_request']}",
        ),
        (
            "archive PUTs per 1000 logs",
            f"{cost['archive_puts_per_1000_logs']} (one object per log: 1000)",
        ),
        (
            "index bytes per log",
            f"{kept['index_bytes_per_log']} (one row per log: "
            f"{kept['reference_index_bytes_per_log']})",
        ),
        (
            "archive bytes per log",
            f"{kept['archive_bytes_per_log']} (one object per log: "
            f"{kept['reference_archive_bytes_per_log']})",
        ),
        ("block entries zlib -6 ratio", f"{kept['entries_zlib6_ratio']}x"),
        (
            "  with only metadata compressed",
            f"{kept['metadata_compressed_entries_ratio']}x "
            f"(metadata is {kept['metadata_share_of_entries']:.0%} of entry bytes)",
        ),
        (
            "cold import baseline (boto3 + resolver)",
            f"{imports['baseline_boto3_and_resolver_ms']} ms",
        ),
    ]
    rows += [
        (
            f"  {name} handler (target ratio <= 1.3)",
            f"{f['import_ms']} ms, ratio {f['ratio_to_baseline']}; "
            f"with boto3 {f['import_with_boto3_ms']} ms",
        )
        for name, f in imports.items()
        if isinstance(f, dict)
    ]
    width = max(len(name) for name, _ in rows)
    for name, figures in rows:
        print(f"{name:<{width}}  {figures}")


if __name__ == "__main__":
    main()
