"""Loki's tail over WebSocket (``GET /loki/api/v1/tail``), on the local server's live tail.

Grafana's Loki data source connects with ``query`` (a LogQL log query), ``start`` and
``limit``. The connection is authenticated and subscribed like any live-tail client (by
the stream function), to the selector's service when it names one; each delivered entry
then goes through the query's matchers and pipeline, and what passes is sent in Loki's
frame, ``{"streams": [{"stream": {labels}, "values": [["<ns>", "<line>"]]}],
"dropped_entries": [...]}``. The first frame holds the entries since ``start`` (at most
``limit``), oldest first.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from logsvc import components
from logsvc.clock import now_ms
from logsvc.errors import ApiError, BadRequest
from logsvc.loki import engine as loki_engine
from logsvc.loki.http import int_param, time_param
from logsvc.loki.logql import LogQuery, parse
from logsvc_local.stream import HEARTBEAT_SECONDS, Connection, stream_endpoint

TAIL_PATH = "/loki/api/v1/tail"
DEFAULT_LOOKBACK_MS = 3_600_000
MAX_DROPPED_REPORTED = 100


class LokiTail:
    def __init__(self, query: LogQuery, start_ms: int, limit: int):
        self.query = query
        self.start_ms = start_ms
        self.limit = limit
        services = [m.value for m in query.matchers if m.label == "service_name" and m.op == "="]
        self.subscription: dict[str, Any] = {"services": services[:1]} if services else {}
        self.dropped_entries: list[dict[str, Any]] = []

    def render(self, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Loki's frame for the entries that pass the query, or None when none does."""
        streams: dict[tuple, dict[str, Any]] = {}
        for entry in entries:
            labels = loki_engine.stream_labels(entry)
            if not all(m.matches(labels) for m in self.query.matchers):
                continue
            line = loki_engine.run_pipeline(self.query.stages, labels, entry)
            if line is None:
                continue
            key = tuple(sorted(line.labels.items()))
            stream = streams.setdefault(key, {"stream": dict(key), "values": []})
            stream["values"].append([str(line.timestamp_ms * 1_000_000), line.line])
        if not streams and not self.dropped_entries:
            return None
        frame: dict[str, Any] = {"streams": list(streams.values())}
        if self.dropped_entries:
            frame["dropped_entries"], self.dropped_entries = self.dropped_entries, []
        return frame

    def dropped(self, evicted: str) -> None:
        """A message the connection's buffer let go: its entries are reported as dropped."""
        for entry in _logs_of(evicted):
            if len(self.dropped_entries) < MAX_DROPPED_REPORTED:
                self.dropped_entries.append(
                    {
                        "labels": loki_engine.stream_labels(entry),
                        "timestamp": str(entry["timestamp"] * 1_000_000),
                    }
                )

    async def send_all(self, connection: Connection) -> None:
        """The backfill, then each delivered message as a frame (an empty one when idle)."""
        engine = loki_engine.Engine(components.log_index())
        lines = await run_in_threadpool(
            engine.lines, self.query, self.start_ms, now_ms(), self.limit, True
        )
        first = self.render([line.entry for line in lines]) or {"streams": []}
        await connection.websocket.send_text(json.dumps(first))
        while True:
            try:
                data = await asyncio.wait_for(connection.buffer.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                frame = self.render([]) or {"streams": []}
            else:
                frame = self.render(_logs_of(data))
            if frame is not None:
                await connection.websocket.send_text(json.dumps(frame))


def _logs_of(data: str) -> list[dict[str, Any]]:
    try:
        message = json.loads(data)
    except ValueError:
        return []
    return message.get("logs", []) if message.get("type") == "logs" else []


async def loki_tail_endpoint(websocket: WebSocket) -> None:
    params = websocket.query_params
    try:
        query = parse(params.get("query") or "")
        if not isinstance(query, LogQuery):
            raise BadRequest("query: tail takes a log query, not a metric query", field="query")
        start = time_param(params.get("start"), now_ms() - DEFAULT_LOOKBACK_MS, "start")
        limit = min(int_param(params.get("limit"), 100, "limit"), loki_engine.MAX_ENTRIES)
    except ApiError as exc:
        await websocket.accept()
        await websocket.close(code=1008, reason=exc.message[:120])
        return
    await stream_endpoint(websocket, loki=LokiTail(query, start, limit))
