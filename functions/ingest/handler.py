"""Ingest function: single and batch log ingestion over HTTP."""

import base64
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import components
from logsvc.api.ingest_answers import item_errors, refusal_error
from logsvc.api.models import BatchIngestRequest, BatchIngestResponse, IngestResponse, LogInput
from logsvc.api.resolver import new_resolver, principal, with_errors
from logsvc.clock import now_ms
from logsvc.entries import MAX_BATCH_ITEMS, MAX_OTLP_RECORDS, ServiceName
from logsvc.errors import BadRequest, PayloadTooLarge
from logsvc.ingest import Idempotency, IngestOutcome
from logsvc.media_types import JSON, PROTOBUF
from logsvc.startup import settled

logger = Logger(service="logsService-ingest")
# Retrying a request with the same key stores nothing twice (ids derive from the key).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
        description="Makes retries safe: the same key gives the same ids, stored once",
    ),
]
metrics = Metrics(namespace="logsService", service="ingest")
app = new_resolver(
    logger, authenticator=components.authenticate, cors_origins=components.cors_origins
)


CONFLICT = "The Idempotency-Key was used by this key for a request with another body"


@app.post(
    "/api/v1/logs/ingest", status_code=201, responses=with_errors({409: CONFLICT}, success=201)
)
def ingest_one(entry: LogInput, key: IdempotencyKey = None) -> IngestResponse:
    outcome = components.ingestor().ingest_batch(
        [entry], idempotency=idempotency(key), allowed=principal(app).service_filter
    )
    count(outcome)
    if outcome.refused:
        raise refusal_error(outcome.refused[0])
    return IngestResponse(success=True, id=outcome.ids[0])


@app.post(
    "/api/v1/logs/ingest/batch",
    status_code=201,
    responses=with_errors(
        {409: CONFLICT, 413: "More than 1000 entries; nothing was stored"}, success=201
    ),
)
def ingest_batch(request: BatchIngestRequest, key: IdempotencyKey = None) -> BatchIngestResponse:
    if len(request.logs) > MAX_BATCH_ITEMS:
        raise PayloadTooLarge(
            f"logs: at most {MAX_BATCH_ITEMS} items per batch, got {len(request.logs)}",
            field="logs",
        )
    if not request.logs:
        raise BadRequest("logs: must contain at least one entry", field="logs")
    outcome = components.ingestor().ingest_batch(
        request.logs, idempotency=idempotency(key), allowed=principal(app).service_filter
    )
    if not outcome.ids:
        count(outcome)
        raise refusal_error(outcome.refused[0])
    return batch_answer(outcome)


@app.post(
    "/api/v1/logs/tail",
    status_code=201,
    responses=with_errors(
        {409: CONFLICT, 413: f"More than {MAX_OTLP_RECORDS} entries"}, success=201
    ),
)
def cloudflare_tail_events(
    items: Annotated[list[dict[str, Any]], Body(description="TraceItems, as tail() gets them")],
    fallback_service: Annotated[
        ServiceName | None, Query(description="Service for items without scriptName")
    ] = None,
    key: IdempotencyKey = None,
) -> BatchIngestResponse:
    """Cloudflare Tail Worker TraceItems (workers/tail-forwarder posts them)."""
    from logsvc.sources import cloudflare_tail  # only this route needs it

    fallback = fallback_service or components.settings().tail_default_service
    entries = cloudflare_tail.to_log_items(items, now_ms(), fallback)
    if len(entries) > MAX_OTLP_RECORDS:
        raise PayloadTooLarge(f"body: at most {MAX_OTLP_RECORDS} entries, got {len(entries)}")
    outcome = components.ingestor().ingest_batch(
        entries,
        source_type="tail",
        idempotency=idempotency(key),
        allowed=principal(app).service_filter,
    )
    if outcome.refused and not outcome.ids:  # as the batch route: nothing stored is an error
        count(outcome)
        raise refusal_error(outcome.refused[0])
    return batch_answer(outcome)


@app.post(
    "/v1/logs",
    responses=with_errors({413: f"More than {MAX_OTLP_RECORDS} log records"}, success=200),
)
def otlp_logs():
    """OTLP/HTTP: ExportLogsServiceRequest as protobuf or JSON, gzip or not."""
    # Imported here: protobuf and the OTLP classes would lengthen every cold start.
    from logsvc.sources.otlp import decode_request, encode_response, to_log_items

    event = app.current_event
    raw = base64.b64decode(event.body) if event.is_base64_encoded else (event.body or "").encode()
    content_type = event.headers.get("content-type") or JSON
    request = decode_request(raw, content_type, event.headers.get("content-encoding"))
    items = to_log_items(request, now_ms(), components.settings().otlp_default_service)
    if len(items) > MAX_OTLP_RECORDS:
        raise PayloadTooLarge(f"body: at most {MAX_OTLP_RECORDS} log records, got {len(items)}")
    ingestor = components.ingestor()
    outcome = (
        ingestor.ingest_batch(items, allowed=principal(app).service_filter)
        if items
        else IngestOutcome()
    )
    count(outcome)
    problems = "; ".join(f"record {r.index}: {r.message}" for r in outcome.refused[:5])
    body, response_type = encode_response(len(outcome.refused), problems, content_type)
    return Response(status_code=200, content_type=response_type, body=body)


@app.post("/loki/api/v1/push", status_code=204)
def loki_push(key: IdempotencyKey = None):
    """Loki's push API: snappy protobuf (Promtail, Alloy), JSON, or the legacy JSON."""
    from logsvc.sources import loki_push as push  # only this route needs it

    event = app.current_event
    raw = base64.b64decode(event.body) if event.is_base64_encoded else (event.body or "").encode()
    # As Loki: a push that names no media type is snappy protobuf (what the agents send).
    media_type = event.headers.get("content-type") or PROTOBUF
    items = push.decode(raw, media_type, event.headers.get("content-encoding"))
    if len(items) > MAX_OTLP_RECORDS:
        raise PayloadTooLarge(f"body: at most {MAX_OTLP_RECORDS} entries, got {len(items)}")
    outcome = (
        components.ingestor().ingest_batch(
            items, idempotency=idempotency(key), allowed=principal(app).service_filter
        )
        if items
        else IngestOutcome()
    )
    count(outcome)
    if outcome.refused:  # Loki refuses a push with any bad entry; what was valid is stored
        raise refusal_error(outcome.refused[0])
    return Response(status_code=204, body="")


def idempotency(key: str | None) -> Idempotency | None:
    """The request's Idempotency-Key, scoped to the caller and the route, with its body."""
    if key is None:
        return None
    event = app.current_event
    return Idempotency.of(key, principal(app).key_id, event.resource, event.body or "")


def count(outcome: IngestOutcome) -> None:
    """CloudWatch metrics of an ingest request, only when there is something to count: each
    is a log line, billed per request (docs/COST.md). Entries stored are counted where they
    are stored: by the writer, a flush at a time, or here when there is no buffer."""
    if outcome.refused:
        metrics.add_metric(name="LogsRejected", unit=MetricUnit.Count, value=len(outcome.refused))
    if outcome.ids and components.settings().ingest_buffer is None:
        metrics.add_metric(name="LogsStored", unit=MetricUnit.Count, value=len(outcome.ids))


def batch_answer(outcome: IngestOutcome) -> BatchIngestResponse:
    """The answer to a batch (and to the Tail Worker): what was stored, what was not."""
    count(outcome)
    return BatchIngestResponse(
        success=not outcome.refused,
        accepted=len(outcome.ids),
        rejected=len(outcome.refused),
        ids=outcome.ids,
        errors=item_errors(outcome),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return app.resolve(event, context)
    finally:
        if metrics.metric_set:  # no line at all for a request with nothing to count
            metrics.flush_metrics()


settled()  # the last line: after everything the module loaded (logsvc.startup)
