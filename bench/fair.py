"""The shapes an engineer uses to find something, measured fairly beside DuckDB and chDB
(issue 30's benchmark, and what its targets are checked against).

What makes it fair, point by point of the issue:

- **Now, and the tier named.** The corpus ends a minute ago and spans ``logs / RATE``
  seconds before, so every shape asks the index's hot window; each native answer is
  checked to come from the index alone (``tier`` and no ``archive`` part).
- **A fresh needle per sample.** The no-match shape searches a text made for that sample;
  the rare-token shape a token put in exactly RARE_HITS entries, a different one each
  sample; the field shape a user id of a few entries, a different one each sample; every
  round asks new ones. No engine can answer from a cache of an earlier sample.
- **The references' SQL as they would write it.** ``LIKE``/``ILIKE`` (not ``lower(x) LIKE``),
  DuckDB's table sorted like chDB's MergeTree (service, timestamp).
- **Interleaved and repeated.** Each sample runs on every engine in turn (the order rotates
  each sample), over ROUNDS rounds; medians of the rounds' p50 and p95, and CPU time for the
  engines in this process.
- **The same answers.** Each sample's answers are compared across engines (the newest 50's
  timestamps, a count's numbers); any difference is reported, not hidden.
- **A corpus like production's.** 40 services with Zipf-skewed volumes, 30 message
  templates with varied words and numbers, RATE logs a second mostly one or two entries a
  request, 10% of requests a backfill from the hour before; written through the ingest
  handler and the writer in 4-second flushes, as the buffered path writes them.

    python -m bench.fair [--logs 250000] [--samples 20] [--rounds 3] [--save bench/results]

Prints one JSON document and a table for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.references import ROW, ChDb, DuckDb, SqliteRows
from bench.run import API_KEY, invoke, use_local_service
from bench.server import free_port, start_server
from logsvc import components
from logsvc_local.writer_loop import WriterLoop

RATE = 150  # logs a second
SERVICES = [f"svc-{i:02d}" for i in range(40)]
ZIPF = [1 / (k + 1) ** 1.1 for k in range(len(SERVICES))]
LEVELS = {"DEBUG": 15, "INFO": 62, "WARN": 12, "ERROR": 9, "CRITICAL": 2}
RARE_HITS = 10
FLUSH_S = 4
MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000
WORDS = [
    "inventory", "pricing", "ledger", "session", "token", "cart", "basket", "coupon",
    "invoice", "refund", "shipment", "carrier", "warehouse", "tenant", "region", "locale",
    "currency", "catalog", "search", "ranking", "quota", "replica", "shard", "cluster",
    "primary", "follower", "snapshot", "backup", "upload", "thumbnail", "webhook", "callback",
]  # fmt: skip
TEMPLATES = [
    "GET /api/v1/{w}/{n} {status} in {ms}ms",
    "POST /api/v1/{w}/{n}/items {status} in {ms}ms",
    "user {user} signed in from 10.{a}.{b}.{c}",
    "cache miss for key {w}:{n}",
    "Timeout after {ms}ms calling {w}-service (attempt {k}/3)",
    "Connection refused: postgres://db-{k}.internal:5432/{w}",
    "payment {uuid} declined: insufficient funds",
    "job {uuid} finished: processed {n} {w} records in {ms}ms",
    "Unhandled exception in worker: KeyError('{w}')",
    "rate limited by upstream (429), retrying in {k}s",
    "{w} reconciliation drifted by {n} units for tenant {user}",
    "slow query on {w} table: {ms}ms, {n} rows scanned",
    "webhook to https://{w}.example.com/hook answered {status}",
    "retrying {w} publish after broker timeout, {k} attempts left",
    "feature flag {w}-rollout evaluated to {bool} for {user}",
    "upload of {n} bytes to bucket {w}-assets completed",
    "circuit breaker for {w} opened after {k} failures",
    "GC pause of {ms}ms in {w} worker, heap {n} KB",
    "scheduled {w} export started for tenant {user}",
    "TLS handshake with {w}.internal failed: certificate expired",
    "lock on {w}:{n} held for {ms}ms by {user}",
    "queue {w} depth {n}, consumers {k}",
    "invalid {w} payload from client {user}: missing field",
    "config reload: {k} {w} rules changed",
    "health check of {w} passed in {ms}ms",
    "order {n} moved to state {w}",
    "session {uuid} expired after {ms}ms idle",
    "DNS lookup for {w}.svc.cluster.local took {ms}ms",
    "disk usage on {w}-volume at {k}0%",
    "replica {w}-{k} lag is {ms}ms",
]


def corpus(logs: int, end_ms: int, seed: int = 30) -> tuple[list[list[dict]], dict[str, Any]]:
    """Per simulated second, the entries that arrived (each second's requests together:
    the buffer holds them alike until a flush), and the needles put in: rare tokens and
    the users of few entries."""
    rng = random.Random(seed)
    seconds = max(1, logs // RATE)
    logs = seconds * RATE
    start_ms = end_ms - seconds * 1000
    rare_tokens = [f"zq{rng.getrandbits(40):010x}" for _ in range(max(60, logs // 2000))]
    rare_at = {
        position: token for token in rare_tokens for position in rng.sample(range(logs), RARE_HITS)
    }
    users = [f"user-{k}" for k in range(5000)]
    user_weights = list(itertools.accumulate(1 / (k + 1) ** 1.2 for k in range(5000)))
    arrived: list[list[dict]] = []
    position = 0
    for second in range(seconds):
        now = start_ms + second * 1000
        entries: list[dict] = []
        while len(entries) < RATE:
            service = rng.choices(SERVICES, ZIPF)[0]
            backfill = rng.random() < 0.10
            size = 10 if backfill else rng.choice((1, 1, 1, 2, 2, 3))
            for _ in range(min(size, RATE - len(entries))):
                at = (
                    rng.randrange(now - HOUR_MS, now)
                    if backfill
                    else rng.randrange(now, now + 1000)
                )
                message = rng.choice(TEMPLATES).format(
                    w=rng.choice(WORDS),
                    n=rng.randrange(10**6),
                    ms=rng.randrange(1, 30_000),
                    k=rng.randrange(1, 9),
                    user=f"u{rng.randrange(10**5)}",
                    a=rng.randrange(256),
                    b=rng.randrange(256),
                    c=rng.randrange(256),
                    uuid=f"{rng.getrandbits(128):032x}",
                    status=rng.choice((200, 200, 201, 404, 500, 503)),
                    bool=rng.choice(("on", "off")),
                )
                if position in rare_at:
                    message = f"{message} {rare_at[position]}"
                entries.append(
                    {
                        "service_name": service,
                        "level": rng.choices(list(LEVELS), list(LEVELS.values()))[0],
                        "message": message,
                        "timestamp": max(start_ms - HOUR_MS, at),
                        "metadata": {
                            "user_id": rng.choices(users, cum_weights=user_weights)[0],
                            "region": rng.choice(("eu-west-1", "us-east-1", "ap-south-1")),
                            "http": {"status": rng.choice((200, 201, 404, 500, 503))},
                        },
                    }
                )
                position += 1
        arrived.append(entries)
    counted = Counter(e["metadata"]["user_id"] for second in arrived for e in second)
    few = sorted(user for user, n in counted.items() if 3 <= n <= 30)
    return arrived, {"rare_tokens": rare_tokens, "users_of_few": few, "start_ms": start_ms}


def build(data_dir: Path, arrived: list[list[dict]]) -> dict[str, Any]:
    """Through the ingest handler into the local buffer, drained by the writer every
    FLUSH_S simulated seconds (the buffered path's block shapes)."""
    use_local_service(data_dir)
    os.environ["INGEST_BUFFER"] = (data_dir / "buffer.db").as_uri()
    components.reset()
    loop = WriterLoop(components.ingest_buffer(), components.log_writer(), 10_000, 0)
    started = time.perf_counter()
    for second, entries in enumerate(arrived, 1):
        for start in range(0, len(entries), 1000):
            body = json.dumps({"logs": entries[start : start + 1000]})
            invoke("ingest", "POST", "/api/v1/logs/ingest/batch", body=body)
        if second % FLUSH_S == 0:
            loop.flush_once()
    while loop.flush_once():
        pass
    os.environ.pop("INGEST_BUFFER", None)
    components.reset()
    logs = sum(map(len, arrived))
    database = components.database()
    blocks = database.query("SELECT count(*) AS n FROM log_blocks")[0]["n"]
    pages = database.query("PRAGMA page_count")[0]
    page_size = database.query("PRAGMA page_size")[0]
    size = next(iter(pages.values())) * next(iter(page_size.values()))
    return {
        "logs": logs,
        "build_s": round(time.perf_counter() - started, 1),
        "blocks": blocks,
        "entries_per_block": round(logs / blocks, 1),
        "bytes_per_log": round(size / logs),
    }


@dataclass(frozen=True)
class Shape:
    """One query shape: the native request and the SQL of the i-th sample, and how an
    answer is reduced for comparing engines."""

    name: str
    native: Callable[[int], tuple[str, list[tuple[str, str]]]]  # path, query parameters
    sql: Callable[[int], str]
    reduce: Callable[[Any, bool], Any]  # (answer, native?) -> comparable


def _newest(answer: Any, native: bool) -> list[int]:
    if native:
        for entry in answer["logs"]:
            assert entry.get("tier", "index") == "index", "an archive answer: not the hot window"
        assert not answer.get("archive"), answer.get("archive")
        return sorted((e["timestamp"] for e in answer["logs"]), reverse=True)
    return sorted((int(row[0]) for row in answer), reverse=True)


def _levels(answer: Any, native: bool) -> dict[str, int]:
    if native:
        return {k: v for k, v in answer["last_24h"]["levels"].items() if v}
    return {str(level): int(n) for level, n in answer}


def _series(answer: Any, native: bool) -> dict[tuple[str, int], int]:
    if native:
        return {
            (s["metric"]["level"], round(float(t) * 1000)): int(v)
            for s in answer["data"]["result"]
            for t, v in s["values"]
            if int(v)
        }
    return {(str(level).lower(), int(t)): int(n) for level, t, n in answer}


def shapes(needles: dict[str, Any], end_ms: int, big: list[str]) -> list[Shape]:
    """The issue's table, row by row. ``big``: services by volume, most first."""
    search = "/api/v1/logs/search"
    newest = "ORDER BY timestamp DESC LIMIT 50"
    hour = end_ms - HOUR_MS
    tokens, users = needles["rare_tokens"], needles["users_of_few"]

    def service(i: int) -> str:
        return big[i % 5]  # the five biggest: what is looked at most, and costs most

    def fresh(i: int) -> str:
        return f"nomatch{i:04d}{random.Random(i).getrandbits(32):08x}"

    return [
        Shape(
            "service + level, newest 50",
            lambda i: (search, [("service", service(i)), ("level", "ERROR"), ("limit", "50")]),
            lambda i: (
                f"SELECT timestamp FROM logs WHERE service_name = '{service(i)}' "
                f"AND level = 'ERROR' {newest}"
            ),
            _newest,
        ),
        Shape(
            "service, last hour",
            lambda i: (
                search,
                [
                    ("service", service(i)),
                    ("start_time", str(hour)),
                    ("end_time", str(end_ms)),
                    ("limit", "50"),
                ],
            ),
            lambda i: (
                f"SELECT timestamp FROM logs WHERE service_name = '{service(i)}' "
                f"AND timestamp BETWEEN {hour} AND {end_ms} {newest}"
            ),
            _newest,
        ),
        Shape(
            "substring, many matches",
            lambda i: (search, [("q", "timeout"), ("limit", "50")]),
            lambda i: f"SELECT timestamp FROM logs WHERE message ILIKE '%timeout%' {newest}",
            _newest,
        ),
        Shape(
            "substring, no match",
            lambda i: (search, [("q", fresh(i)), ("limit", "50")]),
            lambda i: f"SELECT timestamp FROM logs WHERE message ILIKE '%{fresh(i)}%' {newest}",
            _newest,
        ),
        Shape(
            f"a rare token ({RARE_HITS} hits)",
            lambda i: (search, [("q", tokens[i % len(tokens)]), ("limit", "50")]),
            lambda i: (
                f"SELECT timestamp FROM logs WHERE message ILIKE "
                f"'%{tokens[i % len(tokens)]}%' {newest}"
            ),
            _newest,
        ),
        Shape(
            "metadata field equality",
            lambda i: (
                search,
                [("filter", f"metadata.user_id={users[i % len(users)]}"), ("limit", "50")],
            ),
            lambda i: (
                "SELECT timestamp FROM logs WHERE json_extract_string(metadata, "
                f"'$.user_id') = '{users[i % len(users)]}' {newest}"
            ),
            _newest,
        ),
        Shape(
            "count by level, one service, 24 h",
            lambda i: (f"/api/v1/logs/stats/{service(i)}", []),
            lambda i: (
                f"SELECT level, count(*) FROM logs WHERE service_name = '{service(i)}' "
                f"AND timestamp >= {end_ms - DAY_MS} GROUP BY level"
            ),
            _levels,
        ),
        Shape(
            "sum by (level) (count_over_time(service [5m])), 24 h",
            *metric(service, lambda i: end_ms),
        ),
        # The same chart over a range no sample asked before (its end a second earlier each
        # sample): nothing counted for an earlier sample can answer it.
        Shape(
            "the same, a range not asked before",
            *metric(service, lambda i: end_ms - (i + 1) * 1_000),
        ),
    ]


def metric(
    service: Callable[[int], str], end_of: Callable[[int], int]
) -> tuple[Callable, Callable, Callable]:
    """The 24 h metric's native request and SQL for sample i (of ``service(i)``, ending at
    ``end_of(i)``), and how its answer is reduced."""
    step = 5 * MINUTE_MS

    def native(i: int) -> tuple[str, list[tuple[str, str]]]:
        end = end_of(i)
        first = end - DAY_MS + step  # the metric's points end each step: the first one step in
        query = f'sum by (level) (count_over_time({{service_name="{service(i)}"}}[5m]))'
        return (
            "/loki/api/v1/query_range",
            [
                ("query", query),
                ("start", f"{first}000000"),
                ("end", f"{end}000000"),
                ("step", "5m"),
            ],
        )

    def sql(i: int) -> str:
        end = end_of(i)
        first = end - DAY_MS + step
        return (
            f"SELECT lower(level), {first} + {step} * CAST(ceil((timestamp - {first})"
            f" / {step}.0) AS BIGINT), count(*) FROM logs WHERE service_name = '{service(i)}' "
            f"AND timestamp > {first - step} AND timestamp <= {end} GROUP BY 1, 2"
        )

    return native, sql, _series


class Native:
    """This service: over HTTP to ``logsvc serve``, or the handler in this process."""

    def __init__(self, port: int | None):
        self.connection = (
            http.client.HTTPConnection("127.0.0.1", port, timeout=120) if port else None
        )

    def run(self, path: str, query: list[tuple[str, str]]) -> Any:
        if self.connection is None:
            function = "search"
            resource = "/api/v1/logs/stats/{service}" if "/stats/" in path else path
            parameters = {"service": path.rsplit("/", 1)[1]} if "/stats/" in path else {}
            return invoke(
                function, "GET", path, query=query, resource=resource, path_parameters=parameters
            )
        headers = {"Authorization": f"Bearer {API_KEY}"}
        try:
            self.connection.request("GET", f"{path}?{urlencode(query)}", headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server closes a connection idle past its keep-alive (5 s) while the other
            # engines answer a slow sample: open another, as any keep-alive client does.
            self.connection.close()
            self.connection.request("GET", f"{path}?{urlencode(query)}", headers=headers)
            response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
        return json.loads(body)


def measure(engines: dict[str, Any], made: list[Shape], samples: int, rounds: int) -> dict:
    """Every sample on every engine in turn (the order rotating), ``rounds`` times over:
    per shape and engine the median of the rounds' p50 and p95, CPU ms a query (engines in
    this process), and the samples whose answers differ from this service's."""
    names = list(engines)
    report: dict[str, Any] = {}
    for shape in made:
        walls: dict[str, list[list[float]]] = {n: [] for n in names}
        cpus: dict[str, list[float]] = {n: [] for n in names}
        differing: dict[str, int] = dict.fromkeys(names, 0)
        for round_number in range(rounds):
            times: dict[str, list[float]] = {n: [] for n in names}
            for sample in range(samples):
                i = round_number * samples + sample  # a needle no round has asked for
                answers = {}
                for n in names[i % len(names) :] + names[: i % len(names)]:
                    native = n.startswith("logsvc")
                    engine = engines[n]
                    cpu, started = time.process_time(), time.perf_counter()
                    answer = engine.run(*shape.native(i)) if native else engine.run(shape.sql(i))
                    times[n].append((time.perf_counter() - started) * 1000)
                    cpus[n].append((time.process_time() - cpu) * 1000)
                    answers[n] = shape.reduce(answer, native)
                for n in names:
                    differing[n] += answers[n] != answers[names[0]]
            for n in names:
                walls[n].append(times[n])
        report[shape.name] = {
            n: {
                "p50_ms": round(statistics.median(_pct(t, 0.5) for t in walls[n]), 2),
                "p95_ms": round(statistics.median(_pct(t, 0.95) for t in walls[n]), 2),
                "cpu_ms": round(statistics.median(cpus[n]), 2),
                "answers_differ": differing[n],
            }
            for n in names
        }
    return report


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


class SortedDuckDb(DuckDb):
    """DuckDB's table sorted as chDB's MergeTree is ordered (service, timestamp)."""

    def __init__(self, rows: list[ROW], folder: Path):
        super().__init__(rows, folder)
        self.db.execute(
            "CREATE TABLE sorted AS SELECT * FROM logs ORDER BY service_name, timestamp"
        )
        self.db.execute("DROP TABLE logs")
        self.db.execute("ALTER TABLE sorted RENAME TO logs")


class SqliteIlike(SqliteRows):
    """SQLite's LIKE ignores ASCII case already: ILIKE is LIKE there; json_extract_string
    is json_extract."""

    def __init__(self, rows: list[ROW], folder: Path):
        super().__init__(rows, folder)
        import math

        self.db.create_function("_ceil", 1, math.ceil, deterministic=True)

    def run(self, sql: str) -> list[Any]:
        sql = sql.replace(" ILIKE ", " LIKE ").replace("json_extract_string(", "json_extract(")
        sql = sql.replace("AS BIGINT", "AS INTEGER").replace("ceil(", "_ceil(")
        return super().run(sql)


class ChDbFair(ChDb):
    """chDB with the JSON function in its dialect."""

    def run(self, sql: str) -> list[Any]:
        sql = sql.replace(
            "json_extract_string(metadata, '$.user_id')", "JSONExtractString(metadata, 'user_id')"
        )
        sql = sql.replace("AS BIGINT", "AS Int64")
        return super().run(sql)


def table(result: dict[str, Any]) -> str:
    engines = list(next(iter(result["shapes"].values())))
    lines = [
        "| Query (p50 / p95 ms) | " + " | ".join(engines) + " | ours / best column store (p95) |",
        "|---|" + "---|" * (len(engines) + 1),
    ]
    for shape, by_engine in result["shapes"].items():
        cells = []
        for n in engines:
            figures = by_engine[n]
            mark = f" ({figures['answers_differ']} differ)" if figures["answers_differ"] else ""
            cells.append(f"{figures['p50_ms']:.1f} / {figures['p95_ms']:.1f}{mark}")
        stores = [by_engine[n]["p95_ms"] for n in ("duckdb", "chdb") if n in by_engine]
        ours = by_engine["logsvc (HTTP)"]["p95_ms"]
        cells.append(f"{ours / min(stores):.1f}x" if stores and min(stores) else "-")
        lines.append(f"| {shape} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", type=int, default=250_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    end_ms = int(time.time() * 1000) - MINUTE_MS
    arrived, needles = corpus(args.logs, end_ms)
    volumes = Counter(e["service_name"] for second in arrived for e in second)
    big = [service for service, _ in volumes.most_common()]
    work = Path(tempfile.mkdtemp(prefix="logsvc-fair-"))
    result: dict[str, Any] = {"store": build(work / "data", arrived)}
    rows: list[ROW] = [
        (e["service_name"], e["level"], e["message"], e["timestamp"], json.dumps(e["metadata"]))
        for second in arrived
        for e in second
    ]
    port = free_port()
    server = start_server(
        port, work / "data", {"LOG_SERVICE_API_KEY": API_KEY}, work / "server.log"
    )
    try:
        engines: dict[str, Any] = {
            "logsvc (HTTP)": Native(port),
            "logsvc (in process)": Native(None),
        }
        for name, engine in (
            ("sqlite_rows", SqliteIlike),
            ("duckdb", SortedDuckDb),
            ("chdb", ChDbFair),
        ):
            folder = work / name
            folder.mkdir()
            try:
                engines[name] = engine(rows, folder)
            except ImportError as exc:
                result.setdefault("not installed", {})[name] = str(exc)
        made = shapes(needles, end_ms, big)
        result["shapes"] = measure(engines, made, args.samples, args.rounds)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    result["machine"] = f"{os.cpu_count()} cores"
    rendered = table(result)
    print(json.dumps(result, indent=2))
    print(rendered)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        name = f"fair-{args.logs}"
        (args.save / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.save / f"{name}.md").write_text(rendered + "\n")


if __name__ == "__main__":
    main()
