"""`logsvc serve` in a subprocess for the benchmarks that measure over HTTP."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, data_dir: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start the server on 127.0.0.1:port over data_dir and wait until /health answers."""
    logsvc = Path(sys.executable).with_name("logsvc")
    process = subprocess.Popen(
        [str(logsvc), "serve", "--port", str(port), "--data-dir", str(data_dir), "--no-schedules"],
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"logsvc serve did not start; see {log}")
