"""Search latency by arrival pattern (issue: search stays fast whatever order logs arrive in).

Three ways the same number of logs arrive, each into a fresh local store through the ingest
handler and the buffered write path (a writer flush every WRITER_FLUSH_MS of simulated
time, as with D1), then the same queries over HTTP against ``logsvc serve`` on that store,
the database queries each one makes (a D1 REST call each in production), and the same
corpus and queries on reference engines (bench/references.py). ``--direct`` writes each
request's blocks itself instead:

- ``ordered``: 1000-log requests of one service, in time order (the friendly case);
- ``interleaved``: 50 producers, each sending the entries of its last second every second
  (20 services), so requests of different services interleave;
- ``backfills``: as ``interleaved``, plus 10% of requests whose entries span a random hour.

    python -m bench.arrival                 # 200,000 logs per pattern
    python -m bench.arrival --logs 1000000

Prints one JSON document (p50/p95 ms per query shape and pattern, round trips, blocks and
rows written, the references) and a table for docs/PERFORMANCE.md; ``--save DIR`` writes
both to DIR (``make bench`` saves them in bench/results).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import references
from bench.corpus import SERVICES, Corpus
from bench.run import API_KEY, START_MS, invoke, latency, use_local_service
from bench.server import free_port, start_server
from logsvc import components
from logsvc.settings import Settings
from logsvc.store.log_index import OVERLAP_ENTRIES
from logsvc_local.writer_loop import WriterLoop

PRODUCERS = 50
RESULT_MARK = "arrival results: "
HOUR_MS = 3_600_000


def ordered(corpus: Corpus, logs: int) -> list[list[dict[str, Any]]]:
    count = max(1, logs // 1000)
    return [
        corpus.batch(SERVICES[i % len(SERVICES)], 1000, START_MS + i * 60_000, spacing_ms=60)
        for i in range(count)
    ]


def interleaved(corpus: Corpus, logs: int, backfill_share: float = 0.0) -> list[list[dict]]:
    """Every second, each producer sends the entries it logged during that second."""
    per_batch = 10
    seconds = max(1, logs // (PRODUCERS * per_batch))
    rng = random.Random(7)
    requests = []
    for second in range(seconds):
        start = START_MS + second * 1000
        for producer in range(PRODUCERS):
            service = SERVICES[producer % len(SERVICES)]
            if rng.random() < backfill_share:
                # A collector flushing an unsorted buffer: entries from the hour before.
                times = sorted(rng.randrange(start - HOUR_MS, start) for _ in range(per_batch))
            else:
                times = sorted(rng.randrange(start, start + 1000) for _ in range(per_batch))
            requests.append([corpus.entry(service, t) for t in times])
    return requests


@dataclass(frozen=True)
class Shape:
    """One search request: the same over HTTP and through the handler in process."""

    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    resource: str | None = None
    path_parameters: dict[str, str] = field(default_factory=dict)


def shapes(last_ms: int) -> dict[str, Callable[[int], Shape]]:
    """Each query shape of the issue, as a request for the i-th sample (services rotate)."""
    search = "/api/v1/logs/search"

    def per_service(make: Callable[[str], list[tuple[str, str]]]) -> Callable[[int], Shape]:
        return lambda i: Shape(search, make(SERVICES[i % len(SERVICES)]))

    def stats(i: int) -> Shape:
        service = SERVICES[i % len(SERVICES)]
        return Shape(
            f"/api/v1/logs/stats/{service}",
            resource="/api/v1/logs/stats/{service}",
            path_parameters={"service": service},
        )

    return {
        "service+level newest 50": per_service(
            lambda s: [("service", s), ("level", "ERROR"), ("limit", "50")]
        ),
        "service newest 50": per_service(lambda s: [("service", s), ("limit", "50")]),
        "level newest 50": lambda i: Shape(search, [("level", "WARN"), ("limit", "50")]),
        "all newest 50": lambda i: Shape(search, [("limit", "50")]),
        "service, last hour": per_service(
            lambda s: [
                ("service", s),
                ("start_time", str(last_ms - HOUR_MS)),
                ("end_time", str(last_ms)),
                ("limit", "50"),
            ]
        ),
        "substring, many matches": lambda i: Shape(
            search, [("q", "timeout after"), ("limit", "50")]
        ),
        "substring, no match": lambda i: Shape(
            search, [("q", "text that no log contains"), ("limit", "50")]
        ),
        "stats of a service": stats,
    }


def samples_for(shape: str, samples: int) -> int:
    return max(10, samples // 5) if "no match" in shape else samples


def over_http(port: int, made: dict[str, Callable[[int], Shape]], samples: int) -> dict:
    """p50/p95 of each shape against `logsvc serve`, one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {API_KEY}"}

    def call(shape: Shape) -> None:
        connection.request("GET", f"{shape.path}?{urlencode(shape.query)}", headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{shape.path}: {response.status} {body[:200]!r}")

    return {
        name: latency(lambda i, make=make: call(make(i)), samples_for(name, samples))
        for name, make in made.items()
    }


def round_trips(made: dict[str, Callable[[int], Shape]]) -> dict[str, float]:
    """Database queries per request of each shape (each one a D1 REST call in production),
    averaged over the services, through the handler in process, with searches reading
    ahead as much as they do on D1 (a local file's round trips cost nothing, so there
    searches read less a round and take more of them)."""
    database = components.database()
    counted = {"queries": 0}
    query = database.query
    index = components.log_index()
    local_overlap = index.overlap_entries
    index.overlap_entries = OVERLAP_ENTRIES

    def counting(*args: Any, **kwargs: Any) -> Any:
        counted["queries"] += 1
        return query(*args, **kwargs)

    database.query = counting  # type: ignore[method-assign]
    report = {}
    try:
        for name, make in made.items():
            counted["queries"] = 0
            for i in range(len(SERVICES)):
                shape = make(i)
                invoke(
                    "search",
                    "GET",
                    shape.path,
                    query=shape.query,
                    resource=shape.resource,
                    path_parameters=shape.path_parameters,
                )
            report[name] = counted["queries"] / len(SERVICES)
    finally:
        database.query = query  # type: ignore[method-assign]
        index.overlap_entries = local_overlap
    return report


def build_store(
    data_dir: Path, requests: list[list[dict]], buffered: bool, flush_every: int
) -> dict[str, Any]:
    """Ingest every request through the handler; with the buffer, a writer flush every
    ``flush_every`` simulated seconds (the writer's default cadence)."""
    use_local_service(data_dir)
    loop = None
    if buffered:
        os.environ["INGEST_BUFFER"] = (data_dir / "buffer.db").as_uri()
        components.reset()
        loop = WriterLoop(components.ingest_buffer(), components.log_writer(), 10_000, 0)
    started = time.perf_counter()
    for number, batch in enumerate(requests, 1):
        invoke("ingest", "POST", "/api/v1/logs/ingest/batch", body=json.dumps({"logs": batch}))
        if loop is not None and number % (PRODUCERS * flush_every) == 0:
            loop.flush_once()
    while loop is not None and loop.flush_once():
        pass
    ingest_s = time.perf_counter() - started
    os.environ.pop("INGEST_BUFFER", None)
    components.reset()
    logs = sum(len(batch) for batch in requests)
    blocks = components.database().query("SELECT count(*) AS n FROM log_blocks")[0]["n"]
    return {
        "logs": logs,
        "requests": len(requests),
        "ingest_s": round(ingest_s, 1),
        "blocks": blocks,
        "rows_written_per_log": round(3 * blocks / logs, 4),
    }


def run_pattern(name: str, requests: list[list[dict]], args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"logsvc-{name}-"))
    data_dir = work / "data"
    report = build_store(data_dir, requests, not args.direct, args.flush_seconds)
    last_ms = max(entry["timestamp"] for batch in requests[-PRODUCERS:] for entry in batch)
    made = shapes(last_ms)
    report["round_trips"] = round_trips(made)
    port = free_port()
    server = start_server(port, data_dir, {"LOG_SERVICE_API_KEY": API_KEY}, work / "server.log")
    try:
        report["http"] = over_http(port, made, args.samples)
    finally:
        server.terminate()
        server.wait(30)
    if args.references:
        report["references"] = references.measure(
            requests, SERVICES, last_ms, args.samples, latency
        )
    shutil.rmtree(work, ignore_errors=True)
    return report


def table(results: dict[str, Any]) -> str:
    """The figures as docs/PERFORMANCE.md shows them: p95 ms over HTTP per pattern, and
    each reference engine's p95 with this service's p95 as a multiple of it."""
    names = list(results)
    shape_names = list(next(iter(results.values()))["http"])
    lines = [
        "| p95 ms | " + " | ".join(names) + " | target |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for shape in shape_names:
        target = 300 if "no match" in shape else 50
        cells = [f"{results[n]['http'][shape]['p95_ms']:.1f}" for n in names]
        lines.append(f"| {shape} | " + " | ".join(cells) + f" | {target} |")
    for label, key in (("D1 round trips per search", None), ("blocks", "blocks")):
        if key:
            cells = [f"{results[n][key]:,}" for n in names]
        else:
            cells = ["/".join(f"{v:g}" for v in results[n]["round_trips"].values()) for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " | |")
    cells = [f"{results[n]['rows_written_per_log']:.3f}" for n in names]
    lines.append("| rows written per log | " + " | ".join(cells) + " | 0.02 |")
    engines = {e for n in names for e in results[n].get("references", {})}
    for engine in sorted(engines):
        lines += ["", f"| {engine}: p95 ms (this service / {engine}) | " + " | ".join(names) + " |"]
        lines.append("|---|" + "---|" * len(names))
        for shape in shape_names:
            cells = []
            for n in names:
                reference = results[n].get("references", {}).get(engine, {})
                if shape not in reference:
                    cells.append("-")
                    continue
                ref = reference[shape]["p95_ms"]
                ours = results[n]["http"][shape]["p95_ms"]
                cells.append(f"{ref:.1f} ({ours / ref:.1f}x)" if ref else f"{ref:.1f}")
            lines.append(f"| {shape} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # no metric lines on stdout
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--direct", action="store_true", help="no buffer: blocks per request")
    parser.add_argument(
        "--flush-seconds",
        type=int,
        default=round(Settings.model_fields["writer_flush_seconds"].default),
        help="simulated seconds between writer flushes (default: WRITER_FLUSH_MS's)",
    )
    parser.add_argument("--patterns", default="ordered,interleaved,backfills")
    parser.add_argument("--no-references", dest="references", action="store_false")
    parser.add_argument("--save", type=Path, help="write the JSON and the table here (a folder)")
    args = parser.parse_args()
    corpus = Corpus()
    patterns = {
        "ordered": lambda: ordered(corpus, args.logs),
        "interleaved": lambda: interleaved(corpus, args.logs),
        "backfills": lambda: interleaved(corpus, args.logs, backfill_share=0.1),
    }
    results = {
        name: run_pattern(name, make(), args)
        for name, make in patterns.items()
        if name in args.patterns.split(",")
    }
    rendered = table(results)
    print(RESULT_MARK + json.dumps(results, indent=2))
    print(rendered)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        (args.save / "arrival.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.save / "arrival.md").write_text(rendered + "\n")


if __name__ == "__main__":
    main()
