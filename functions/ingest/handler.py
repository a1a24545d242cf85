"""Ingest function: single and batch log ingestion over HTTP."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import runtime
from logsvc.api.models import BatchIngestRequest, BatchIngestResponse, IngestResponse, LogInput
from logsvc.api.resolver import new_resolver, with_errors
from logsvc.errors import BadRequest, PayloadTooLarge
from logsvc.ingest import MAX_BATCH_ITEMS

logger = Logger(service="logsService-ingest")
metrics = Metrics(namespace="logsService", service="ingest")
app = new_resolver(logger)


@app.post("/api/v1/logs/ingest", status_code=201)
def ingest_one(entry: LogInput) -> IngestResponse:
    log_id = runtime.ingestor().ingest_one(entry)
    metrics.add_metric(name="LogsAccepted", unit=MetricUnit.Count, value=1)
    return IngestResponse(success=True, id=log_id)


@app.post(
    "/api/v1/logs/ingest/batch",
    status_code=201,
    responses=with_errors({413: "More than 1000 entries; nothing was stored"}, success=201),
)
def ingest_batch(request: BatchIngestRequest) -> BatchIngestResponse:
    if len(request.logs) > MAX_BATCH_ITEMS:
        raise PayloadTooLarge(
            f"logs: at most {MAX_BATCH_ITEMS} items per batch, got {len(request.logs)}",
            field="logs",
        )
    if not request.logs:
        raise BadRequest("logs: must contain at least one entry", field="logs")
    outcome = runtime.ingestor().ingest_batch(request.logs)
    metrics.add_metric(name="LogsAccepted", unit=MetricUnit.Count, value=len(outcome.ids))
    metrics.add_metric(name="LogsRejected", unit=MetricUnit.Count, value=len(outcome.errors))
    if not outcome.ids:
        raise BadRequest(
            f"logs: no valid entries; first problem: {outcome.errors[0]['error']}",
            field=outcome.errors[0]["field"],
        )
    return BatchIngestResponse(
        success=not outcome.errors,
        accepted=len(outcome.ids),
        rejected=len(outcome.errors),
        ids=outcome.ids,
        errors=outcome.errors,
    )


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
