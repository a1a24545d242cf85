"""One server per data directory, and how the other commands find it.

``logsvc serve`` holds an exclusive lock on ``<data>/server.lock`` for as long as it runs
(the kernel releases it when the process ends, even on ``kill -9``) and writes
``<data>/server.json`` with its URL and pid, so ``logsvc keys`` and ``logsvc tail`` talk to
the server that is really running on that directory.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

LOCK_FILE = "server.lock"
SERVER_FILE = "server.json"


class CommandError(Exception):
    """A command cannot do what it was asked; the message is printed on one line."""


class ApiRefused(CommandError):
    """The server answered with an error status; ``body`` is its JSON answer."""

    def __init__(self, message: str, status: int, body: dict[str, Any]):
        super().__init__(message)
        self.status = status
        self.body = body


def claim(data_dir: Path) -> IO[str]:
    """Lock the data directory for this server, or say who holds it."""
    handle = (data_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        running = read_server_file(data_dir) or {}
        who = f" (pid {running['pid']}, {running['url']})" if running else ""
        raise CommandError(
            f"another logsvc serve{who} is using {data_dir}; stop it, or start this one "
            "with another --data-dir"
        ) from None
    return handle


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP by name: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # connections of sockets that say so, and with Nagle on, each response on a kept-alive
    # connection waits 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CommandError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; is another server "
            "running? choose another with --port (make run PORT=...)"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def write_server_file(data_dir: Path, url: str) -> None:
    path = data_dir / SERVER_FILE
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}) + "\n", encoding="utf-8")


def remove_server_file(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / SERVER_FILE).unlink()


def read_server_file(data_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((data_dir / SERVER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def running_url(data_dir: Path) -> str | None:
    """The URL of the server running on this data directory, if one is."""
    handle = None
    try:
        handle = (data_dir / LOCK_FILE).open("a+")
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return None  # nobody holds the lock: no server
    except BlockingIOError:
        found = read_server_file(data_dir)
        return found["url"] if found else None
    except OSError:
        return None
    finally:
        if handle is not None:
            handle.close()


def existing(data_dir: Path) -> Path:
    """The data directory, which must exist: only serve and migrate create one."""
    if not data_dir.is_dir():
        raise CommandError(
            f"no data directory at {data_dir}: start the service first (make run, or "
            "logsvc serve --data-dir ...), or pass --data-dir / LOGSVC_DATA_DIR"
        )
    return data_dir


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """--url and --api-key, with defaults from the environment and the data directory."""
    parser.add_argument(
        "--url",
        default=os.environ.get("LOGSVC_URL"),
        help="default: LOGSVC_URL, else the server running on the data directory",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LOG_SERVICE_API_KEY"),
        help="default: LOG_SERVICE_API_KEY, else the data directory's key",
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())


def server_address(args: argparse.Namespace) -> tuple[str, str]:
    """The URL and key of the server a command talks to."""
    url = args.url
    if url is None:
        data_dir = existing(args.data_dir)
        url = running_url(data_dir)
        if url is None:
            raise CommandError(
                f"no logsvc serve is running on {data_dir}: start it (make run), or pass --url"
            )
    key = args.api_key
    if key is None:
        path = args.data_dir / "api_key"
        if not path.is_file():
            raise CommandError("no API key: pass --api-key or set LOG_SERVICE_API_KEY")
        key = path.read_text(encoding="utf-8").strip()
    return url, key


def default_data_dir() -> Path:
    return Path(os.environ.get("LOGSVC_DATA_DIR", "data"))


def call_api(url: str, key: str, method: str, path: str, body: Any = None) -> Any:
    """A JSON request to a logsvc server: its JSON answer, or ApiRefused naming the status
    and the server's message."""
    if not url.startswith(("http://", "https://")):
        raise CommandError(f"--url must be http:// or https://, got {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url.rstrip("/") + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our URL
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read())
        except ValueError:
            answer = {}
        answer = answer if isinstance(answer, dict) else {}
        message = answer.get("error") or answer.get("message") or exc.reason
        raise ApiRefused(f"{url} answered {exc.code}: {message}", exc.code, answer) from None
    except OSError as exc:
        raise CommandError(f"cannot reach {url}: {exc}") from None
