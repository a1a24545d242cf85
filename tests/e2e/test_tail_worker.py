"""The tail forwarder in the real Workers runtime (workerd, through Miniflare): a producer
Worker that logs, errors and throws has the forwarder as its tail consumer, and the
forwarder posts to the local server (or a proxy in front of it)."""

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from logsvc_local.project import ROOT
from tests.support.proxy import Proxy

pytestmark = pytest.mark.e2e
WORKER = ROOT / "workers" / "tail-forwarder"


class Workers:
    """`node test/run.mjs`: workerd up, the requests sent; stop() ends it."""

    def __init__(
        self,
        endpoint: str,
        key: str,
        *paths: str,
        max_bytes: int | None = None,
        attempts: int | None = None,
        retry_seconds: int | None = None,
    ):
        assert shutil.which("node"), "Node.js is needed to run workerd through Miniflare"
        assert (WORKER.parent / "node_modules" / "miniflare").is_dir(), "run `make install` first"
        command = ["node", "test/run.mjs", endpoint, key, *paths]
        if max_bytes:
            command += ["--max-bytes", str(max_bytes)]
        if attempts:
            command += ["--attempts", str(attempts)]
        if retry_seconds:
            command += ["--retry-seconds", str(retry_seconds)]
        self.process = subprocess.Popen(
            command,
            cwd=WORKER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if line.strip() == "done":
                return
        self.stop()
        raise RuntimeError("workerd did not run the requests:\n" + "".join(self.lines))

    def stop(self) -> str:
        if self.process.poll() is None:
            try:  # communicate() closes stdin: run.mjs then disposes of workerd
                rest, _ = self.process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                rest, _ = self.process.communicate()
            self.lines.append(rest or "")
        return "".join(self.lines)


def wait_for(condition, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def total(server, service):
    return requests.get(
        f"{server.url}/api/v1/logs/stats/{service}", headers=server.headers, timeout=10
    ).json()["total"]


def test_console_calls_exceptions_and_cron_runs_arrive(server):
    endpoint = f"{server.url}/api/v1/logs/tail?fallback_service=workerd-e2e"
    workers = Workers(endpoint, server.api_key, "/", "/throw", "@scheduled")
    try:
        assert "/ 200" in "".join(workers.lines) and "/throw 500" in "".join(workers.lines)
        assert wait_for(lambda: total(server, "workerd-e2e") == 8)
    finally:
        output = workers.stop()
    assert "Uncaught" not in output
    logs = requests.get(
        f"{server.url}/api/v1/logs/search",
        headers=server.headers,
        params={"service": "workerd-e2e"},
        timeout=10,
    ).json()["logs"]
    assert {log["source_type"] for log in logs} == {"tail"}
    by_message = {log["message"]: log for log in logs}
    assert by_message["slow upstream 1234"]["level"] == "WARN"
    assert by_message["debug detail"]["level"] == "DEBUG"
    payment = by_message['payment failed {"code":"CARD_DECLINED"}']
    assert (payment["level"], payment["metadata"]["event_kind"]) == ("ERROR", "fetch")
    assert payment["metadata"]["request"]["method"] == "GET"
    assert payment["metadata"]["response_status"] == 200
    thrown = by_message["TypeError: cannot read properties of undefined (reading 'price')"]
    assert thrown["metadata"]["exception"]["name"] == "TypeError"
    assert thrown["metadata"]["outcome"] == "exception"
    cron = by_message["cron ran */5 * * * *"]
    assert (cron["metadata"]["event_kind"], cron["metadata"]["cron"]) == (
        "scheduled",
        "*/5 * * * *",
    )


def test_a_failing_service_is_retried_then_given_up_without_throwing(server):
    always_503 = Proxy(None)
    workers = Workers(f"{always_503.url}/api/v1/logs/tail", server.api_key, "/", attempts=3)
    try:
        assert "/ 200" in "".join(workers.lines)  # the producer is not affected
        assert wait_for(lambda: always_503.failures >= 3)
        time.sleep(1.5)  # no fourth attempt
    finally:
        output = workers.stop()
        always_503.close()
    assert always_503.failures == 3
    assert "gave up on 1 batch" in output
    assert "Uncaught" not in output


def test_an_oversize_payload_is_split_and_fully_delivered(server):
    proxy = Proxy(server.url)
    endpoint = f"{proxy.url}/api/v1/logs/tail?fallback_service=workerd-big"
    workers = Workers(endpoint, server.api_key, "/big?count=60", max_bytes=20_000)
    try:
        assert wait_for(lambda: total(server, "workerd-big") == 60)
    finally:
        workers.stop()
        proxy.close()
    assert len(proxy.bodies) >= 3
    assert all(len(body) <= 20_000 for body in proxy.bodies)
    delivered = [json.loads(body) for body in proxy.bodies]
    assert sum(len(item["logs"]) for body in delivered for item in body) == 60


def search(server, service: str, **params) -> list[dict]:
    return requests.get(
        f"{server.url}/api/v1/logs/search",
        headers=server.headers,
        params={"service": service, "limit": 1000, **params},
        timeout=10,
    ).json()["logs"]


def test_a_split_failed_invocation_reports_its_exception_once(server):
    endpoint = f"{server.url}/api/v1/logs/tail?fallback_service=workerd-split-throw"
    proxy = Proxy(server.url)
    endpoint = endpoint.replace(server.url, proxy.url)
    workers = Workers(endpoint, server.api_key, "/big-throw?count=600", max_bytes=50_000)
    try:
        assert "/big-throw?count=600 500" in "".join(workers.lines)
        assert wait_for(lambda: total(server, "workerd-split-throw") >= 601)
        time.sleep(1)  # anything extra would have arrived with the rest
    finally:
        workers.stop()
        proxy.close()
    assert len(proxy.bodies) >= 4  # the invocation was split
    items = [item for body in proxy.bodies for item in json.loads(body)]
    firsts = [item for item in items if not item.get("continuation")]
    assert len(firsts) == 1 and firsts[0]["exceptions"]  # the parts go out in parallel
    assert all(not item["exceptions"] for item in items if item.get("continuation"))
    errors = search(server, "workerd-split-throw", level="ERROR")
    assert [e["message"] for e in errors] == ["RangeError: ran out of lines"]
    assert total(server, "workerd-split-throw") == 601  # 600 lines and the exception


def test_the_service_down_for_3_s_loses_nothing_and_stores_nothing_twice(server):
    with socket.socket() as sock:  # a port where, for now, nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}/api/v1/logs/tail?fallback_service=workerd-restart"
    paths = ["/", "/throw", "/", "/throw", "/"]
    workers = Workers(endpoint, server.api_key, *paths)
    try:
        time.sleep(3)  # the service comes back...
        # ...and, while it was away, answers get lost after it stored a request
        proxy = Proxy(server.url, port=port, fail_for=1.0, lose_answers=True)
        assert wait_for(lambda: total(server, "workerd-restart") >= 3 * 5 + 2 * 2)
        time.sleep(2)
    finally:
        output = workers.stop()
        proxy.close()
    # Every console call, exception and outcome exactly once: 5 per "/", and for "/throw"
    # its console.log and the exception.
    assert total(server, "workerd-restart") == 3 * 5 + 2 * 2, output
    assert "gave up" not in output
    bodies = b"".join(proxy.bodies)
    assert b"SECRET-COOKIE" not in bodies and b"SECRET-AUTH" not in bodies


def test_wrangler_bundles_the_forwarder(tmp_path):
    environment = {**os.environ, "WRANGLER_SEND_METRICS": "false", "CI": "true"}
    result = subprocess.run(
        ["npx", "--no-install", "wrangler", "deploy", "--dry-run", "--outdir", str(tmp_path)],
        cwd=WORKER,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    bundle = Path(tmp_path, "index.js").read_text()
    assert "tail-forwarder" in bundle and "async tail(" in bundle
