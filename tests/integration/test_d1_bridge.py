"""The D1 bridge Worker (workerd, local D1): signatures, replays, transactions, bundling."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import urllib3

from logsvc.errors import DatabaseUnavailable
from logsvc.sql import SqlError, Statement, open_database
from logsvc.sql.d1_bridge import bridge_headers
from tests.support.d1_bridge import BRIDGE, SECRET


def post(url: str, body: bytes, headers: dict) -> int:
    return urllib3.request("POST", url, body=body, headers=headers, retries=False).status


def test_unsigned_wrong_stale_and_replayed_requests_are_refused(d1_bridge_url, d1_bridge):
    body = json.dumps({"sql": "SELECT 1 AS one"}).encode()
    assert post(d1_bridge.url, body, {"Content-Type": "application/json"}) == 401
    assert post(d1_bridge.url, body, bridge_headers("wrong-secret", body)) == 401
    stale = bridge_headers(SECRET, body, now=time.time() - 120)
    assert post(d1_bridge.url, body, stale) == 401
    tampered = bridge_headers(SECRET, body)
    assert post(d1_bridge.url, body.replace(b"1", b"2"), tampered) == 401
    fresh = bridge_headers(SECRET, body)
    assert post(d1_bridge.url, body, fresh) == 200
    assert post(d1_bridge.url, body, fresh) == 401  # the same nonce again: a replay
    with pytest.raises(DatabaseUnavailable, match="secret"):
        open_database(d1_bridge.database_url, bridge_secret="wrong").query("SELECT 1")


def test_a_batch_is_one_transaction(d1_bridge_url):
    db = open_database(d1_bridge_url, bridge_secret=SECRET)
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    with pytest.raises(SqlError):
        db.batch(
            [
                Statement("INSERT INTO t VALUES (?)", ("a",)),
                Statement("INSERT INTO t VALUES (?)", ("a",)),
            ]
        )  # the second fails
    assert db.query("SELECT count(*) AS n FROM t") == [{"n": 0}]


def test_wrangler_bundles_the_bridge(tmp_path):
    environment = {**os.environ, "WRANGLER_SEND_METRICS": "false", "CI": "true"}
    result = subprocess.run(
        ["npx", "--no-install", "wrangler", "deploy", "--dry-run", "--outdir", str(tmp_path)],
        cwd=BRIDGE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "crypto.subtle.verify" in Path(tmp_path, "index.js").read_text()
