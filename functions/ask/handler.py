"""Ask function: a question in plain words becomes a LogQL query, which is checked and run
as the Loki API runs it (logsvc.ask)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import components
from logsvc.api.ask_models import AskRequest, AskResponse, NotUnderstoodResponse
from logsvc.api.resolver import json_response, new_resolver, principal, with_errors
from logsvc.ask import NotUnderstood
from logsvc.clock import now_ms
from logsvc.language_models import Completion
from logsvc.media_types import JSON
from logsvc.startup import settled

logger = Logger(service="logsService-ask")
metrics = Metrics(namespace="logsService", service="ask")
app = new_resolver(
    logger, authenticator=components.authenticate, cors_origins=components.cors_origins
)
ERRORS = with_errors(
    {
        422: "Not understood: the reason and questions the rules read",
        503: "The model did not answer; Retry-After says when to try again",
    }
)
ERRORS[422]["content"] = {JSON: {"model": NotUnderstoodResponse}}


@app.post("/api/v1/logs/ask", responses=ERRORS)
def ask(request: AskRequest) -> AskResponse:
    caller = principal(app)
    if request.service:
        caller.require_service(request.service)
    asker = components.asker()
    try:
        answer = asker.ask(
            request.question, caller.services, now_ms(), request.service, request.time_zone
        )
    finally:  # what the model took, whether its answer was used or refused
        if asker.completion:
            count_model(asker.completion)
    return AskResponse(**answer.view())


def count_model(used: Completion) -> None:
    metrics.add_metric(name="AskModelLatency", unit=MetricUnit.Milliseconds, value=used.latency_ms)
    metrics.add_metric(name="AskModelInputTokens", unit=MetricUnit.Count, value=used.input_tokens)
    metrics.add_metric(name="AskModelOutputTokens", unit=MetricUnit.Count, value=used.output_tokens)


@app.exception_handler(NotUnderstood)
def _not_understood(error: NotUnderstood) -> Response:
    metrics.add_metric(name="AskNotUnderstood", unit=MetricUnit.Count, value=1)
    body = NotUnderstoodResponse(error=f"question: {error.reason}", suggestions=error.suggestions)
    return json_response(422, body.model_dump())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return app.resolve(event, context)
    finally:
        if metrics.metric_set:
            metrics.flush_metrics()


settled()  # the last line: after everything the module loaded (logsvc.startup)
