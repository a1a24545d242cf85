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
from logsvc.sql.migrations import apply_migrations
from logsvc_local.project import MIGRATIONS_DIR
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


def test_one_bridge_serves_several_databases_as_one_index(d1_bridge_url, d1_bridge):
    """Index shards behind one bridge Worker (/query/<binding>): real D1 in workerd says its
    size on every answer, and each database holds only the services placed in it."""
    from logsvc.entries import LogEntry
    from logsvc.filters import SearchFilters
    from logsvc.ids import entry_id
    from logsvc.store.log_index import LogIndex
    from logsvc.store.placements import Placements
    from logsvc.store.shards import ShardedIndex
    from tests.support.d1_bridge import OBJECTS

    shard = open_database(d1_bridge.shard_url, bridge_secret=SECRET)
    shard.run_script("\n".join(f"DROP {kind} IF EXISTS {name};" for kind, name in OBJECTS))
    apply_migrations(shard, MIGRATIONS_DIR)
    first = open_database(d1_bridge_url, bridge_secret=SECRET)
    index = ShardedIndex([LogIndex(first), LogIndex(shard)], Placements(first))
    services = [f"svc-{n}" for n in range(8)]
    now = 1_790_000_000_000
    entries = [
        LogEntry(entry_id(now + n), service, "INFO", f"{service} says {n}", now + n, {})
        for n, service in enumerate(services)
    ]
    index.write(index.prepare(entries, "batch-1"), {})
    placed = Placements(first).read()
    for number, db in enumerate((first, shard)):
        held = {r["service_name"] for r in db.query("SELECT service_name FROM log_blocks")}
        assert held == {s for s in services if placed[s] == [(number, placed[s][0][1])]}
        assert held  # both databases took some
        assert db.size_bytes() > 0  # D1's size_after
    found, _ = index.search(SearchFilters(start_time=now, limit=100))
    assert [e["message"] for e in found] == [e.message for e in reversed(entries)]
    body = json.dumps({"sql": "SELECT 1"}).encode()
    assert post(d1_bridge.url + "/NOT_THERE", body, bridge_headers(SECRET, body)) == 404


def test_d1_says_its_size_and_it_falls_when_rows_are_deleted(d1_bridge_url):
    """What the index's budget reads (logsvc.store.hot_windows): D1's size_after counts the
    pages in use, so deleting the oldest blocks shows as room at once."""
    db = open_database(d1_bridge_url, bridge_secret=SECRET)
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    empty = db.size_bytes()
    for _ in range(10):
        db.execute("INSERT INTO t (v) VALUES (?)", ("x" * 100_000,))
    full = db.size_bytes()
    assert full > empty + 1_000_000
    db.execute("DELETE FROM t")
    assert db.size_bytes() < empty + 100_000


def test_bodies_go_gzip_compressed_once_the_bridge_says_it_inflates_them(d1_bridge_url):
    """A writer's flush is mostly entries' JSON: compressed it is a quarter of the bytes
    billed as data out from AWS. The first request goes plain (a bridge deployed before
    it inflated would refuse gzip); every answer of this one says it takes gzip."""
    sent: list[tuple[int, str | None]] = []
    db = open_database(d1_bridge_url, bridge_secret=SECRET)
    request = db._pool.request

    def counted(method, url, body=None, headers=None, **kwargs):  # the bytes that leave
        sent.append((len(body), (headers or {}).get("Content-Encoding")))
        return request(method, url, body=body, headers=headers, **kwargs)

    db._pool.request = counted
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    rows = [f'{{"message": "GET /api/v1/orders/{n} 200 in {n % 97} ms"}}' for n in range(2000)]
    statements = [Statement("INSERT INTO t (v) VALUES (?)", (row,)) for row in rows]
    db.batch(statements)
    db.execute("SELECT 1 AS one")  # small: plain whatever the bridge takes
    assert [encoding for _, encoding in sent] == [None, "gzip", None]
    plain = len(
        json.dumps({"batch": [{"sql": s.sql, "params": list(s.params)} for s in statements]})
    )
    assert sent[1][0] < plain / 4
    assert [r["v"] for r in db.query("SELECT v FROM t ORDER BY k")] == rows


def test_compressed_bodies_are_signed_as_sent_and_inflated_within_a_bound(d1_bridge):
    import gzip

    def status(body: bytes, encoding: str, signed: bytes | None = None) -> int:
        headers = {**bridge_headers(SECRET, body if signed is None else signed)}
        headers["Content-Encoding"] = encoding
        return post(d1_bridge.url, body, headers)

    query = gzip.compress(json.dumps({"sql": "SELECT 1 AS one"}).encode())
    assert status(query, "gzip") == 200
    assert status(query, "br") == 415  # not a coding the bridge reads
    # The signature covers the bytes sent: a body compressed after signing is refused.
    assert status(query, "gzip", signed=json.dumps({"sql": "SELECT 1 AS one"}).encode()) == 401
    assert status(b"not gzip at all", "gzip") == 400
    bomb = gzip.compress(b"[" + b" " * (33 * 1024 * 1024) + b"]")  # 33 MiB inflated
    assert len(bomb) < 100_000
    assert status(bomb, "gzip") == 413


def test_a_bridge_that_does_not_inflate_gets_plain_bodies(tmp_path):
    """A bridge deployed before it read gzip (it answers without X-Bridge-Accept-Encoding
    and cannot parse a compressed body): a client that sent it gzip sends the body again,
    plain. Stood in for by a local HTTP server that answers as that version did."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[str | None] = []

    class OldBridge(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's name for it
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.headers.get("Content-Encoding"))
            try:
                json.loads(body)
                status, answer = 200, {"success": True, "errors": [], "result": [{}]}
            except ValueError:
                status = 400
                answer = {"success": False, "errors": [{"message": "body is not JSON"}]}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), OldBridge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        db = open_database(
            f"d1-bridge+http://127.0.0.1:{server.server_port}/query", bridge_secret=SECRET
        )
        big = [Statement("INSERT INTO t VALUES (?)", ("x" * 10_000,))] * 2
        db.batch(big)
        db._gzip = True  # as after answers of a newer bridge, since rolled back
        db.batch(big)
        assert received == [None, "gzip", None]
        assert not db._gzip
    finally:
        server.shutdown()
