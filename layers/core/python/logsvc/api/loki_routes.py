"""The Loki-compatible query API's routes, for Grafana's Loki data source: added to the
search function's resolver under ``/loki/api/v1``, answered from the reader it is given
(the querier: both tiers). Each route hands its request to logsvc.loki.answers (queries)
or logsvc.loki.index_answers (labels, series, index, detection), imported on first use so
that the search function's cold start does not pay for LogQL.

Parameters are read as Loki reads them (times in nanoseconds, seconds or RFC 3339; steps
as durations or seconds) and unknown ones are ignored, as Loki ignores them. Errors are
``{"message": ...}`` with a 4xx status (see logsvc.api.resolver).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from logsvc.api.resolver import principal

if TYPE_CHECKING:
    from logsvc.loki.answers import LokiRequest
    from logsvc.loki.reader import Reader

PREFIX = "/loki/api/v1"
# path under PREFIX -> the module (under logsvc.loki) and function that answer it
ROUTES = {
    "query": "answers.instant_query",
    "query_range": "answers.query_range",
    "labels": "index_answers.labels",
    "series": "index_answers.series",
    "index/stats": "index_answers.index_stats",
    "index/volume": "index_answers.index_volume",
    "index/volume_range": "index_answers.index_volume_range",
    "patterns": "index_answers.patterns",
    "detected_fields": "index_answers.detected_fields",
    "detected_labels": "index_answers.detected_labels",
    "status/buildinfo": "answers.build_info",
}
# Routes with a path parameter: path under PREFIX (Powertools' <name>) -> its answer.
NAMED_ROUTES = {
    "label/<name>/values": "index_answers.label_values",
    "detected_field/<name>/values": "index_answers.detected_field_values",
}
# The query parameters each route reads (as Loki names them), for the OpenAPI document:
# the handlers read them from the request as Loki does, so the signatures do not say.
_RANGE = ("start", "end", "since")
PARAMETERS: dict[str, tuple[str, ...]] = {
    "query": ("query", "time", "limit", "direction"),
    "query_range": ("query", *_RANGE, "step", "limit", "direction"),
    "labels": ("query", *_RANGE),
    "label/{name}/values": ("query", *_RANGE),
    "series": ("match[]", *_RANGE),
    "index/stats": ("query", *_RANGE),
    "index/volume": ("query", *_RANGE, "limit", "targetLabels", "aggregateBy"),
    "index/volume_range": ("query", *_RANGE, "step", "limit", "targetLabels", "aggregateBy"),
    "patterns": ("query", *_RANGE, "step"),
    "detected_fields": ("query", *_RANGE, "limit", "field_limit"),
    "detected_field/{name}/values": ("query", *_RANGE, "limit"),
    "detected_labels": ("query", *_RANGE),
}


def register(
    app: APIGatewayRestResolver, reader: Callable[[], Reader], timeout_s: Callable[[], float]
) -> None:
    """Add the query routes to ``app`` (the search function's resolver); ``reader`` and
    ``timeout_s`` are asked on each request (built on first use)."""

    def request() -> LokiRequest:
        from logsvc.loki.answers import LokiRequest

        event = app.current_event
        return LokiRequest(
            params=event.query_string_parameters or {},
            multi=event.multi_value_query_string_parameters or {},
            headers={k.lower(): v for k, v in (event.headers or {}).items()},
            services=principal(app).services,
            reader=reader(),
            timeout_s=timeout_s(),
        )

    def route(path: str, answer: str) -> None:
        module, function = answer.split(".")

        def answered(**path_parameters: str) -> dict[str, Any]:
            answers = importlib.import_module(f"logsvc.loki.{module}")
            return _bounded(lambda: getattr(answers, function)(request(), **path_parameters))

        # The handler's signature is what the OpenAPI document reads: `name` is in the path.
        if "<name>" in path:

            def handle(name: str) -> dict[str, Any]:
                return answered(name=name)
        else:

            def handle() -> dict[str, Any]:
                return answered()

        handle.__name__ = function  # the OpenAPI operation's name
        app.get(f"{PREFIX}/{path}")(handle)

    for path, answer in {**ROUTES, **NAMED_ROUTES}.items():
        route(path, answer)


def _bounded(answer: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The answer, or a 400 for a query whose nesting or chaining runs past the
    interpreter's recursion limit (`1+1+...` five thousand times) instead of a 500."""
    try:
        return answer()
    except RecursionError:
        from logsvc.loki.logql import LogQLError

        raise LogQLError(
            "query: nested or chained too deeply; split it into smaller queries"
        ) from None
