"""OpenTelemetry logs over OTLP/HTTP: decode ExportLogsServiceRequest (protobuf or OTLP's
JSON mapping, gzip or not) into log entries, and encode the matching response.

Decoding uses the official generated classes (opentelemetry-proto); only the OTLP JSON
rule that trace and span ids are hex, not base64, is handled here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from logsvc.entries import (
    DEFAULT_SERVICE,
    LEVEL_ALIASES,
    LEVELS,
    MAX_JSON_CONTAINERS,
    MAX_OTLP_RECORDS,
    sanitize_service_name,
)
from logsvc.errors import BadRequest, PayloadTooLarge
from logsvc.media_types import JSON, PROTOBUF
from logsvc.sources.compressed import gunzip
from logsvc.sources.wire import fields

DEFAULT_SERVICE = DEFAULT_SERVICE

# OTLP severity numbers: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL.
_SEVERITY_LEVELS = ("DEBUG", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL")


class OtlpDecodeError(BadRequest):
    """The body is not an ExportLogsServiceRequest in the declared encoding (a 400)."""

    def __init__(self, message: str):
        super().__init__(message, field="body")


def decode_request(
    body: bytes, content_type: str, content_encoding: str | None
) -> ExportLogsServiceRequest:
    """The request, refused (413) before it is expanded if it holds more than
    MAX_OTLP_RECORDS records or is too large once decompressed."""
    if (content_encoding or "").lower() == "gzip":
        body = gunzip(body)
    request = ExportLogsServiceRequest()
    try:
        if content_type.startswith(PROTOBUF):
            records = count_records(body)
            if records > MAX_OTLP_RECORDS:
                raise PayloadTooLarge(f"body: more than {MAX_OTLP_RECORDS} log records")
            request.ParseFromString(body)
        else:
            if body.count(b"{") + body.count(b"[") > MAX_JSON_CONTAINERS:
                raise PayloadTooLarge(f"body: more than {MAX_JSON_CONTAINERS} JSON objects")
            document = json.loads(body)
            _hex_ids_to_base64(document)
            json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except RecursionError:
        raise OtlpDecodeError("body: nested too deeply to be an OTLP request") from None
    except (DecodeError, json_format.ParseError, ValueError, TypeError) as exc:
        raise OtlpDecodeError(f"body: not an OTLP ExportLogsServiceRequest ({exc})") from None
    return request


def encode_response(rejected: int, message: str, content_type: str) -> tuple[bytes, str]:
    """ExportLogsServiceResponse in the request's encoding (partialSuccess when rejected)."""
    response = ExportLogsServiceResponse()
    if rejected:
        response.partial_success.CopyFrom(
            ExportLogsPartialSuccess(rejected_log_records=rejected, error_message=message)
        )
    if content_type.startswith(PROTOBUF):
        return response.SerializeToString(), PROTOBUF
    return json.dumps(json_format.MessageToDict(response)).encode(), JSON


def to_log_items(
    request: ExportLogsServiceRequest, now_ms: int, default_service: str = DEFAULT_SERVICE
) -> list[dict[str, Any]]:
    """One item per log record, shaped like the batch API's entries."""
    items = []
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes)
        service = sanitize_service_name(resource.get("service.name"), default_service)
        for scope_logs in resource_logs.scope_logs:
            scope = {
                "name": scope_logs.scope.name,
                "version": scope_logs.scope.version,
                **(
                    {"attributes": _attributes(scope_logs.scope.attributes)}
                    if scope_logs.scope.attributes
                    else {}
                ),
            }
            for record in scope_logs.log_records:
                items.append(_item(record, service, resource, scope, now_ms))
    return items


def level_of(severity_number: int, severity_text: str) -> str:
    if 1 <= severity_number <= 24:
        return _SEVERITY_LEVELS[(severity_number - 1) // 4]
    name = severity_text.strip().upper()
    name = {"TRACE": "DEBUG", **LEVEL_ALIASES}.get(name, name)
    return name if name in LEVELS else "INFO"


def _item(record: Any, service: str, resource: dict, scope: dict, now_ms: int) -> dict[str, Any]:
    body = _any_value(record.body) if record.HasField("body") else None
    message = (
        body
        if isinstance(body, str)
        else ("" if body is None else json.dumps(body, separators=(",", ":"), default=str))
    )
    metadata: dict[str, Any] = {
        "attributes": _attributes(record.attributes),
        "resource": resource,
        "scope": scope,
    }
    if body is not None and not isinstance(body, str):
        metadata["body"] = body
    if record.trace_id:
        metadata["trace_id"] = record.trace_id.hex()
    if record.span_id:
        metadata["span_id"] = record.span_id.hex()
    if record.severity_text:
        metadata["severity_text"] = record.severity_text
    if record.event_name:
        metadata["event_name"] = record.event_name
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    return {
        "service_name": service,
        "level": level_of(record.severity_number, record.severity_text),
        "message": message,
        "timestamp": nanos // 1_000_000 if nanos else now_ms,
        "timestamp_ns": nanos or None,
        "metadata": metadata,
    }


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _any_value(pair.value) for pair in pairs}


def _hex_ids_to_base64(document: Any) -> None:
    """OTLP JSON writes traceId and spanId in hex; protobuf's JSON mapping wants base64.
    Walking there also checks the nesting, so a malformed body is a 400 naming its place."""
    if not isinstance(document, dict):
        raise OtlpDecodeError("body: must be a JSON object (ExportLogsServiceRequest)")
    for i, resource_logs in enumerate(_array(document, "resourceLogs", "body")):
        where = f"body.resourceLogs[{i}]"
        for j, scope_logs in enumerate(_array(resource_logs, "scopeLogs", where)):
            where_scope = f"{where}.scopeLogs[{j}]"
            for k, record in enumerate(_array(scope_logs, "logRecords", where_scope)):
                for key in ("traceId", "spanId", "trace_id", "span_id"):
                    value = record.get(key)
                    if not value:
                        continue
                    try:
                        record[key] = base64.b64encode(bytes.fromhex(value)).decode()
                    except (TypeError, ValueError):
                        raise OtlpDecodeError(
                            f"{where_scope}.logRecords[{k}].{key}: must be a hex string"
                        ) from None


def _array(parent: Any, name: str, where: str) -> list[dict[str, Any]]:
    """parent[name] (or its snake_case form) as a list of objects; [] when absent."""
    if not isinstance(parent, dict):
        raise OtlpDecodeError(f"{where}: must be an object")
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    value = parent.get(name, parent.get(snake))
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpDecodeError(f"{where}.{name}: must be an array")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise OtlpDecodeError(f"{where}.{name}[{index}]: must be an object")
    return value


def count_records(data: bytes, limit: int = MAX_OTLP_RECORDS) -> int:
    """Log records in a protobuf ExportLogsServiceRequest, counted from the wire format
    without building them, stopping once past ``limit``.

    The generated classes would first build every record (a 2 KB gzip body can hold a
    million empty ones); this walks only the three levels of nesting that lead to them
    (request.resource_logs = 1, resource_logs.scope_logs = 2, scope_logs.log_records = 2).
    Malformed data is left for the real parser to refuse.
    """
    count = 0
    for resource_logs in fields(data, 1):
        for scope_logs in fields(resource_logs, 2):
            for _ in fields(scope_logs, 2):
                count += 1
                if count > limit:
                    return count
    return count
