"""Replay over real HTTP: from one `logsvc serve` to another (its batch ingest, its OTLP and
its Loki push endpoints), and back into the index with `logsvc replay`, idempotently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import Server, _free_port, running_server

pytestmark = pytest.mark.e2e
DAY = 86_400_000


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("target")) as started:
        yield started


def stored(server: Server, service: str) -> int:
    body = requests.get(
        f"{server.url}/api/v1/logs/stats/{service}", headers=server.headers, timeout=10
    ).json()
    return body["total"]


def settled(server: Server, service: str, expected: int, seconds: float = 30) -> int:
    """The service's count once the writer has flushed (or what it is after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while (count := stored(server, service)) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return count


def replay(server: Server, body: dict, key: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else server.headers
    return requests.post(
        f"{server.url}/api/v1/admin/replay", json=body, headers=headers, timeout=60
    )


def archived(server: Server, count: int, days_ago: float = 1) -> tuple[str, int, int]:
    service = f"replayed-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    start = now - int(days_ago * DAY)
    logs = [
        {
            "service_name": service,
            "level": ("INFO", "ERROR")[i % 2],
            "message": f"event {i}",
            "timestamp": start + i,
            "metadata": {"i": i, "route": "/pay"},
        }
        for i in range(count)
    ]
    for first in range(0, count, 1000):
        server.ingest(logs[first : first + 1000])
    settled(server, service, count)
    return service, start, start + count


def test_replay_to_another_logsvc_is_idempotent(server, target):
    service, start, end = archived(server, 2500)
    body = {
        "service": service,
        "start_time": start,
        "end_time": end,
        "to": {"url": target.url, "format": "logsvc", "api_key": target.api_key},
    }
    first = replay(server, body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "service": service,
        "start_time": start,
        "end_time": end,
        "target": f"logsvc {target.url}/",  # as pydantic writes the URL
        "entries": 2500,
        "batches": 3,
        "complete": True,
        "next_start_time": None,
    }
    assert (first.json()["entries"], first.json()["batches"], first.json()["complete"]) == (
        2500,
        3,
        True,
    )
    assert settled(target, service, 2500) == 2500
    again = replay(server, body)
    assert again.status_code == 200
    time.sleep(5)  # past a writer flush
    assert stored(target, service) == 2500  # the same batches, the same Idempotency-Keys
    found = requests.get(
        f"{target.url}/api/v1/logs/search",
        params={"service": service, "q": "event 2499"},
        headers=target.headers,
        timeout=10,
    ).json()["logs"]
    assert [(e["message"], e["timestamp"], e["metadata"]) for e in found] == [
        ("event 2499", start + 2499, {"i": 2499, "route": "/pay"})
    ]


@pytest.mark.parametrize(("form", "path"), [("otlp", "/v1/logs"), ("loki", "/loki/api/v1/push")])
def test_replay_to_otlp_and_loki_receivers(server, target, form, path):
    service, start, end = archived(server, 300)
    body = {
        "service": service,
        "start_time": start,
        "end_time": end,
        "to": {"url": target.url + path, "format": form, "api_key": target.api_key},
    }
    answer = replay(server, body)
    assert answer.status_code == 200, answer.text
    assert settled(target, service, 300) == 300
    errors = requests.get(
        f"{target.url}/api/v1/logs/search",
        params={"service": service, "level": "ERROR", "limit": 1000},
        headers=target.headers,
        timeout=10,
    ).json()["logs"]
    assert len(errors) == 150


def logsvc(
    *arguments: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "logsvc"), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(environment or {})},
    )


def test_the_cli_replays_entries_past_the_hot_window_back_into_the_index(server):
    service, start, end = archived(server, 1200, days_ago=20)
    cleaned = logsvc("cleanup", "--data-dir", str(server.data_dir))
    assert cleaned.returncode == 0, cleaned.stderr
    assert stored(server, service) == 0  # past the 7-day hot window: in the archive only
    arguments = (
        "replay",
        "--data-dir",
        str(server.data_dir),
        "--service",
        service,
        "--from",
        str(start),
        "--to",
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((end + 1000) / 1000)) + "Z",
        "--into-index",
    )
    for _ in range(2):  # twice: nothing is stored twice
        done = logsvc(*arguments)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["entries"] == 1200
        assert stored(server, service) == 1200


def test_bad_replays_are_clear_errors_and_send_nothing(server, target):
    service, start, end = archived(server, 10)
    now = int(time.time() * 1000)
    base = {"service": service, "start_time": start, "end_time": end}
    cases = [
        ({**base, "end_time": now, "to": "index"}, 400, "end_time"),  # still in the index
        ({**base, "to": {"url": "ftp://example.invalid/x"}}, 400, "to"),
        ({**base, "to": {"url": target.url, "format": "syslog"}}, 400, "to"),
        ({**base, "start_time": end, "end_time": start, "to": "index"}, 400, "start_time"),
        ({k: v for k, v in base.items() if k != "end_time"} | {"to": "index"}, 400, "end_time"),
    ]
    for body, status, field in cases:
        answer = replay(server, body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["field"].startswith(field), (body, answer.json())
    closed = f"http://127.0.0.1:{_free_port()}"
    unreachable = replay(server, {**base, "to": {"url": closed}})
    assert unreachable.status_code == 502
    assert unreachable.json()["field"] == "target"
    refused = replay(server, {**base, "to": {"url": target.url, "api_key": "wrong"}})
    assert refused.status_code == 502 and "401" in refused.json()["error"]


def test_only_admin_keys_may_replay(server):
    created = requests.post(
        f"{server.url}/api/v1/admin/keys",
        json={"name": "reader", "scopes": ["read"]},
        headers=server.headers,
        timeout=10,
    ).json()
    answer = replay(
        server,
        {"service": "x", "start_time": 0, "end_time": 1, "to": "index"},
        key=created["key"],
    )
    assert answer.status_code == 403


def test_the_cli_says_where_the_targets_key_comes_from_when_refused(server, target):
    service, start, end = archived(server, 5)
    arguments = ("replay", "--data-dir", str(server.data_dir), "--service", service)
    arguments += ("--from", str(start), "--to", str(end + 1), "--url", target.url)
    without = logsvc(*arguments, environment={"LOGSVC_TARGET_KEY": ""})
    assert without.returncode == 1
    assert (
        "answered 401" in without.stderr and "LOGSVC_TARGET_KEY, which is empty" in without.stderr
    )
    wrong = logsvc(*arguments, environment={"LOGSVC_TARGET_KEY": "not-the-key"})
    assert "LOGSVC_TARGET_KEY, which holds a key the target refused" in wrong.stderr
