"""Capacity: the index's bytes per log by traffic shape, and a run past D1's cap.

1. Bytes per log (SQLite pages, as D1 counts them) of the benchmark corpus stored as
   1000-entry batches, and as single-entry traffic from 50 services through 4-second
   flushes (a few entries per service and flush): each flush a block of its own, and as
   the writer stores them, appended to each service's open block (logsvc.store.
   open_blocks).
2. The capacity run: the ingest function on D1's REST API (tests/support/d1_standin.py,
   with its cap scaled down), one or more databases (INDEX_SHARD_URLS), traffic well past
   what the databases hold. It prints each database's largest size against its budget,
   the writes refused for size, the requests that failed, and how many of a sample of the
   acknowledged entries a search of their own time range finds (index or archive).

    python -m bench.capacity                  # 100 M logs a day at scale 1/1000: 11 databases
    python -m bench.capacity --databases 2 --days 10   # far past what 2 databases hold

At scale 1/1000, 100 M logs a day are 100,000 a day, and a database's 10 GB are 10 MB
(its budget 8 MB): the run sends --days of that traffic to --databases databases. The
default is docs/OPERATIONS.md's plan for 100 M logs a day with a 7-day hot window: 11
databases (two services each), and 8 days of traffic, a day more than the window.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.corpus import Corpus
from bench.run import API_KEY, invoke, sqlite_bytes
from logsvc import components
from logsvc.buffer import entry_from_record
from logsvc.entries import LogEntry
from logsvc.ids import entry_id
from logsvc.sql.migrations import apply_migrations
from logsvc.sql.sqlite import SqliteDatabase
from logsvc.store.log_index import LogIndex
from logsvc.store.open_blocks import OpenBlocks
from logsvc_local.project import MIGRATIONS_DIR, ROOT

sys.path.insert(0, str(ROOT))
from tests.support.d1_standin import ACCOUNT, DATABASE, TOKEN, D1StandIn

DAY_MS = 86_400_000
FLUSH_MS = 4000
SCALE = 1000  # the capacity run's scale: 1/1000 of the configuration's traffic and cap
RESULT_MARK = "capacity results: "


def bytes_per_log(work: Path, batched_logs: int, single_hours: float) -> dict[str, Any]:
    corpus = Corpus()
    services = [f"svc-{n:02d}" for n in range(50)]
    now = 1_790_000_000_000

    def fresh(name: str, open_blocks: OpenBlocks | None = None) -> LogIndex:
        db = SqliteDatabase(str(work / f"{name}.db"), create=True)
        apply_migrations(db, MIGRATIONS_DIR)
        return LogIndex(db, open_blocks=open_blocks)

    def measured(index: LogIndex) -> float:
        index.db.query("PRAGMA wal_checkpoint(TRUNCATE)")
        logs = index.db.query("SELECT sum(entry_count) AS n FROM log_blocks")[0]["n"]
        return round(sqlite_bytes(Path(index.db.path)) / logs, 1)

    batched = fresh("batched")
    for number in range(batched_logs // 1000):
        logs = corpus.batch(services[number % 20], 1000, now - 7 * DAY_MS + number * 60_000)
        batched.write(batched.prepare(_entries(logs), f"b{number}"), {})
    rng = random.Random(5)
    flushes = []
    start = now - int(single_hours * 3_600_000)
    for flush in range(int(single_hours * 3_600_000 / FLUSH_MS)):
        flushes.append(
            [
                corpus.entry(service, start + flush * FLUSH_MS + rng.randrange(FLUSH_MS))
                for service in services
                for _ in range(rng.choice((1, 2, 2, 3)))  # about half a log a second each
            ]
        )
    single = {}
    for name, open_blocks in (("single_entry_50_services", None), ("appended", OpenBlocks())):
        index = fresh(name, open_blocks)
        for number, logs in enumerate(flushes):
            index.write(index.prepare(_entries(logs), f"f{number}"), {})
        single[name] = measured(index)
    return {
        "batched_1000": measured(batched),
        "single_entry_50_services": single["single_entry_50_services"],
        "single_entry_50_services_appended": single["appended"],
        "single_entry_logs": sum(len(logs) for logs in flushes),
    }


def _entries(logs: list[dict[str, Any]]) -> list[LogEntry]:
    return [entry_from_record({**log, "id": entry_id(log["timestamp"])}) for log in logs]


def capacity_run(
    work: Path, days: float, logs_per_day: int, databases: int, cap_bytes: int, samples: int
) -> dict[str, Any]:
    corpus = Corpus(seed=11)
    # Two services a database (at least 20), of equal volume: the plan's even case.
    services = [f"svc-{n:02d}" for n in range(max(20, 2 * databases))]
    names = [DATABASE, *(f"shard-{n}" for n in range(1, databases))]
    files = {name: work / f"{name}.sqlite" for name in names}
    for path in files.values():
        db = SqliteDatabase(str(path), create=True)
        apply_migrations(db, MIGRATIONS_DIR)
        db.close()
    budget = cap_bytes * 8 // 10
    extra = {name: str(path) for name, path in files.items() if name != DATABASE}
    with D1StandIn(str(files[DATABASE]), max_bytes=cap_bytes, more_databases=extra) as d1:
        os.environ.update(
            {
                "DATABASE_URL": f"d1://{ACCOUNT}/{DATABASE}",
                "INDEX_SHARD_URLS": ",".join(d1.url_of(n) for n in names[1:]),
                "D1_API_TOKEN": TOKEN,
                "D1_API_BASE_URL": d1.base_url,
                "D1_REQUESTS_PER_5_MINUTES": "1200",
                "ARCHIVE_URL": (work / "archive").as_uri(),
                "LOG_SERVICE_API_KEY": API_KEY,
                "INDEX_BUDGET_BYTES": str(budget),
                "DEFAULT_TTL_DAYS": "3650",
                "POWERTOOLS_LOG_LEVEL": "ERROR",
            }
        )
        components.reset()
        components.request_budget().take = lambda share=1.0: None  # the run is not paced
        total = int(days * logs_per_day)
        end = int(time.time() * 1000)
        start = end - int(days * DAY_MS)
        batch = 500
        step = (end - start) // max(1, total // batch)
        acknowledged: list[tuple[str, int, str]] = []
        failed = 0
        started = time.perf_counter()
        for number in range(total // batch):
            logs = corpus.batch(services[number % len(services)], batch, start + number * step, 7)
            body = json.dumps({"logs": logs})
            try:
                invoke("ingest", "POST", "/api/v1/logs/ingest/batch", body=body)
            except RuntimeError:
                failed += 1
                continue
            acknowledged += [(e["service_name"], e["timestamp"], e["message"]) for e in logs]
        ingest_s = time.perf_counter() - started
        windows = components.log_index().windows()
        rng = random.Random(3)
        sample = rng.sample(acknowledged, min(samples, len(acknowledged)))
        sample.append(acknowledged[0])  # the oldest: long gone from the index
        found = 0
        tiers: dict[str, int] = {}
        for service, timestamp, message in sample:
            answer = invoke(
                "search",
                "GET",
                "/api/v1/logs/search",
                query=[
                    ("service", service),
                    ("q", message),
                    ("start_time", str(timestamp)),
                    ("end_time", str(timestamp)),
                ],
            )
            hits = [e for e in answer["logs"] if e["message"] == message]
            found += bool(hits)
            if hits:
                tiers[hits[0]["tier"]] = tiers.get(hits[0]["tier"], 0) + 1
        health = invoke("health", "GET", "/health")
        components.reset()
        return {
            "scale": f"1/{SCALE}",
            "days": days,
            "logs_per_day": logs_per_day,
            "databases": databases,
            "cap_bytes": cap_bytes,
            "budget_bytes": budget,
            "logs_sent": total,
            "requests_failed": failed,
            "ingest_s": round(ingest_s, 1),
            "largest_size_per_database": d1.largest_sizes,
            "over_budget": any(size > budget for size in d1.largest_sizes.values()),
            "writes_refused_for_size": d1.refused_full,
            "hot_window_hours": {
                service: round((end - since) / 3_600_000, 1)
                for service, since in sorted(windows.items())
            },
            "sampled": len(sample),
            "found": found,
            "found_by_tier": tiers,
            "health": {"status": health["status"], "index": health["index"]},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batched-logs", type=int, default=100_000)
    parser.add_argument("--single-hours", type=float, default=2.0)
    parser.add_argument("--days", type=float, default=8.0)
    parser.add_argument("--logs-per-day", type=int, default=100_000_000 // SCALE)
    parser.add_argument("--databases", type=int, default=11)
    parser.add_argument("--cap-mb", type=float, default=10_000 / SCALE)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="logsvc-capacity-") as tmp:
        work = Path(tmp)
        results = {
            "bytes_per_log": bytes_per_log(work, args.batched_logs, args.single_hours),
            "capacity_run": capacity_run(
                work,
                args.days,
                args.logs_per_day,
                args.databases,
                int(args.cap_mb * 1_000_000),
                args.samples,
            ),
        }
    print(RESULT_MARK + json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
