"""Several D1 databases as one index: `logsvc serve` on two databases of an emulated D1
account (tests/support/d1_standin.py), DATABASE_URL and INDEX_SHARD_URLS."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import migrated_sqlite
from tests.e2e.conftest import running_server
from tests.e2e.test_loki import basic
from tests.support.d1_standin import DATABASE, TOKEN, D1StandIn

SERVICES = [f"svc-{n:02d}" for n in range(20)]
DAY_MS = 86_400_000


@pytest.fixture
def two_databases(tmp_path: Path):
    first, second = tmp_path / "first.sqlite", tmp_path / "second.sqlite"
    migrated_sqlite(first)  # `logsvc serve` migrates both too; here they start ready
    migrated_sqlite(second)
    with D1StandIn(str(first), more_databases={"second": str(second)}) as d1:
        settings = {
            "DATABASE_URL": d1.url_of(DATABASE),
            "INDEX_SHARD_URLS": d1.url_of("second"),
            "D1_API_TOKEN": TOKEN,
            "D1_API_BASE_URL": d1.base_url,
        }
        yield settings, {d1.url_of(DATABASE): first, d1.url_of("second"): second}


def services_in(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT DISTINCT service_name FROM log_blocks").fetchall()
    return {row[0] for row in rows}


def test_twenty_services_over_two_databases(two_databases, tmp_path):
    settings, files = two_databases
    with running_server(tmp_path / "data", ("--no-schedules",), settings) as server:
        now = int(time.time() * 1000)
        logs = [
            {
                "service_name": service,
                "level": level,
                "message": f"{service} {level} request {n}",
                "timestamp": now - 2 * DAY_MS + n * 1000,
            }
            for service in SERVICES
            for n, level in enumerate(("INFO", "ERROR", "INFO"))
        ]
        server.ingest(logs)

        # Each service's entries are found (the writer flushes within seconds).
        deadline = time.monotonic() + 20
        for service in SERVICES:
            while True:
                found = requests.get(
                    f"{server.url}/api/v1/logs/search",
                    params={"service": service, "start_time": now - 3 * DAY_MS},
                    headers=server.headers,
                    timeout=30,
                ).json()
                if len(found["logs"]) == 3 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert sorted(e["message"] for e in found["logs"]) == sorted(
                f"{service} {lv} request {n}" for n, lv in enumerate(("INFO", "ERROR", "INFO"))
            )

        # All of them, newest first, across both databases; and the service list.
        everything = requests.get(
            f"{server.url}/api/v1/logs/search",
            params={"limit": 100, "start_time": now - 3 * DAY_MS},
            headers=server.headers,
            timeout=30,
        ).json()["logs"]
        assert len(everything) == 60
        stamps = [e["timestamp"] for e in everything]
        assert stamps == sorted(stamps, reverse=True)
        listed = requests.get(
            f"{server.url}/api/v1/logs/services", headers=server.headers, timeout=30
        ).json()["services"]
        assert {s["service_name"]: s["log_count"] for s in listed} == dict.fromkeys(SERVICES, 3)

        # A Loki metric across both databases.
        errors = requests.get(
            f"{server.url}/loki/api/v1/query",
            params={
                "query": 'sum by (service_name) (count_over_time({level="error"}[3d]))',
                "time": str(now * 1_000_000),
            },
            headers=basic(server),
            timeout=30,
        ).json()["data"]["result"]
        assert {r["metric"]["service_name"]: r["value"][1] for r in errors} == dict.fromkeys(
            SERVICES, "1"
        )

        # Each database holds only the services placed in it (the first database's
        # index_placements), and both hold some.
        held = [services_in(path) for path in files.values()]
        with sqlite3.connect(next(iter(files.values()))) as connection:
            placed = connection.execute(
                "SELECT database, service_name FROM index_placements"
            ).fetchall()
        for number, services in enumerate(held):
            assert services == {service for database, service in placed if database == number}
            assert services
        assert set().union(*held) == set(SERVICES) and len(placed) == len(SERVICES)

        # Health reports each database's fill.
        health = requests.get(f"{server.url}/health", timeout=30).json()
        assert len(health["index"]) == 2

    # Cleanup with a one-day hot window expires them from both databases; the archive
    # still answers for them.
    environment = {**os.environ, **settings, "DEFAULT_TTL_DAYS": "1"}
    summary = subprocess.run(
        [
            str(Path(sys.executable).parent / "logsvc"),
            "cleanup",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(summary.stdout)["logs_deleted"] == 60
    assert all(services_in(path) == set() for path in files.values())


def logsvc(*arguments: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "logsvc"), *arguments],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_operator_lists_placements_and_moves_a_service(two_databases, tmp_path):
    settings, files = two_databases
    data = tmp_path / "data"
    with running_server(data, ("--no-schedules",), settings) as server:
        server.ingest([{"service_name": s, "level": "INFO", "message": "m"} for s in SERVICES])
        deadline = time.monotonic() + 20
        while sum(len(services_in(path)) for path in files.values()) < len(SERVICES):
            assert time.monotonic() < deadline, "the writer did not store the services"
            time.sleep(0.2)

    listed = logsvc("placements", "--data-dir", str(data), environment=settings)
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    held = [services_in(path) for path in files.values()]
    assert [set(d["services"]) for d in report["databases"]] == held
    assert all(d["bytes"] > 0 for d in report["databases"]) and report["moves_announced"] == []

    service = sorted(held[0])[0]
    moved = logsvc(
        "placements", "--data-dir", str(data), "move", service, "--to", "1", environment=settings
    )
    assert moved.returncode == 0, moved.stderr
    at = json.loads(moved.stdout)["from_ms"]
    assert 50_000 < at - time.time() * 1000 <= 60_000  # announced a minute ahead
    again = json.loads(logsvc("placements", "--data-dir", str(data), environment=settings).stdout)
    assert again["moves_announced"] == [{"service": service, "database": 1, "from_ms": at}]

    nowhere = logsvc(
        "placements", "--data-dir", str(data), "move", service, "--to", "2", environment=settings
    )
    assert nowhere.returncode == 1 and "database: 2 is not one of 0-1" in nowhere.stderr
    one = {k: v for k, v in settings.items() if k != "INDEX_SHARD_URLS"}
    single = logsvc("placements", "--data-dir", str(data), environment=one)
    assert single.returncode == 1 and "INDEX_SHARD_URLS" in single.stderr
