"""`logsvc tail`: print entries as they arrive over the live-tail WebSocket."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from logsvc.routes import STREAM_PATH
from logsvc_local.instance import CommandError

COLOURS = {
    "DEBUG": "\033[2m",
    "INFO": "\033[36m",
    "WARN": "\033[33m",
    "ERROR": "\033[31m",
    "CRITICAL": "\033[1;41m",
}
RESET = "\033[0m"


DIM = "\033[2m"


def format_entry(log: dict[str, Any], colour: bool) -> str:
    """One line: time, level, service, message, then the metadata as key=value pairs
    (nested values as compact JSON; a multi-line message stays on its lines)."""
    when = datetime.fromtimestamp(log["timestamp"] / 1000, tz=UTC).strftime("%H:%M:%S.%f")[:-3]
    level = f"{log['level']:<8}"
    if colour:
        level = f"{COLOURS.get(log['level'], '')}{level}{RESET}"
    line = f"{when} {level} {log['service_name']}: {log['message']}"
    fields = " ".join(
        f"{key}={_value(value)}" for key, value in (log.get("metadata") or {}).items()
    )
    if fields:
        line += f"  {DIM}{fields}{RESET}" if colour else f"  {fields}"
    return line


def _value(value: Any) -> str:
    """A string as it is (quoted when it has spaces, quotes or = in it), anything else as
    compact JSON."""
    if not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    plain = value and not any(c in value for c in ' "=\n')
    return value if plain else json.dumps(value, ensure_ascii=False)


def tail(
    url: str,
    api_key: str,
    services: list[str],
    level: str | None,
    q: str | None,
    out: TextIO = sys.stdout,
) -> None:
    """Subscribe and print until interrupted (or the server closes the connection)."""
    stream = url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/")
    colour = out.isatty()
    subscription = {"action": "subscribe", "services": services or None, "min_level": level, "q": q}
    try:
        websocket = connect(
            stream + STREAM_PATH, additional_headers={"Authorization": f"Bearer {api_key}"}
        )
    except InvalidStatus as exc:
        raise CommandError(f"{url} refused live tail (HTTP {exc.response.status_code})") from None
    except (OSError, InvalidHandshake) as exc:
        raise CommandError(f"cannot reach {url}: {exc}") from None
    with websocket:
        websocket.send(json.dumps({k: v for k, v in subscription.items() if v}))
        for raw in websocket:
            message = json.loads(raw)
            if message["type"] == "logs":
                for log in message["logs"]:
                    print(format_entry(log, colour), file=out, flush=True)
            elif message["type"] == "dropped":
                print(
                    f"... {message['count']} entries dropped (the terminal fell behind)",
                    file=sys.stderr,
                    flush=True,
                )
            elif message["type"] == "error":
                raise CommandError(message["error"])
