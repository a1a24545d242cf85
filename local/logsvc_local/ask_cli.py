"""``logsvc ask "..."``: a question in plain words, answered by the server's ask route
(the LogQL it became, what it means, then what it found). ``--json`` prints the route's
answer as it is. Times like "since 9am" are read in this machine's time zone unless
``--time-zone`` names another.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from logsvc_local.instance import ApiRefused, call_api, server_address

ASK_PATH = "/api/v1/logs/ask"
MESSAGE_CHARS = 160


def add_parser(
    commands: argparse._SubParsersAction,
    add_server_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    ask = commands.add_parser(
        "ask", help='ask in plain words: logsvc ask "checkout errors in the last hour"'
    )
    ask.add_argument("question", nargs="+", help="the question (quotes optional)")
    ask.add_argument("--service", help="only this service")
    ask.add_argument("--time-zone", default=None, help="IANA zone (default: this machine's)")
    ask.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    add_server_options(ask)


def run(args: argparse.Namespace) -> int:
    url, key = server_address(args)
    body: dict[str, Any] = {
        "question": " ".join(args.question),
        "time_zone": args.time_zone or local_zone(),
    }
    if args.service:
        body["service"] = args.service
    try:
        answer = call_api(url, key, "POST", ASK_PATH, body)
    except ApiRefused as refused:
        if refused.status != 422:
            raise
        print(f"not understood: {refused.body.get('error', '')}", file=sys.stderr)
        for suggestion in refused.body.get("suggestions", []):
            print(f"  try: {suggestion}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 0
    print(f"LogQL: {answer['logql']}")
    window = f"{_time(answer['start'])} to {_time(answer['end'])}"
    step = f", step {answer['step']}" if answer.get("step") else ""
    print(f"       {window}{step} ({answer['translator']})")
    print(answer["explanation"])
    print()
    for line in shown(answer["kind"], answer["result"]):
        print(line)
    return 0


def shown(kind: str, result: Any) -> list[str]:
    """The result as lines of text: entries, one series per line, or patterns."""
    if kind == "patterns":
        found = [(sum(c for _, c in p["samples"]), p["pattern"]) for p in result]
        return [f"{count:>7}  {pattern}" for count, pattern in found] or ["no patterns"]
    if result["resultType"] == "matrix":
        lines = []
        for series in result["result"]:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(series["metric"].items())) or "all"
            values = [float(v) for _, v in series["values"]]
            total = f"{sum(values):g}" if values else "0"
            lines.append(
                f"{labels}: {total} in {len(values)} points, peak {max(values, default=0):g}"
            )
        return lines or ["no data"]
    entries = sorted(
        (
            (int(ts), stream["stream"], line)
            for stream in result["result"]
            for ts, line in stream["values"]
        ),
        key=lambda e: e[0],
        reverse=True,
    )
    return [_entry_line(ts, labels, line) for ts, labels, line in entries] or ["no entries"]


def _entry_line(ts: int, labels: dict[str, str], line: str) -> str:
    first = line.splitlines()[0][:MESSAGE_CHARS] if line else ""
    service, level = labels.get("service_name", "-"), labels.get("level", "-").upper()
    return f"{_time(ts // 1_000_000)}  {service}  {level:<8} {first}"


def local_zone() -> str:
    """This machine's IANA time zone: TZ, else /etc/localtime's target, else UTC."""
    zone = os.environ.get("TZ", "").lstrip(":")
    if "/" in zone or zone == "UTC":
        return zone
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return "UTC"
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "UTC"


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
