"""Replay's POST to a target (logsvc.archive.replay.http_post, check_target) against a real
HTTP server on 127.0.0.1 that answers as hostile or broken targets do: redirects, slow
answers, errors; and the targets replay refuses before sending anything."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from logsvc.archive.replay import ReplayFailed, check_target, http_post
from logsvc.errors import BadRequest


class Target:
    """Answers POST /<status> with that status; /slow sleeps; counts every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target.requests.append(("POST", self.path))
                if self.path == "/slow":
                    time.sleep(3)
                status = int(self.path.strip("/")) if self.path.strip("/").isdigit() else 200
                self.send_response(status)
                if status in (303, 307):
                    self.send_header("Location", "/internal")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                target.requests.append(("GET", self.path))
                body = b"internal secrets"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def target() -> Iterator[Target]:
    started = Target()
    threading.Thread(target=started.server.serve_forever, daemon=True).start()
    yield started
    started.server.shutdown()
    started.server.server_close()


@pytest.mark.parametrize("status", [303, 307])
def test_a_redirect_is_the_targets_answer_not_followed(target, status):
    answer, body = http_post(f"{target.url}/{status}", b"{}", {})
    assert answer == status and b"secrets" not in body
    assert target.requests == [("POST", f"/{status}")]  # no GET, nothing sent again


def test_an_answer_that_may_have_stored_the_batch_is_never_retried(target):
    assert http_post(f"{target.url}/500", b"{}", {})[0] == 500
    assert len(target.requests) == 1
    started = time.monotonic()
    with pytest.raises(ReplayFailed):
        http_post(f"{target.url}/slow", b"{}", {}, timeout_s=1.0)
    assert time.monotonic() - started < 2.5  # the bound holds
    assert target.requests[1:] == [("POST", "/slow")]  # sent once


def test_a_target_that_stored_nothing_is_asked_again(target):
    assert http_post(f"{target.url}/503", b"{}", {})[0] == 503
    assert len(target.requests) == 3  # 429 and 503 say nothing was stored: two retries


def test_credentials_in_the_target_url_are_never_shown(target):
    closed = target.url.rsplit(":", 1)[0] + ":9"  # nothing listens on the discard port
    url = closed.replace("http://", "http://replayer:s3cret-pass@") + "/x"
    with pytest.raises(ReplayFailed) as failed:
        http_post(url, b"{}", {}, timeout_s=1.0)
    assert "s3cret" not in failed.value.message and "replayer" not in failed.value.message


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://169.254.169.254/latest/meta-data", ()),  # cloud metadata
        ("http://[fe80::1]/x", ()),
        ("http://127.0.0.1:9001/2018-06-01/runtime", ()),  # Lambda's runtime API, in Lambda
        ("https://other.example.com/push", ("logs.example.com",)),
        ("ftp://logs.example.com/", ()),
    ],
)
def test_targets_replay_refuses_before_sending(url, allowed, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "logsvc-search")
    with pytest.raises(BadRequest) as refused:
        check_target(url, allowed)
    assert refused.value.field == "to.url"


def test_allowed_targets_pass(monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    check_target("http://127.0.0.1:8787", ())  # local replays between local servers
    check_target("https://logs.example.com/loki/api/v1/push", ("logs.example.com",))
