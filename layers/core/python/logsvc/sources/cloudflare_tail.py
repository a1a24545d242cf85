"""Cloudflare Tail Worker TraceItems as log entries (source_type 'tail').

One entry per console call, one ERROR per exception, and one entry for an outcome other
than "ok" that no exception explains (once per invocation: parts of a split item after the
first are marked ``continuation`` and carry console calls only). Metadata carries what an
on-call engineer asks first: what ran (event kind, request, cron, queue), how it ended,
where, and how long.
"""

from __future__ import annotations

import json
from typing import Any

from logsvc.entries import DEFAULT_TAIL_SERVICE, MAX_OTLP_RECORDS, sanitize_service_name
from logsvc.errors import BadRequest, PayloadTooLarge

DEFAULT_SERVICE = DEFAULT_TAIL_SERVICE
EMPTY_CONSOLE_MESSAGE = "(empty console message)"
CONSOLE_LEVELS = {"debug": "DEBUG", "log": "INFO", "info": "INFO", "warn": "WARN", "error": "ERROR"}
OUTCOMES = {
    "exceededCpu": ("ERROR", "exceeded its CPU time limit"),
    "exceededMemory": ("ERROR", "exceeded its memory limit"),
    "exception": ("ERROR", "threw an exception"),
    "scriptNotFound": ("ERROR", "was not found"),
    "canceled": ("WARN", "was canceled"),
    "responseStreamDisconnected": ("WARN", "lost its client while streaming the response"),
    "unknown": ("WARN", "ended with an unknown outcome"),
}


def to_log_items(
    items: list[Any], now_ms: int, fallback_service: str = DEFAULT_SERVICE
) -> list[dict[str, Any]]:
    for index, item in enumerate(items):
        _check(item, index)
    expected = sum(_size(item) for item in items)
    if expected > MAX_OTLP_RECORDS:  # counted before anything is built
        raise PayloadTooLarge(f"body: at most {MAX_OTLP_RECORDS} entries, got {expected}")
    entries: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict):
            entries += _entries(item, now_ms, fallback_service)
        else:
            entries.append({"service_name": fallback_service, "message": None})  # refused
    return entries


def _check(item: Any, index: int) -> None:
    """The parts of a TraceItem the mapping reads must have the documented types."""
    if not isinstance(item, dict):
        return  # refused item by item, as the batch route does
    where = f"body[{index}]"
    for name in ("logs", "exceptions"):
        value = item.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            raise BadRequest(f"{where}.{name}: must be an array", field="body")
        for position, part in enumerate(value):
            if not isinstance(part, dict):
                raise BadRequest(f"{where}.{name}[{position}]: must be an object", field="body")
    if item.get("outcome") is not None and not isinstance(item["outcome"], str):
        raise BadRequest(f"{where}.outcome: must be a string", field="body")
    if item.get("event") is not None and not isinstance(item["event"], dict):
        raise BadRequest(f"{where}.event: must be an object", field="body")


def _size(item: Any) -> int:
    """How many entries an item can become (its console calls, exceptions, outcome)."""
    if not isinstance(item, dict):
        return 1
    logs, exceptions = item.get("logs"), item.get("exceptions")
    logs_count = len(logs) if isinstance(logs, list) else 0
    exceptions_count = len(exceptions) if isinstance(exceptions, list) else 0
    outcome = 1 if item.get("outcome") != "ok" and not exceptions_count else 0
    return logs_count + exceptions_count + outcome


def _entries(item: dict[str, Any], now_ms: int, fallback: str) -> list[dict[str, Any]]:
    service = sanitize_service_name(item.get("scriptName"), fallback)
    started = _millis(item.get("eventTimestamp")) or now_ms
    context = _context(item)
    entries = []
    for log in item.get("logs") or ():
        entries.append(
            {
                "service_name": service,
                "level": CONSOLE_LEVELS.get(str(log.get("level")).lower(), "INFO"),
                # console.log() and console.log("") still happened: keep them visible.
                "message": console_message(log.get("message")) or EMPTY_CONSOLE_MESSAGE,
                "timestamp": _millis(log.get("timestamp")) or started,
                "metadata": context,
            }
        )
    if item.get("continuation") is True:
        # A later part of an item the forwarder split: its console calls only; the first
        # part reported the exceptions and the outcome.
        return entries
    exceptions = item.get("exceptions") or ()
    for exception in exceptions:
        name, text = exception.get("name") or "Error", exception.get("message") or ""
        entries.append(
            {
                "service_name": service,
                "level": "ERROR",
                "message": f"{name}: {text}" if text else name,
                "timestamp": _millis(exception.get("timestamp")) or started,
                "metadata": {
                    **context,
                    "exception": {"name": name, "message": text, "stack": exception.get("stack")},
                },
            }
        )
    outcome = item.get("outcome") or "unknown"
    if outcome != "ok" and not exceptions:
        level, text = OUTCOMES.get(outcome, ("WARN", f"ended with outcome {outcome}"))
        entries.append(
            {
                "service_name": service,
                "level": level,
                "message": f"{context['event_kind']} invocation {text} ({outcome})",
                "timestamp": started,
                "metadata": context,
            }
        )
    return entries


def console_message(arguments: Any) -> str:
    """console.log's arguments as one line: strings as they are, anything else as JSON."""
    if not isinstance(arguments, list):
        arguments = [arguments]
    return " ".join(
        part
        if isinstance(part, str)
        else json.dumps(part, separators=(",", ":"), ensure_ascii=False, default=str)
        for part in arguments
    )


def event_kind(event: Any) -> str:
    if not isinstance(event, dict):
        return "unknown"
    if "request" in event:
        return "fetch"
    if "cron" in event:
        return "scheduled"
    if "queue" in event:
        return "queue"
    if "mailFrom" in event:
        return "email"
    if "rpcMethod" in event:
        return "rpc"
    if "consumedEvents" in event:
        return "tail"
    if "getWebSocketEvent" in event or "webSocketEventType" in event:
        return "websocket"
    if "scheduledTime" in event:
        return "alarm"
    return "unknown"


def _context(item: dict[str, Any]) -> dict[str, Any]:
    event = item.get("event") if isinstance(item.get("event"), dict) else {}
    context: dict[str, Any] = {"outcome": item.get("outcome"), "event_kind": event_kind(event)}
    request = event.get("request") if isinstance(event.get("request"), dict) else None
    if request:
        context["request"] = {"method": request.get("method"), "url": request.get("url")}
        cf = request.get("cf") if isinstance(request.get("cf"), dict) else {}
        context.update({key: cf[key] for key in ("colo", "country") if cf.get(key)})
    if isinstance(event.get("response"), dict):
        context["response_status"] = event["response"].get("status")
    for key in ("cron", "queue", "batchSize", "rpcMethod", "scheduledTime"):
        if key in event:
            context[key] = event[key]
    renames = {
        "scriptVersion": "script_version",
        "entrypoint": "entrypoint",
        "cpuTime": "cpu_time_ms",
        "wallTime": "wall_time_ms",
        "truncated": "truncated",
        "executionModel": "execution_model",
        "dispatchNamespace": "dispatch_namespace",
        "scriptTags": "script_tags",
    }
    context.update(
        {new: item[old] for old, new in renames.items() if item.get(old) not in (None, [], "")}
    )
    return context


def _millis(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return int(value)
