"""The Loki API beside the native search (issue: field filters, LogQL and Grafana).

1,000,000 logs arrive as 1000-log requests over about 17 hours (bench.arrival's ordered
pattern, 20 services), through the buffered write path; then `logsvc serve` answers, over
HTTP, the same search natively and in LogQL, and Grafana's volume-by-level query:

- native: ``/api/v1/logs/search?service=S&q=Timeout after&limit=100``;
- LogQL: ``{service_name="S"} |= "Timeout after"``, limit 100, over the same 24 hours;
- metric: ``sum by (level) (count_over_time({service_name="S"}[1m]))`` over 24 hours,
  step 60 s (1,440 points per level);
- the label browser: ``/labels`` over the last hour and ``/label/level/values`` over 24
  hours (both read each entry's pushed labels in the range);
- what agents' and JSON logs are asked: a pushed-label selector
  ``{env="prod", host="h3"}`` (newest 100), ``{service_name="S"} | json | status >= 500``
  (newest 100) and an unwrap metric, ``avg_over_time({service_name="S"} | json | unwrap
  duration_ms [5m]) by (level)`` over 24 hours at 5-minute steps.

The "-api" services log JSON lines (``{"msg", "status", "duration_ms"}``) and every entry
carries pushed labels ``env`` and ``host`` (as a Loki push keeps them), so these queries
read what Promtail- and Alloy-shipped logs hold.

    python -m bench.loki                    # 1,000,000 logs, answered by the index
    python -m bench.loki --logs 200000
    python -m bench.loki --archive          # the same logs past the hot window

The logs are timed months ago (bench.arrival's fixed start). By default the services keep
them in the index's hot window (DEFAULT_TTL_DAYS=3650), as recent logs are; ``--archive``
leaves the 7-day default, so every query reads the archive (DuckDB over the local folder).

Prints one JSON document: p50/p95 ms of each, and LogQL's p95 over the native one's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from bench.arrival import build_store, ordered
from bench.corpus import SERVICES, Corpus
from bench.run import API_KEY, latency
from bench.server import free_port, start_server

DAY_MS = 86_400_000


def as_agent_shipped(entry: dict) -> dict:
    """The entry as Promtail or Alloy would have shipped it: pushed labels env and host
    (kept under metadata.labels, as a Loki push keeps them), and, for the -api services,
    a JSON line."""
    number = int(entry["metadata"]["request_id"][-6:], 16)
    labels = {"env": "prod" if number % 4 else "staging", "host": f"h{number % 8}"}
    entry = {**entry, "metadata": {**entry["metadata"], "labels": labels}}
    if entry["service_name"].endswith("-api"):
        status = 500 + number % 4 if entry["level"] in ("ERROR", "CRITICAL") else 200
        entry["message"] = json.dumps(
            {
                "msg": entry["message"],
                "status": status,
                "duration_ms": entry["metadata"]["duration_ms"],
            }
        )
    return entry


def main() -> None:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--archive", action="store_true", help="read past the hot window")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="logsvc-loki-"))
    requests = [
        [as_agent_shipped(entry) for entry in batch] for batch in ordered(Corpus(), args.logs)
    ]
    stored = build_store(work / "data", requests, True, 4)
    end_ms = max(entry["timestamp"] for batch in requests for entry in batch)
    port = free_port()
    settings = {"LOG_SERVICE_API_KEY": API_KEY}
    if not args.archive:
        settings["DEFAULT_TTL_DAYS"] = "3650"  # the logs are in the index's hot window
    server = start_server(port, work / "data", settings, work / "log")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(path: str, params: dict[str, str]) -> dict:
        connection.request(
            "GET", f"{path}?{urlencode(params)}", headers={"Authorization": f"Bearer {API_KEY}"}
        )
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
        return json.loads(body)

    window = {"start": str((end_ms - DAY_MS) * 1_000_000), "end": str(end_ms * 1_000_000)}

    def native(i: int) -> dict:
        return get(
            "/api/v1/logs/search",
            {
                "service": SERVICES[i % len(SERVICES)],
                "q": "Timeout after",
                "limit": "100",
                "start_time": str(end_ms - DAY_MS),
                "end_time": str(end_ms),
            },
        )

    def logql(i: int) -> dict:
        query = f'{{service_name="{SERVICES[i % len(SERVICES)]}"}} |= "Timeout after"'
        return get("/loki/api/v1/query_range", {"query": query, "limit": "100", **window})

    def volume(i: int) -> dict:
        query = (
            f'sum by (level) (count_over_time({{service_name="{SERVICES[i % len(SERVICES)]}"}}'
            "[1m]))"
        )
        return get("/loki/api/v1/query_range", {"query": query, "step": "60s", **window})

    hour = {"start": str((end_ms - 3_600_000) * 1_000_000), "end": str(end_ms * 1_000_000)}

    json_services = [s for s in SERVICES if s.endswith("-api")]

    def pushed_label(i: int) -> dict:
        query = f'{{env="prod", host="h{i % 8}"}}'
        return get("/loki/api/v1/query_range", {"query": query, "limit": "100", **window})

    def json_filter(i: int) -> dict:
        query = f'{{service_name="{json_services[i % len(json_services)]}"}} | json | status >= 500'
        return get("/loki/api/v1/query_range", {"query": query, "limit": "100", **window})

    def unwrap(i: int) -> dict:
        query = (
            f'avg_over_time({{service_name="{json_services[i % len(json_services)]}"}} | json '
            "| unwrap duration_ms [5m]) by (level)"
        )
        return get("/loki/api/v1/query_range", {"query": query, "step": "300s", **window})

    def label_names(i: int) -> dict:
        return get("/loki/api/v1/labels", hour)

    def label_values(i: int) -> dict:
        return get("/loki/api/v1/label/level/values", window)

    try:
        same = [e["id"] for e in native(0)["logs"]]
        lines = [v for s in logql(0)["data"]["result"] for v in s["values"]]
        assert len(same) == len(lines) == 100, (len(same), len(lines))
        report = {
            **stored,
            "answered by": "the archive" if args.archive else "the index (hot window)",
            "native search, newest 100": latency(native, args.samples),
            "LogQL selector + line filter, newest 100": latency(logql, args.samples),
            "LogQL count_over_time by level, 24 h, 1 min steps": latency(volume, args.samples),
            "label names, last hour": latency(label_names, args.samples),
            "label values (level), 24 h": latency(label_values, args.samples),
            'pushed-label selector {env="prod", host=...}, newest 100': latency(
                pushed_label, args.samples
            ),
            "| json | status >= 500, newest 100": latency(json_filter, args.samples),
            "unwrap: avg_over_time(| json | unwrap duration_ms [5m]) by (level), 24 h": latency(
                unwrap, args.samples
            ),
        }
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    report["LogQL p95 / native p95"] = round(
        report["LogQL selector + line filter, newest 100"]["p95_ms"]
        / report["native search, newest 100"]["p95_ms"],
        2,
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
