"""OpenTelemetry logs over OTLP/HTTP: decode ExportLogsServiceRequest (protobuf or OTLP's
JSON mapping, gzip or not) into log entries, and encode the matching response.

Decoding uses the official generated classes (opentelemetry-proto); only the OTLP JSON
rule that trace and span ids are hex, not base64, is handled here.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from logsvc.entries import DEFAULT_OTLP_SERVICE, LEVEL_ALIASES, LEVELS, sanitize_service_name
from logsvc.errors import BadRequest
from logsvc.media_types import JSON, PROTOBUF

MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024
DEFAULT_SERVICE = DEFAULT_OTLP_SERVICE

# OTLP severity numbers: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL.
_SEVERITY_LEVELS = ("DEBUG", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL")


class OtlpDecodeError(BadRequest):
    """The body is not an ExportLogsServiceRequest in the declared encoding (a 400)."""

    def __init__(self, message: str):
        super().__init__(message, field="body")


def decode_request(
    body: bytes, content_type: str, content_encoding: str | None
) -> ExportLogsServiceRequest:
    if (content_encoding or "").lower() == "gzip":
        body = _gunzip(body)
    request = ExportLogsServiceRequest()
    try:
        if content_type.startswith(PROTOBUF):
            request.ParseFromString(body)
        else:
            document = json.loads(body)
            _hex_ids_to_base64(document)
            json_format.ParseDict(document, request, ignore_unknown_fields=True)
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
    """OTLP JSON writes traceId and spanId in hex; protobuf's JSON mapping wants base64."""
    if not isinstance(document, dict):
        raise ValueError("the body is not a JSON object")
    for resource_logs in document.get("resourceLogs") or document.get("resource_logs") or ():
        for scope_logs in resource_logs.get("scopeLogs") or resource_logs.get("scope_logs") or ():
            for record in scope_logs.get("logRecords") or scope_logs.get("log_records") or ():
                for key in ("traceId", "spanId", "trace_id", "span_id"):
                    if record.get(key):
                        record[key] = base64.b64encode(bytes.fromhex(record[key])).decode()


def _gunzip(data: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, MAX_DECOMPRESSED_BYTES)
    except zlib.error as exc:
        raise OtlpDecodeError(f"body: not valid gzip ({exc})") from None
    if decompressor.unconsumed_tail:
        raise OtlpDecodeError(f"body: more than {MAX_DECOMPRESSED_BYTES} bytes uncompressed")
    return out
