"""The fleet scenario: many instances sending one entry per request, D1 behind its REST API.

Runs ``logsvc serve`` against an emulation of D1's REST API (tests/support/d1_standin.py:
a 40 ms round trip, statements one at a time, 1,200 requests per five minutes per account
and then 429 for five minutes), sends single entries from CLIENTS concurrent clients for
SECONDS, optionally kills the server with SIGKILL and restarts it mid-load, then checks that
every acknowledged entry is in the ``logs`` view exactly once.

    python -m bench.fleet                      # 24 clients, 60 s
    python -m bench.fleet --kill-at 20         # kill -9 at 20 s, restart at once

Prints one JSON document of figures (see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.server import free_port, start_server  # noqa: E402
from logsvc.sql.sqlite import SqliteDatabase  # noqa: E402
from logsvc.store.packing import stored_entries, unpacked  # noqa: E402
from tests.support.d1_standin import ACCOUNT, DATABASE, TOKEN, D1StandIn  # noqa: E402

API_KEY = "fleet-bench-key-0123456789abcdef"


def start_fleet_server(port: int, data_dir: Path, d1: D1StandIn, log: Path) -> subprocess.Popen:
    env = {
        "DATABASE_URL": f"d1://{ACCOUNT}/{DATABASE}",
        "D1_API_TOKEN": TOKEN,
        "D1_API_BASE_URL": d1.base_url,
        "LOG_SERVICE_API_KEY": API_KEY,
    }
    return start_server(port, data_dir, env, log)


def client(port: int, seconds: float, number: int, results: Any) -> None:
    """One instance: single entries back to back; retries (same Idempotency-Key) on errors."""
    acked: list[tuple[str, float, float]] = []  # (id, sent, acknowledged)
    refused = errors = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    end = time.monotonic() + seconds
    sequence = 0
    while time.monotonic() < end:
        sequence += 1
        key = f"c{number}-{sequence}-{uuid.uuid4().hex[:8]}"
        body = json.dumps(
            {
                "service_name": f"svc-{number % 6}",
                "level": ("INFO", "INFO", "INFO", "WARN", "ERROR")[sequence % 5],
                "message": f"request {sequence} from instance {number} took {sequence % 97} ms",
                "metadata": {"instance": number, "sequence": sequence},
            }
        )
        sent = time.monotonic()
        while True:
            try:
                connection.request(
                    "POST",
                    "/api/v1/logs/ingest",
                    body,
                    {
                        "Authorization": f"Bearer {API_KEY}",
                        "Content-Type": "application/json",
                        "Idempotency-Key": key,
                    },
                )
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                time.sleep(0.05)
                continue
            if response.status == 201:
                acked.append((json.loads(payload)["id"], sent, time.monotonic()))
            else:
                refused += 1
            break
    results.put({"acked": acked, "refused": refused, "errors": errors})


def watch_index(path: str, seen: dict[str, float], stop: threading.Event) -> None:
    """When each entry id first appears in the emulated D1 database."""
    blocks: set[str] = set()
    while not stop.is_set():
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            ids = [row[0] for row in connection.execute("SELECT id FROM log_blocks")]
            new = [block for block in ids if block not in blocks]
            now = time.monotonic()
            for block in new:
                entries, packed = connection.execute(
                    "SELECT entries, hex(packed) FROM log_blocks WHERE id = ?", (block,)
                ).fetchone()
                for entry in unpacked(packed) if packed else json.loads(entries):
                    if entry and len(entry) > 3:
                        seen.setdefault(entry[3], now)
                blocks.add(block)
            connection.close()
        except sqlite3.Error:
            pass
        stop.wait(0.2)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(clients: int, seconds: float, kill_at: float | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="logsvc-fleet-"))
    database = work / "d1.sqlite"
    sqlite3.connect(database).close()
    log = work / "server.log"
    with D1StandIn(str(database), round_trip_ms=40, limit_per_5_minutes=1200) as d1:
        port = free_port()
        server = start_fleet_server(port, work / "data", d1, log)
        calls_before_load = len(d1.requests)
        seen: dict[str, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=watch_index, args=(str(database), seen, stop))
        watcher.start()
        results: Any = multiprocessing.get_context("spawn").Queue()
        processes = [
            multiprocessing.get_context("spawn").Process(
                target=client, args=(port, seconds, number, results)
            )
            for number in range(clients)
        ]
        started = time.monotonic()
        for process in processes:
            process.start()
        restarted = None
        if kill_at is not None:
            time.sleep(kill_at)
            server.send_signal(signal.SIGKILL)
            server.wait()
            server = start_fleet_server(port, work / "data", d1, log)
            restarted = time.monotonic() - started
        outcomes = [results.get(timeout=seconds + 120) for _ in processes]
        for process in processes:
            process.join()
        load_end = time.monotonic()
        acked = [a for outcome in outcomes for a in outcome["acked"]]
        ids = {entry_id for entry_id, _, _ in acked}
        deadline = load_end + 60
        while time.monotonic() < deadline and not ids <= seen.keys():
            time.sleep(0.2)
        all_visible_after = time.monotonic() - load_end
        stop.set()
        watcher.join()
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        index = SqliteDatabase(str(database))
        stored = [entry[3] for entry in stored_entries(index)]
        rows_written = index.query("SELECT count(*) AS n FROM log_blocks")[0]["n"]
        index.close()
        latencies = [(done - sent) * 1000 for _, sent, done in acked]
        visibility = [seen[i] - done for i, _, done in acked if i in seen]
        arrivals = d1.arrivals
        busiest = max(
            (sum(1 for t in arrivals if start <= t < start + 300) for start in arrivals),
            default=0,
        )
        duration = seconds
        return {
            "clients": clients,
            "seconds": seconds,
            "killed_and_restarted_at_s": restarted,
            "requests_acknowledged": len(acked),
            "acknowledged_per_second": round(len(acked) / duration, 1),
            "refused": sum(o["refused"] for o in outcomes),
            "connection_errors_retried": sum(o["errors"] for o in outcomes),
            "latency_ms": {
                "p50": round(percentile(latencies, 0.5), 1),
                "p95": round(percentile(latencies, 0.95), 1),
                "p99": round(percentile(latencies, 0.99), 1),
                "mean": round(statistics.fmean(latencies), 1) if latencies else 0,
            },
            "visible_after_ack_s": {
                "p50": round(percentile(visibility, 0.5), 2),
                "p95": round(percentile(visibility, 0.95), 2),
            },
            "all_visible_after_load_s": round(all_visible_after, 2),
            "acknowledged_missing": len(ids - set(stored)),
            "stored_twice": len(stored) - len(set(stored)),
            "d1_requests": len(d1.requests),
            "d1_requests_during_load_and_drain": len(d1.requests) - calls_before_load,
            "d1_busiest_5_minutes": busiest,
            "d1_account_limit": 1200,
            "d1_refused_for_the_limit": d1.refused,
            "d1_rows_written_per_log": round(rows_written * 3 / max(1, len(stored)), 4),
            "server_log": str(log),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-at", type=float, default=None)
    args = parser.parse_args()
    print(json.dumps(run(args.clients, args.seconds, args.kill_at), indent=2))


if __name__ == "__main__":
    main()
