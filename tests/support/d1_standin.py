"""A local stand-in for D1's REST API: real SQL on a SQLite file, D1's envelope and errors.

Cloudflare's API cannot be reached from tests, so this serves the documented contract
(POST /client/v4/accounts/{account}/d1/database/{db}/query; {"sql","params"} or
{"batch": [...]}; Bearer token; {success, errors, messages, result[{results, success,
meta}]}) over real HTTP on 127.0.0.1, with scripted failures such as 429 + Retry-After.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from logsvc.sql.sqlite import add_missing_functions

ACCOUNT = "test-account"
DATABASE = "test-database"
TOKEN = "test-d1-token"
_PATH = re.compile(r"^/client/v4/accounts/([^/]+)/d1/database/([^/]+)/query$")


@dataclass
class Failure:
    status: int
    errors: list[dict[str, Any]]
    headers: dict[str, str] = field(default_factory=dict)
    when: str | None = None  # only requests whose SQL contains this text


class D1StandIn:
    """Start with ``with D1StandIn(path) as d1:``; ``d1.base_url`` is the API base.

    As an emulation of production (``round_trip_ms``, ``limit_per_5_minutes``): every
    request takes the round trip, statements run one at a time, and past the account's
    limit of requests in any five minutes every call is refused with 429 for five minutes,
    as Cloudflare's client API does. With ``max_bytes`` the database is capped as D1 caps
    every database at 10 GB: a write past it fails with D1's "Exceeded maximum DB size",
    and every answer's meta says the size (``size_after``), as D1's do."""

    def __init__(
        self,
        sqlite_path: str,
        *,
        round_trip_ms: float = 0,
        limit_per_5_minutes: int | None = None,
        clock: Any = time.monotonic,
        max_bytes: int | None = None,
        more_databases: dict[str, str] | None = None,
    ):
        self.sqlite_path = sqlite_path
        # Database id -> SQLite file: DATABASE and any more the account has.
        self.databases = {DATABASE: sqlite_path, **(more_databases or {})}
        self.max_bytes = max_bytes
        self.largest_sizes: dict[str, int] = {}  # database -> the largest size_after answered
        self.refused_full = 0  # writes refused for the cap
        self.requests: list[dict[str, Any]] = []
        self.round_trip_ms = round_trip_ms
        self.limit_per_5_minutes = limit_per_5_minutes
        self.clock = clock
        self.arrivals: list[float] = []  # when each request arrived (the account's window)
        self.refused = 0  # requests answered 429 for the account limit
        self._blocked_until = 0.0
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body, headers = standin._handle(self)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/client/v4"
        self.url = f"d1://{ACCOUNT}/{DATABASE}"

    def __enter__(self) -> D1StandIn:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(
        self,
        status: int,
        message: str,
        *,
        times: int = 1,
        code: int = 7500,
        headers: dict[str, str] | None = None,
        when: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests (those whose SQL contains ``when``, if given)
        with this error instead of running them."""
        for _ in range(times):
            self._failures.append(
                Failure(status, [{"code": code, "message": message}], headers or {}, when)
            )

    def _handle(self, request: BaseHTTPRequestHandler) -> tuple[int, dict, dict[str, str]]:
        match = _PATH.match(request.path)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, _failure([{"code": 10000, "message": "Authentication error"}]), {}
        if not match or match.group(1) != ACCOUNT or match.group(2) not in self.databases:
            return 404, _failure([{"code": 7404, "message": "database not found"}]), {}
        database = match.group(2)
        body = json.loads(request.rfile.read(int(request.headers["Content-Length"])))
        if self.round_trip_ms:
            time.sleep(self.round_trip_ms / 1000)
        limited = self._over_account_limit()
        if limited is not None:
            return limited
        with self._lock:
            self.requests.append(body)
            failure = next(
                (f for f in self._failures if f.when is None or f.when in json.dumps(body)), None
            )
            if failure is not None:
                self._failures.remove(failure)
                return failure.status, _failure(failure.errors), failure.headers
            try:
                statements = body.get("batch", [body])
                results = self._run(database, statements)
            except sqlite3.OperationalError as exc:
                if "full" not in str(exc):
                    return 400, _failure([{"code": 7500, "message": f"{exc}: SQLITE_ERROR"}]), {}
                self.refused_full += 1
                error = {"code": 7500, "message": "D1_ERROR: Exceeded maximum DB size"}
                return 400, _failure([error]), {}
            except sqlite3.Error as exc:
                return 400, _failure([{"code": 7500, "message": f"{exc}: SQLITE_ERROR"}]), {}
        return 200, {"result": results, "success": True, "errors": [], "messages": []}, {}

    def _over_account_limit(self) -> tuple[int, dict, dict[str, str]] | None:
        if self.limit_per_5_minutes is None:
            return None
        with self._lock:
            now = self.clock()
            self.arrivals.append(now)
            recent = sum(1 for t in self.arrivals if t > now - 300)
            if now < self._blocked_until or recent > self.limit_per_5_minutes:
                if now >= self._blocked_until:
                    self._blocked_until = now + 300
                self.refused += 1
                wait = str(int(self._blocked_until - now) + 1)
                error = [{"code": 971, "message": "Please wait and consider throttling"}]
                return 429, _failure(error), {"Retry-After": wait}
        return None

    def url_of(self, database: str) -> str:
        """The DATABASE_URL (or INDEX_SHARD_URLS entry) of one of the account's databases."""
        return f"d1://{ACCOUNT}/{database}"

    @property
    def largest_size(self) -> int:
        """The largest size any of the account's databases reached."""
        return max(self.largest_sizes.values(), default=0)

    def _run(self, database: str, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        connection = sqlite3.connect(self.databases[database], isolation_level=None)
        add_missing_functions(connection)  # D1's SQLite is newer than some Pythons' own
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        if self.max_bytes is not None:
            connection.execute(f"PRAGMA max_page_count = {self.max_bytes // page_size}")
        # D1 runs a request's statements as one transaction: all take effect or none.
        connection.execute("BEGIN IMMEDIATE")
        try:
            results = []
            for statement in statements:
                params = statement.get("params") or []
                if len(params) > 100:
                    raise sqlite3.OperationalError("too many SQL variables")
                if not params and statement["sql"].count(";") > 1:
                    connection.executescript(statement["sql"])
                    rows: list[dict[str, Any]] = []
                    changes = 0
                else:
                    cursor = connection.execute(statement["sql"], params)
                    names = [c[0] for c in cursor.description or ()]
                    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
                    changes = max(cursor.rowcount, 0)
                results.append(
                    {
                        "results": rows,
                        "success": True,
                        "meta": {
                            "changes": changes,
                            "duration": 0.1,
                            "rows_read": len(rows),
                            "rows_written": changes,
                        },
                    }
                )
            if connection.in_transaction:
                connection.execute("COMMIT")
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
            free = connection.execute("PRAGMA freelist_count").fetchone()[0]
            size = (pages - free) * page_size
            self.largest_sizes[database] = max(self.largest_sizes.get(database, 0), size)
            for result in results:
                result["meta"]["size_after"] = size
            return results
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()


def _failure(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"result": [], "success": False, "errors": errors, "messages": []}
