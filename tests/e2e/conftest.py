"""A real `logsvc serve` process on 127.0.0.1, started once for the end-to-end tests."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests


@dataclass
class Server:
    url: str
    api_key: str
    data_dir: Path
    output: list[str] = field(default_factory=list)
    pid: int | None = None  # the server process (its memory is read from /proc)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def ingest(self, logs: list[dict]) -> list[str]:
        """Store a batch through the API (every entry accepted); its ids."""
        response = requests.post(
            f"{self.url}/api/v1/logs/ingest/batch",
            json={"logs": logs},
            headers=self.headers,
            timeout=60,
        )
        assert response.status_code == 201, response.text
        return response.json()["ids"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """If the test run is killed, the server goes too (Linux: PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The local server as `logsvc serve` starts it: default settings."""
    with running_server(tmp_path_factory.mktemp("data")) as started:
        yield started


@pytest.fixture(scope="session")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server with the opt-in protections on: rate limits, CORS, e-mail redaction."""
    settings = {
        "RATE_LIMIT_PER_MINUTE": "40",
        "BATCH_RATE_LIMIT_PER_MINUTE": "3",
        "CORS_ORIGINS": "https://app.example.com",
        "REDACT": "bearer,card,email,secret_fields",
        "REDACT_PATTERNS": '["order-[0-9]{6}"]',
    }
    with running_server(
        tmp_path_factory.mktemp("guarded"), ("--rate-limit", "--no-schedules"), settings
    ) as started:
        yield started


@contextlib.contextmanager
def running_server(
    data_dir: Path, arguments: tuple[str, ...] = (), settings: dict[str, str] | None = None
) -> Iterator[Server]:
    port = _free_port()
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LOG_SERVICE_API_KEY", "DATABASE_URL", "ARCHIVE_URL")
    }
    environment.update(settings or {})
    command = [
        str(Path(sys.executable).parent / "logsvc"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *arguments,
    ]
    process = subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_die_with_parent,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, output)
        key = (data_dir / "api_key").read_text().strip()
        yield Server(url, key, data_dir, output, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_healthy(url: str, process: subprocess.Popen, output: list[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("logsvc serve exited:\n" + "".join(output))
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or its first answer (imports, migrations) still coming
        time.sleep(0.1)
    raise RuntimeError("logsvc serve did not become healthy in 30 s:\n" + "".join(output))
