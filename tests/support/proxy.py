"""A proxy on 127.0.0.1 in front of the local server: records what passes, and can answer
with an error for a while (or always) instead of forwarding."""

from __future__ import annotations

import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Proxy:
    def __init__(
        self,
        upstream: str | None,
        *,
        fail_for: float = 0.0,
        fail_status: int = 503,
        lose_answers: bool = False,
        port: int = 0,
    ):
        """``lose_answers``: while failing, forward the request first, then answer with the
        error anyway, as when a response is lost after the service stored the request."""
        self.bodies: list[bytes] = []  # every request body received
        self.failures = 0
        recover_at = time.monotonic() + fail_for
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.bodies.append(body)
                if upstream is None or time.monotonic() < recover_at:
                    proxy.failures += 1
                    if lose_answers and upstream is not None:
                        self._forward(body)
                    self._answer(fail_status, b"")
                    return
                status, data = self._forward(body)
                self._answer(status, data)

            def _forward(self, body: bytes) -> tuple[int, bytes]:
                request = urllib.request.Request(
                    upstream + self.path,
                    data=body,
                    method="POST",
                    headers={
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() in ("authorization", "content-type", "idempotency-key")
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        return answer.status, answer.read()
                except urllib.error.HTTPError as error:
                    return error.code, error.read()

            def _answer(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
