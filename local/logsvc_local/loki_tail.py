"""Loki's tail over WebSocket (``GET /loki/api/v1/tail``) on the local server.

Grafana's Loki data source connects with ``query`` (a LogQL log query), ``start`` and
``limit``. The stream function authenticates the connection and subscribes it with the
query, as it does on AWS's stream API; the publisher then sends the entries that pass the
query's pipeline in Loki's frame, ``{"streams": [...]}``. Here the first frame holds the
entries since ``start`` (at most ``limit``, oldest first), and entries a slow client missed
are reported in the next frame's ``dropped_entries``.
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
from logsvc.loki import pipeline
from logsvc.loki.expressions import LogQuery
from logsvc.loki.logql import parse
from logsvc.loki.params import int_param, time_param
from logsvc_local.stream import HEARTBEAT_SECONDS, Connection, stream_endpoint

TAIL_PATH = "/loki/api/v1/tail"
DEFAULT_LOOKBACK_MS = 3_600_000
MAX_DROPPED_REPORTED = 100


class LokiTail:
    def __init__(self, query: LogQuery, start_ms: int, limit: int):
        self.query = query
        self.start_ms = start_ms
        self.limit = limit
        self.dropped_entries: list[dict[str, Any]] = []

    def dropped(self, evicted: str) -> None:
        """A frame the connection's buffer let go: its entries are reported as dropped."""
        try:
            streams = json.loads(evicted).get("streams", [])
        except (ValueError, AttributeError):
            return
        for stream in streams:
            for timestamp, _ in stream.get("values", []):
                if len(self.dropped_entries) < MAX_DROPPED_REPORTED:
                    self.dropped_entries.append(
                        {"labels": stream["stream"], "timestamp": timestamp}
                    )

    async def send_all(self, connection: Connection) -> None:
        """The backfill, then each delivered frame (an empty one when idle)."""
        engine = loki_engine.Engine(components.querier())
        # As Loki: the newest ``limit`` lines since ``start``, sent oldest first.
        lines = await run_in_threadpool(
            engine.lines, self.query, self.start_ms, now_ms(), self.limit
        )
        # The lines have been through the query already: grouped, not filtered again.
        backfill = pipeline.streams_of((line.labels, line.value()) for line in reversed(lines))
        await connection.websocket.send_text(json.dumps({"streams": backfill}))
        while True:
            try:
                frame = json.loads(
                    await asyncio.wait_for(connection.buffer.get(), HEARTBEAT_SECONDS)
                )
            except TimeoutError:
                frame = {"streams": []}
            if "streams" not in frame:
                continue  # the stream function's own messages (acknowledgements)
            if self.dropped_entries:
                frame["dropped_entries"], self.dropped_entries = self.dropped_entries, []
            await connection.websocket.send_text(json.dumps(frame))


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
