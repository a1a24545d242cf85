"""Small bodies that would expand into huge ones, against a real server: each is answered
within 1 s and raises the server's peak memory by less than 64 MB, and an ordinary ingest
sent meanwhile is not held up."""

import gzip
import json
import threading
import time
from pathlib import Path

import pytest
import requests
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.e2e.conftest import running_server

MB = 1024 * 1024


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def million_empty_otlp_records() -> bytes:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for _ in range(10_000):
        records.add()
    return gzip.compress(request.SerializeToString() * 100)  # 100 resource_logs


ATTACKS = {
    "otlp protobuf, a million empty records": (
        "/v1/logs",
        million_empty_otlp_records,
        {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    ),
    "otlp json, a million empty records": (
        "/v1/logs",
        lambda: gzip.compress(
            b'{"resourceLogs":[{"scopeLogs":[{"logRecords":['
            + b",".join([b"{}"] * 1_000_000)
            + b"]}]}]}"
        ),
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    ),
    "otlp json, a gzip bomb": (
        "/v1/logs",
        lambda: gzip.compress(b'{"resourceLogs":[]}' + b" " * (512 * MB)),
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    ),
    "tail, a million empty console calls": (
        "/api/v1/logs/tail",
        lambda: json.dumps([{"logs": [{}] * 1_000_000}]).encode(),
        {"Content-Type": "application/json"},
    ),
    "batch, metadata of a million empty objects": (
        "/api/v1/logs/ingest/batch",
        lambda: (
            b'{"logs":[{"service_name":"a","level":"INFO","message":"m","metadata":{"a":['
            + b",".join([b"{}"] * 1_000_000)
            + b"]}}]}"
        ),
        {"Content-Type": "application/json"},
    ),
    "otlp json, nested 100,000 deep": (
        "/v1/logs",
        lambda: b"[" * 100_000,
        {"Content-Type": "application/json"},
    ),
}


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("amplification"), ("--no-schedules",)) as server:
        pid = json.loads((server.data_dir / "server.json").read_text())["pid"]
        # Warm every route once, so imports are not counted as the attack's memory.
        for path in ("/v1/logs", "/api/v1/logs/tail", "/api/v1/logs/ingest/batch"):
            requests.post(server.url + path, headers=server.headers, data=b"{}", timeout=10)
        yield server, pid


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_expanding_body_is_cheap_to_refuse(target, name):
    server, pid = target
    path, make_body, headers = ATTACKS[name]
    body = make_body()
    assert len(body) <= 6 * MB
    before = peak_rss_bytes(pid)
    ordinary: list[float] = []

    def ingest_meanwhile() -> None:
        time.sleep(0.05)  # while the hostile body is on its way
        started = time.monotonic()
        requests.post(
            f"{server.url}/api/v1/logs/ingest",
            headers=server.headers,
            json={"service_name": "bystander", "level": "INFO", "message": "hello"},
            timeout=30,
        ).raise_for_status()
        ordinary.append(time.monotonic() - started)

    bystander = threading.Thread(target=ingest_meanwhile)
    started = time.monotonic()
    bystander.start()
    answer = requests.post(
        server.url + path, headers={**server.headers, **headers}, data=body, timeout=30
    )
    elapsed = time.monotonic() - started
    bystander.join()
    grown = peak_rss_bytes(pid) - before
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert elapsed < 1.0, f"{name}: {elapsed:.2f} s"
    assert grown < 64 * MB, f"{name}: peak memory grew {grown / MB:.0f} MB"
    assert ordinary[0] < 1.0
