"""The answers of the Loki-compatible query API's queries (query, query_range, buildinfo),
in Loki's response shapes; logsvc.loki.index_answers answers the label, series, index and
detection routes. logsvc.api.loki_routes routes requests to both.

Parameters are read as Loki reads them (logsvc.loki.params) and unknown ones are ignored,
as Loki ignores them. Errors are ``{"message": ...}`` with a 4xx status (see
logsvc.api.resolver).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from logsvc.clock import now_ms
from logsvc.errors import BadRequest
from logsvc.loki import engine as loki_engine
from logsvc.loki import pipeline, vectors
from logsvc.loki.expressions import LogQuery, VectorAggregation
from logsvc.loki.logql import LogQLError, parse
from logsvc.loki.params import int_param, log_window, required, step_of, time_param, time_range
from logsvc.loki.reader import Reader

DEFAULT_LIMIT = 100
BUILD_VERSION = "3.4.0"  # the Loki API version whose shapes these routes answer in
CATEGORIZE_LABELS = "categorize-labels"


@dataclass(frozen=True)
class LokiRequest:
    """What a Loki route reads of its request: parameters, headers, the caller's services."""

    params: dict[str, str]
    multi: dict[str, list[str]]
    headers: dict[str, str]
    services: frozenset[str] | None
    reader: Reader  # what answers (the querier: both tiers)
    timeout_s: float

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)

    def engine(self) -> loki_engine.Engine:
        return loki_engine.Engine(self.reader, self.services, self.timeout_s)

    def categorized(self) -> bool:
        """Whether the client asked for labels by category (Grafana does): stream labels,
        structured metadata and parsed labels apart, as Loki 3 answers then."""
        flags = self.headers.get("x-loki-response-encoding-flags") or ""
        return CATEGORIZE_LABELS in [flag.strip() for flag in flags.split(",")]


def query_range(request: LokiRequest) -> dict[str, Any]:
    query = parse(required(request.param("query"), "query"))
    start, end = time_range(request.param("start"), request.param("end"), request.param("since"))
    if isinstance(query, LogQuery):
        window = log_window(start, end, request.param("start"), request.param("end"))
        return _streams(request.engine(), query, window, request.param, request.categorized())
    step = step_of(request.param("step"), start, end)
    engine = request.engine()
    series = engine.evaluate(query, start, end, step)
    return success("matrix", matrix(series), engine.stats.summary(len(series)))


def instant_query(request: LokiRequest) -> dict[str, Any]:
    query = parse(required(request.param("query"), "query"))
    at = time_param(request.param("time"), now_ms(), "time")
    if isinstance(query, LogQuery):
        raise LogQLError(
            "query: log queries are not supported as an instant query type, please change "
            "your query to a range query type"
        )
    engine = request.engine()
    series = engine.evaluate(query, at, at, 1)
    order = query.op if isinstance(query, VectorAggregation) else None
    samples = [(labels, v) for labels, values in series.items() for v in values.values()]
    return success(
        "vector",
        [
            {"metric": dict(labels), "value": [at / 1000, vectors.format_value(v)]}
            for labels, v in vectors.sort_order(order, samples)
        ],
        engine.stats.summary(len(samples)),
    )


def build_info(request: LokiRequest) -> dict[str, Any]:
    return {
        "version": BUILD_VERSION,
        "revision": "logsvc",
        "branch": "logsvc",
        "buildUser": "logsvc",
        "buildDate": "",
        "goVersion": "",
    }


# -- answers ---------------------------------------------------------------------------


def success(kind: str, result: list[Any], summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """Loki's envelope; a query's answer carries ``stats`` (Grafana shows its summary)."""
    data: dict[str, Any] = {"resultType": kind, "result": result}
    if summary is not None:
        data["stats"] = {"summary": summary}
    return {"status": "success", "data": data}


def _streams(
    engine: loki_engine.Engine,
    query: LogQuery,
    window_ns: tuple[int, int],
    param: Any,
    by_category: bool = False,
) -> dict:
    """A log query's answer; by category, each value carries the entry's metadata as
    structured metadata and what parsers extracted, and streams hold stream labels only."""
    limit = int_param(param("limit"), DEFAULT_LIMIT, "limit")
    direction = (param("direction") or "backward").lower()
    if direction not in ("backward", "forward"):
        raise BadRequest("direction: must be backward or forward", field="direction")
    start_ns, end_ns = window_ns
    lines = engine.lines(
        query,
        start_ns // 1_000_000,
        (end_ns - 1) // 1_000_000,
        limit,
        forward=direction == "forward",
        window_ns=window_ns,
    )
    values = []
    for line in lines:
        value = line.value()
        labels = line.labels
        if by_category:
            labels, structured, parsed = line.categorized()
            categories = {}
            if structured:
                categories["structuredMetadata"] = structured
            if parsed:
                categories["parsed"] = parsed
            value.append(categories)
        values.append((labels, value))
    answer = success("streams", pipeline.streams_of(values), engine.stats.summary(len(values)))
    if by_category:
        answer["data"]["encodingFlags"] = [CATEGORIZE_LABELS]
    return answer


def matrix(series: vectors.Series) -> list[dict[str, Any]]:
    return [
        {
            "metric": dict(labels),
            "values": [
                [step / 1000, vectors.format_value(value)] for step, value in sorted(values.items())
            ],
        }
        for labels, values in sorted(series.items())
    ]


def log_query(text: str | None) -> LogQuery:
    query = parse(required(text, "query"))
    if not isinstance(query, LogQuery):
        raise LogQLError("query: must be a log query (a stream selector and its pipeline)")
    return query
