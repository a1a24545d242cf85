"""Archive search at scale: N logs over 30 days in a local archive folder, searched by the
DuckDB engine as gzip NDJSON objects and again after compaction into Parquet.

    python -m bench.archive --logs 10000000 --save bench/results
    python -m bench.archive --logs 10000000 --object-size 100 --save bench/results

Objects hold --object-size entries each (a batched client's request, or a busy writer
flush), one service-day per folder as the ingest path writes them. Searches, each over one
service (--samples runs, a different service each time, p50/p95 reported):

- newest 50 over the archive's last 7 days (the first page of a search past the hot window);
- a substring over 30 days that matches a handful of entries (the whole range is read);
- a field filter (metadata.duration_ms>=4990) over 30 days.

Targets (issue 21): newest 50 at most 2 s p95, the substring at most 5 s p95, Parquet at
least 5 times faster than gzip NDJSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.corpus import SERVICES, Corpus
from logsvc.archive.compaction import CompactionSummary, Compactor
from logsvc.archive.duckdb_engine import DuckDbArchive
from logsvc.archive.local import LocalObjectStore
from logsvc.archive.log_archive import LogArchive, encode_records, object_key
from logsvc.archive.query import ArchiveQuery
from logsvc.clock import DAY_MS, utc_date
from logsvc.field_filters import parse
from logsvc.ids import entry_id

DAYS = 30
NEEDLE = "fraud check flagged card ending 4242"  # one entry in NEEDLE_EVERY
NEEDLE_EVERY = 50_000


def build(root: Path, logs: int, object_size: int, now: int) -> dict[str, float]:
    """Write the corpus as the ingest path would: one object per batch per service-day."""
    corpus = Corpus()
    objects = LocalObjectStore(str(root))
    per_service_day = logs // (len(SERVICES) * DAYS)
    spacing = DAY_MS // per_service_day
    started = time.perf_counter()
    written = count = 0
    for day in range(DAYS, 0, -1):
        day_start = (now - day * DAY_MS) // DAY_MS * DAY_MS
        for service in SERVICES:
            batch = []
            for i in range(per_service_day):
                timestamp = day_start + i * spacing
                record = corpus.entry(service, timestamp)
                count += 1
                if count % NEEDLE_EVERY == 0:
                    record["message"] = f"{NEEDLE} (order {count})"
                record["id"] = entry_id(timestamp)
                record["source_type"] = "http"
                batch.append(record)
                if len(batch) == object_size or i == per_service_day - 1:
                    data = encode_records(batch)
                    key = object_key(service, utc_date(day_start), batch[-1]["id"])
                    objects.put(key, data, "application/x-ndjson", "gzip")
                    written += len(data)
                    batch = []
    return {
        "logs": count,
        "object_size": object_size,
        "objects": sum(1 for _ in root.rglob("*.ndjson.gz")),
        "gzip_bytes": written,
        "build_s": round(time.perf_counter() - started, 1),
    }


def measure(engine: DuckDbArchive, now: int, samples: int) -> dict[str, dict[str, float]]:
    last_day_end = (now - DAY_MS) // DAY_MS * DAY_MS + DAY_MS - 1
    start_7 = last_day_end - 7 * DAY_MS + 1
    start_30 = last_day_end - DAYS * DAY_MS + 1
    shapes = {
        "newest 50, 7 days": lambda s: ArchiveQuery(start_7, last_day_end, (s,), limit=51),
        "substring, 30 days": lambda s: ArchiveQuery(
            start_30, last_day_end, (s,), q="FLAGGED CARD", limit=101
        ),
        "field filter, 30 days": lambda s: ArchiveQuery(
            start_30, last_day_end, (s,), fields=parse(["metadata.duration_ms>=4990"]), limit=51
        ),
    }
    results = {}
    for name, make in shapes.items():
        times, found = [], 0
        for i in range(samples):
            query = make(SERVICES[i % len(SERVICES)])
            began = time.perf_counter()
            answer = engine.search(query, timeout_s=600)
            times.append(time.perf_counter() - began)
            assert answer.complete, answer
            found += len(answer.entries)
        times.sort()
        results[name] = {
            "p50_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)] * 1000, 1),
            "entries_per_search": round(found / samples, 1),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--object-size", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--dir", type=Path, help="where to build (default: a temporary folder)")
    parser.add_argument("--save", type=Path, help="write archive-<object size>.json and .md here")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="logsvc-archive-bench-"))
    now = int(time.time() * 1000)
    try:
        corpus = build(root, args.logs, args.object_size, now)
        print(json.dumps({"corpus": corpus}), flush=True)
        archive = LogArchive(LocalObjectStore(str(root)))
        engine = DuckDbArchive(archive)
        ndjson = measure(engine, now, args.samples)
        print(json.dumps({"gzip NDJSON": ndjson}), flush=True)
        began = time.perf_counter()
        summary = CompactionSummary()
        Compactor(archive, clock=lambda: now).run(lambda: None, summary)
        compaction = {
            "seconds": round(time.perf_counter() - began, 1),
            "service_days": summary.days_compacted,
            "gzip_bytes": summary.bytes_before,
            "parquet_bytes": summary.bytes_after,
        }
        print(json.dumps({"compaction": compaction}), flush=True)
        parquet = measure(engine, now, args.samples)
        print(json.dumps({"Parquet": parquet}), flush=True)
        results = {
            "machine": f"{os.cpu_count()} cores",
            "corpus": corpus,
            "compaction": compaction,
            "gzip NDJSON": ndjson,
            "Parquet": parquet,
            "speedup_p95": {
                name: round(ndjson[name]["p95_ms"] / max(parquet[name]["p95_ms"], 0.1), 1)
                for name in ndjson
            },
        }
        print(json.dumps({"speedup_p95": results["speedup_p95"]}), flush=True)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            name = f"archive-{args.object_size}"
            (args.save / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
            (args.save / f"{name}.md").write_text(table(results))
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


def table(results: dict) -> str:
    c, k = results["corpus"], results["compaction"]
    lines = [
        f"Archive search, {c['logs']:,} logs over {DAYS} days, {c['objects']:,} objects of "
        f"{c['object_size']:,} entries ({results['machine']}); p95 of one service's search, ms:",
        "",
        "| search | gzip NDJSON | Parquet | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for name, speedup in results["speedup_p95"].items():
        lines.append(
            f"| {name} | {results['gzip NDJSON'][name]['p95_ms']} | "
            f"{results['Parquet'][name]['p95_ms']} | {speedup}x |"
        )
    lines += [
        "",
        f"Compaction: {k['service_days']} service-days in {k['seconds']} s, "
        f"{k['gzip_bytes']:,} bytes of gzip NDJSON to {k['parquet_bytes']:,} of Parquet.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
