"""Replay: archived entries of a service and time range sent again, oldest first, in batches
of up to 1000, to another logsvc (its batch ingest), an OTLP/HTTP logs endpoint, a Loki push
endpoint, or back into this index.

Idempotent: the batches of a replay are always the same (entries ordered by time and id),
and each carries an Idempotency-Key made from the replay and its first entry, so running a
replay again stores nothing twice at a logsvc target (within its 24-hour receipts); Loki
drops an entry it already holds (same stream, time and line); into the index, block ids
derive from the same key and INSERT OR IGNORE keeps the first copy. OTLP has no such key:
a receiver may store a replayed batch twice.

Into the index, only entries that have left it (before the service's hot window) can be
replayed, else they would be there twice; they stay until the next cleanup unless the
service's ttl_days is raised first.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import orjson

from logsvc.archive.duckdb_engine import DuckDbArchive
from logsvc.archive.query import ArchiveQuery
from logsvc.entries import LogEntry
from logsvc.errors import ApiError, BadRequest
from logsvc.ids import derived_id

BATCH = 1000
POST_SECONDS = 15.0  # a batch's POST at most, retries included (the route answers in 20 s)
Format = Literal["logsvc", "otlp", "loki"]
# OTLP severity numbers of the service's levels (the OTLP spec's ranges' first values).
_SEVERITY = {"DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "CRITICAL": 21}


class ReplayFailed(ApiError):
    """The target refused a batch (or could not be reached); what was sent before stays."""

    status_code = 502


@dataclass(frozen=True)
class ReplayTarget:
    url: str | None = None  # None: this index
    format: Format = "logsvc"
    api_key: str | None = None

    def describe(self) -> str:
        return "index" if self.url is None else f"{self.format} {self.url}"


@dataclass
class ReplaySummary:
    service: str
    start_time: int
    end_time: int
    target: str
    entries: int = 0
    batches: int = 0
    complete: bool = True
    next_start_time: int | None = None  # when not complete: replay again from here

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Replayer:
    def __init__(
        self,
        engine: DuckDbArchive,
        write_index: Callable[[list[LogEntry], str], None],
        hot_since: Callable[[str], int],
        post: Callable[[str, bytes, dict[str, str], float], tuple[int, bytes]] | None = None,
        allowed_hosts: tuple[str, ...] = (),
    ):
        self.engine = engine
        self.write_index = write_index
        self.hot_since = hot_since
        self.post = post or http_post
        self.allowed_hosts = tuple(host.lower() for host in allowed_hosts)

    def run(
        self,
        service: str,
        start: int,
        end: int,
        target: ReplayTarget,
        *,
        time_left_s: Callable[[], float] | None = None,
    ) -> ReplaySummary:
        """Replay; with ``time_left_s`` stop between batches when under 5 s remain, the
        summary then saying where to go on from."""
        if start > end:
            raise BadRequest("start_time: must not be after end_time", field="start_time")
        if target.url is not None:
            check_target(target.url, self.allowed_hosts)
        if target.url is None and end >= self.hot_since(service):
            raise BadRequest(
                f"end_time: only entries that have left the index can be replayed into it; "
                f"end before {self.hot_since(service)} (the start of {service}'s hot window)",
                field="end_time",
            )
        summary = ReplaySummary(service, start, end, target.describe())
        query = ArchiveQuery(start, end, (service,), oldest_first=True)
        for batch in _batches(self.engine.entries(query)):
            if time_left_s is not None and time_left_s() < 5:
                summary.complete = False
                summary.next_start_time = batch[0]["timestamp"]
                break
            key = derived_id(
                "replay", service, str(start), str(end), target.describe(), batch[0]["id"]
            )
            budget = POST_SECONDS if time_left_s is None else min(POST_SECONDS, time_left_s() - 4)
            self._send(batch, key, target, budget)
            summary.entries += len(batch)
            summary.batches += 1
        return summary

    def _send(
        self, batch: list[dict[str, Any]], key: str, target: ReplayTarget, timeout_s: float
    ) -> None:
        if target.url is None:
            self.write_index([_entry(e) for e in batch], key)
            return
        body = _BODIES[target.format](batch)
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        url = target.url.rstrip("/")
        if target.format == "logsvc":
            url += "/api/v1/logs/ingest/batch"
        status, answer = self.post(url, body, headers, timeout_s)
        if not 200 <= status < 300:
            raise ReplayFailed(
                f"target: {shown(url)} answered {status}: "
                f"{answer[:200].decode('utf-8', 'replace')}",
                field="target",
            )


def _batches(entries: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _entry(record: dict[str, Any]) -> LogEntry:
    return LogEntry(
        id=record["id"],
        service_name=record["service_name"],
        level=record["level"],
        message=record["message"],
        timestamp=record["timestamp"],
        metadata=record["metadata"],
        source_type=record["source_type"] or "http",
    )


def _logsvc(batch: list[dict[str, Any]]) -> bytes:
    logs = [
        {k: e[k] for k in ("service_name", "level", "message", "timestamp", "metadata")}
        for e in batch
    ]
    return orjson.dumps({"logs": logs})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _otlp(batch: list[dict[str, Any]]) -> bytes:
    """OTLP/HTTP JSON: one resource per service, metadata as attributes (JSON text)."""
    records = [
        {
            "timeUnixNano": str(e["timestamp"] * 1_000_000),
            "severityText": e["level"],
            "severityNumber": _SEVERITY.get(e["level"], 9),
            "body": {"stringValue": e["message"]},
            "attributes": [
                {"key": key, "value": {"stringValue": _text(value)}}
                for key, value in (e["metadata"] or {}).items()
            ],
        }
        for e in batch
    ]
    service = {"key": "service.name", "value": {"stringValue": batch[0]["service_name"]}}
    logs = {"resource": {"attributes": [service]}, "scopeLogs": [{"logRecords": records}]}
    return orjson.dumps({"resourceLogs": [logs]})


def _loki(batch: list[dict[str, Any]]) -> bytes:
    """Loki's JSON push: a stream per level, lines with the metadata as structured metadata."""
    streams: dict[str, list[list[Any]]] = {}
    for e in batch:
        line: list[Any] = [str(e["timestamp"] * 1_000_000), e["message"]]
        if e["metadata"]:
            line.append({key: _text(value) for key, value in e["metadata"].items()})
        streams.setdefault(e["level"], []).append(line)
    service = batch[0]["service_name"]
    labelled = [
        {"stream": {"service_name": service, "level": level.lower()}, "values": values}
        for level, values in streams.items()
    ]
    return orjson.dumps({"streams": labelled})


_BODIES = {"logsvc": _logsvc, "otlp": _otlp, "loki": _loki}  # a batch as each target takes it


def http_post(
    url: str, body: bytes, headers: dict[str, str], timeout_s: float = POST_SECONDS
) -> tuple[int, bytes]:
    """POST a batch, never twice once the target may have it: retried only when no
    connection was made, or when the target answered 429 or 503 (it stored nothing); never
    redirected (a 303 would turn the batch into a GET, a 307 resend it to another host: a
    3xx is the target's answer); done within ``timeout_s``, retries included."""
    import urllib3

    retries = urllib3.Retry(
        total=2,
        connect=2,
        read=0,
        other=0,
        redirect=0,
        status=2,
        backoff_factor=0.5,
        status_forcelist=(429, 503),
        allowed_methods=None,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    timeout = urllib3.Timeout(total=max(timeout_s, 0.1), connect=min(5.0, max(timeout_s, 0.1)))
    try:
        response = _pool().request(
            "POST",
            url,
            body=body,
            headers=headers,
            retries=retries,
            timeout=timeout,
            redirect=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        reason = redact_url(str(exc), url)
        raise ReplayFailed(f"target: cannot reach {shown(url)}: {reason}", field="target") from exc
    return response.status, response.data


def shown(url: str) -> str:
    """A URL as messages may show it: without a user name or password."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def redact_url(text: str, url: str) -> str:
    return text.replace(url, shown(url))


def check_target(url: str, allowed_hosts: tuple[str, ...]) -> None:
    """Refuse a target outside REPLAY_TARGET_HOSTS (when set), and always one at a
    link-local address (cloud metadata services live there); in Lambda, one on loopback
    too (the runtime API)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise BadRequest("to.url: must be an http(s) URL", field="to.url")
    if allowed_hosts and host not in allowed_hosts:
        raise BadRequest(
            f"to.url: {host} is not among REPLAY_TARGET_HOSTS ({', '.join(allowed_hosts)})",
            field="to.url",
        )
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    if address.is_link_local or (in_lambda and address.is_loopback):
        raise BadRequest(f"to.url: replay does not send to {host}", field="to.url")


_POOL: Any = None


def _pool() -> Any:
    global _POOL
    if _POOL is None:
        import urllib3

        _POOL = urllib3.PoolManager()
    return _POOL


def seconds_left(deadline: float) -> Callable[[], float]:
    return lambda: deadline - time.monotonic()
