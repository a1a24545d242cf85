"""Search function: search, single entries (indexed and full), services, stats, recent."""

import time
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AfterValidator

from logsvc import components, field_filters
from logsvc.analysis import MAX_ENTRIES
from logsvc.api import loki_routes
from logsvc.api.models import (
    AnalysisResponse,
    FullLogView,
    LogView,
    PatternsResponse,
    RecentResponse,
    SearchResponse,
    ServicesResponse,
    StatsResponse,
)
from logsvc.api.replay_models import ReplayRequest, ReplayResponse
from logsvc.api.resolver import new_resolver, principal, with_errors
from logsvc.clock import DAY_MS, now_ms
from logsvc.deadline import Deadline
from logsvc.entries import (
    MAX_TIMESTAMP_MS,
    LevelName,
    ServiceName,
    not_seconds,
    without_nul,
)
from logsvc.errors import BadRequest, Forbidden, NotFound
from logsvc.filters import SearchFilters
from logsvc.startup import settled

logger = Logger(service="logsService-search")
app = new_resolver(
    logger, authenticator=components.authenticate, cors_origins=components.cors_origins
)

Limit = Annotated[int, Query(ge=1, le=1000, description="At most 1000")]
Millis = Annotated[
    int | None,
    AfterValidator(not_seconds),
    Query(ge=0, le=MAX_TIMESTAMP_MS, description="Unix ms (a value before 2001 is refused)"),
]
Filters = Annotated[
    list[str] | None,
    Query(
        alias="filter",
        description="Metadata filters, repeatable, all must hold: metadata.<key>=<value>, "
        "with = != > >= < <= ~= (contains), or the field alone (present), !field (absent); "
        "for example filter=metadata.http.status>=500 (see docs/API.md)",
    ),
]
ServicePath = Annotated[ServiceName, Path()]
REPLAY_SECONDS = 20  # of the function's 30 and API Gateway's 29
NOT_FOUND = with_errors({404: "No such entry (or its archive object has expired)"})
# The Loki-compatible query API (/loki/api/v1/...)
loki_routes.register(app, components.querier, lambda: components.settings().loki_query_timeout_s)


@app.get("/api/v1/logs/search")
def search(
    service: Annotated[ServiceName | None, Query()] = None,
    level: Annotated[LevelName | None, Query()] = None,
    start_time: Millis = None,
    end_time: Millis = None,
    q: Annotated[
        str | None,
        AfterValidator(lambda q: without_nul(q) if q else q),
        Query(
            max_length=200,
            description="Substring of the message, ignoring case (Unicode lower-casing)",
        ),
    ] = None,
    filters: Filters = None,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    archive_query_id: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[A-Za-z0-9-]+$",
            description="Collect an archive query that answered status running",
        ),
    ] = None,
) -> SearchResponse:
    if start_time is not None and end_time is not None and start_time > end_time:
        raise BadRequest("start_time: must not be after end_time", field="start_time")
    service = readable_service(service)
    filters = SearchFilters(
        service=service,
        level=level,
        start_time=start_time,
        end_time=end_time,
        q=q,
        fields=field_filters.parse(filters or []),
        limit=limit,
        offset=offset,
        deadline=Deadline(components.settings().search_timeout_s),
    )
    page = components.querier().search(filters, archive_query_id)
    return SearchResponse(
        logs=page.logs,
        limit=limit,
        offset=offset,
        has_more=page.has_more,
        hot_since=page.hot_since,
        archive=page.archive_view(),
    )


@app.get("/api/v1/logs/logs/<id>", responses=NOT_FOUND)
def get_log(id: str) -> LogView:
    entry = components.querier().get(id, principal(app).services)
    if entry is None:
        raise NotFound(f"id: no log entry {id!r}", field="id")
    return entry


@app.get("/api/v1/logs/logs/<id>/full", responses=NOT_FOUND)
def get_full_log(id: str) -> FullLogView:
    full = components.querier().full(id, principal(app).services)
    if full is None:
        raise NotFound(f"id: the archived entry for {id!r} is no longer in the archive", field="id")
    return full


@app.get("/api/v1/logs/services")
def list_services() -> ServicesResponse:
    caller = principal(app)
    services = components.querier().services()
    return ServicesResponse(services=[s for s in services if caller.may_use(s["service_name"])])


@app.get("/api/v1/logs/stats/<service>")
def service_stats(service: ServicePath) -> StatsResponse:
    principal(app).require_service(service)
    return components.querier().stats(service, now_ms())


@app.get("/api/v1/logs/recent/<service>")
def recent_logs(
    service: ServicePath, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> RecentResponse:
    principal(app).require_service(service)
    return RecentResponse(service_name=service, logs=components.querier().recent(service, limit))


@app.get("/api/v1/logs/analysis/<service>")
def analysis(
    service: ServicePath, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> AnalysisResponse:
    principal(app).require_service(service)
    history = [result.view() for result in components.analysis_store().history(service, limit)]
    return AnalysisResponse(
        service_name=service, latest=history[0] if history else None, history=history
    )


@app.get("/api/v1/logs/patterns/<service>")
def patterns(
    service: ServicePath,
    start_time: Millis = None,
    end_time: Millis = None,
    level: Annotated[LevelName | None, Query(description="Default: ERROR and CRITICAL")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_ENTRIES, description="Entries mined per level")
    ] = 1000,
) -> PatternsResponse:
    principal(app).require_service(service)
    end = end_time if end_time is not None else now_ms()
    start = start_time if start_time is not None else end - DAY_MS
    if start > end:
        raise BadRequest("start_time: must not be after end_time", field="start_time")
    # Imported here: mining is this route's alone, and the search function starts faster.
    from logsvc.analysis.analyzer import error_entries
    from logsvc.analysis.patterns import mine_patterns

    levels = (level,) if level else ("ERROR", "CRITICAL")
    entries, truncated = error_entries(
        components.querier().entries,
        service,
        start,
        end,
        levels,
        limit,
        Deadline(components.settings().search_timeout_s),
    )
    return PatternsResponse(
        service_name=service,
        levels=list(levels),
        start_time=start,
        end_time=end,
        entries_analyzed=len(entries),
        truncated=truncated,
        patterns=[{**p.view(), "timeline": p.timeline(start, end)} for p in mine_patterns(entries)],
    )


@app.post("/api/v1/admin/replay", responses=with_errors({502: "The target refused a batch"}))
def replay(request: ReplayRequest) -> ReplayResponse:
    """At most REPLAY_SECONDS of work per request: a longer replay answers complete=false
    and where to go on from (the CLI, ``logsvc replay``, has no such limit)."""
    from logsvc.archive.replay import ReplayTarget, seconds_left

    principal(app).require_service(request.service)
    to = request.to
    target = (
        ReplayTarget()
        if to == "index"
        else ReplayTarget(
            str(to.url), to.format, to.api_key.get_secret_value() if to.api_key else None
        )
    )
    summary = components.replayer().run(
        request.service,
        request.start_time,
        request.end_time,
        target,
        time_left_s=seconds_left(time.monotonic() + REPLAY_SECONDS),
    )
    return ReplayResponse(**summary.to_dict())


def readable_service(service: str | None) -> str | None:
    """The service a search may cover: a key limited to services must name one of them
    (or, limited to exactly one, searches that one by default)."""
    caller = principal(app)
    if caller.services is None:
        return service
    if service is None:
        if len(caller.services) == 1:
            return next(iter(caller.services))
        raise Forbidden(
            f"service: this key may read only {sorted(caller.services)}; name one",
            field="service",
        )
    caller.require_service(service)
    return service


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


settled()  # the last line: after everything the module loaded (logsvc.startup)
