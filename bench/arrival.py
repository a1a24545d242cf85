"""Search latency by arrival pattern (issue: search stays fast whatever order logs arrive in).

Three ways the same number of logs arrive, each into a fresh local store through the ingest
handler and the buffered write path (a writer flush every simulated second, as with D1),
then the same queries through the search handler (in process: HTTP adds about 3 ms, see
docs/PERFORMANCE.md). ``--direct`` writes each request's blocks itself instead:

- ``ordered``: 1000-log requests of one service, in time order (the friendly case);
- ``interleaved``: 50 producers, each sending the entries of its last second every second
  (20 services), so requests of different services interleave;
- ``backfills``: as ``interleaved``, plus 10% of requests whose entries span a random hour.

    python -m bench.arrival                 # 200,000 logs per pattern
    python -m bench.arrival --logs 1000000

Prints one JSON document: p50/p95 ms per query shape and pattern, blocks and rows written.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.corpus import SERVICES, Corpus
from bench.run import START_MS, invoke, latency, use_local_service
from logsvc import components
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


def queries(last_ms: int) -> dict[str, Callable[[int], Any]]:
    def search(*params: tuple[str, str]) -> Callable[[int], Any]:
        return lambda i: invoke("search", "GET", "/api/v1/logs/search", query=list(params))

    def per_service(make: Callable[[str], list[tuple[str, str]]]) -> Callable[[int], Any]:
        return lambda i: invoke(
            "search", "GET", "/api/v1/logs/search", query=make(SERVICES[i % len(SERVICES)])
        )

    return {
        "service+level newest 50": per_service(
            lambda s: [("service", s), ("level", "ERROR"), ("limit", "50")]
        ),
        "service newest 50": per_service(lambda s: [("service", s), ("limit", "50")]),
        "level newest 50": search(("level", "WARN"), ("limit", "50")),
        "all newest 50": search(("limit", "50")),
        "service, last hour": per_service(
            lambda s: [
                ("service", s),
                ("start_time", str(last_ms - HOUR_MS)),
                ("end_time", str(last_ms)),
                ("limit", "50"),
            ]
        ),
        "substring, many matches": search(("q", "timeout after"), ("limit", "50")),
        "substring, no match": search(("q", "text that no log contains"), ("limit", "50")),
        "stats of a service": lambda i: invoke(
            "search",
            "GET",
            f"/api/v1/logs/stats/{SERVICES[i % len(SERVICES)]}",
            resource="/api/v1/logs/stats/{service}",
            path_parameters={"service": SERVICES[i % len(SERVICES)]},
        ),
    }


def run_pattern(
    name: str, requests: list[list[dict]], samples: int, buffered: bool, flush_every: int
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"logsvc-{name}-")) / "data"
    use_local_service(data_dir)
    loop = None
    if buffered:
        os.environ["INGEST_BUFFER"] = (data_dir / "buffer.db").as_uri()
        components.reset()
        buffer = components.ingest_buffer()
        loop = WriterLoop(buffer, components.log_writer(), 10_000, 0)
    started = time.perf_counter()
    for number, batch in enumerate(requests, 1):
        invoke("ingest", "POST", "/api/v1/logs/ingest/batch", body=json.dumps({"logs": batch}))
        if loop is not None and number % (PRODUCERS * flush_every) == 0:  # simulated seconds
            loop.flush_once()
    while loop is not None and loop.flush_once():
        pass
    ingest_s = time.perf_counter() - started
    os.environ.pop("INGEST_BUFFER", None)
    logs = sum(len(batch) for batch in requests)
    blocks = components.database().query("SELECT count(*) AS n FROM log_blocks")[0]["n"]
    last_ms = max(entry["timestamp"] for batch in requests[-PRODUCERS:] for entry in batch)
    report: dict[str, Any] = {
        "logs": logs,
        "requests": len(requests),
        "ingest_s": round(ingest_s, 1),
        "blocks": blocks,
        "rows_written_per_log": round(3 * blocks / logs, 4),
    }
    for shape, call in queries(last_ms).items():
        report[shape] = latency(call, max(10, samples // 5) if "no match" in shape else samples)
    return report


def main() -> None:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # no metric lines on stdout
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--direct", action="store_true", help="no buffer: blocks per request")
    parser.add_argument("--flush-seconds", type=int, default=1, help="simulated, between flushes")
    parser.add_argument("--patterns", default="ordered,interleaved,backfills")
    args = parser.parse_args()
    corpus = Corpus()
    patterns = {
        "ordered": ordered(corpus, args.logs),
        "interleaved": interleaved(corpus, args.logs),
        "backfills": interleaved(corpus, args.logs, backfill_share=0.1),
    }
    results = {
        name: run_pattern(name, reqs, args.samples, not args.direct, args.flush_seconds)
        for name, reqs in patterns.items()
        if name in args.patterns.split(",")
    }
    print(RESULT_MARK + json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
