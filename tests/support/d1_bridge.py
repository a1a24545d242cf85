"""The D1 bridge Worker in workerd (Miniflare, with a local D1 database), for the tests."""

from __future__ import annotations

import shutil
import subprocess

from logsvc_local.project import ROOT

BRIDGE = ROOT / "workers" / "d1-bridge"
SECRET = "test-bridge-secret"
# Everything the migrations create, dropped between tests (the database lives as long as
# the Worker does).
OBJECTS = (
    ("VIEW", "logs"),
    ("TABLE", "logs"),
    ("TABLE", "log_blocks"),
    ("TABLE", "service_configs"),
    ("TABLE", "analysis_results"),
    ("TABLE", "alert_state"),
    ("TABLE", "stream_connections"),
    ("TABLE", "sampled_counts"),
    ("TABLE", "hot_windows"),
    ("TABLE", "index_placements"),
    ("TABLE", "block_words"),
    ("TABLE", "block_fields"),
    ("TABLE", "block_times"),
    ("TABLE", "d1_migrations"),
    ("TABLE", "t"),  # the SQL backend tests' own
)


class D1Bridge:
    def __init__(self) -> None:
        assert shutil.which("node"), "Node.js is needed to run workerd through Miniflare"
        self.process = subprocess.Popen(
            ["node", "test/serve.mjs", SECRET],
            cwd=BRIDGE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError("the D1 bridge did not start")
        self.database_url = f"d1-bridge+{self.url}"
        self.shard_url = f"{self.database_url}/SHARD_1"  # a second database, for shards

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
