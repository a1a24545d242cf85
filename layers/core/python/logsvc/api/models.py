"""Request and response shapes of the HTTP API (they also make the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema

from logsvc.entries import MAX_BATCH_ITEMS, LogInput
from logsvc.store.configs import RetentionPolicy


class ErrorResponse(BaseModel):
    success: Literal[False] = False
    error: str = Field(description="What is wrong, starting with the field's name")
    field: str | None = Field(default=None, description="The field at fault, if one is")


class LokiErrorResponse(BaseModel):
    """Errors of the Loki-compatible routes, in Loki's shape."""

    message: str = Field(description="What is wrong, starting with the parameter's name")


class IngestResponse(BaseModel):
    success: bool
    id: str


class BatchIngestRequest(BaseModel):
    # Items are validated one by one so that one bad item does not refuse the batch.
    logs: Annotated[
        list[Any],
        WithJsonSchema(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_ITEMS,
                "items": LogInput.model_json_schema(),
            }
        ),
    ]

    def __repr__(self) -> str:
        # Powertools formats route arguments into a debug message on every call, logged or
        # not; the default repr of 1000 entries costs more than indexing them.
        return f"BatchIngestRequest(<{len(self.logs)} logs>)"


class BatchItemError(BaseModel):
    index: int
    field: str
    error: str


class BatchIngestResponse(BaseModel):
    success: bool = Field(description="True when every item was stored")
    accepted: int
    rejected: int
    ids: list[str] = Field(description="Ids of the stored items, in request order")
    errors: list[BatchItemError]


class LogView(BaseModel):
    id: str
    service_name: str
    level: str
    message: str = Field(description="Truncated to 1000 characters; /full has it whole")
    timestamp: int
    timestamp_ns: int | None = Field(
        default=None, description="Unix nanoseconds, for entries sent with them"
    )
    r2_key: str | None
    metadata: dict[str, Any]
    source_type: str
    tier: Literal["index", "archive"] = Field(
        default="index", description="Where the entry was found: the index or the archive"
    )


class FullLogView(LogView):
    """The archived entry: the message whole."""

    message: str
    r2_key: str | None = Field(description="The object written with it (null: found by id)")


class ArchivePart(BaseModel):
    """How the archive answered the part of a search before the index's hot window."""

    status: Literal["complete", "partial", "running"] = Field(
        description="complete: every archived object in range was read; partial: some were "
        "not (see reason); running: the query goes on, send the same search again with "
        "archive_query_id to collect it"
    )
    reason: str | None = Field(description="Why partial: timeout, unreadable_objects, scan_limit")
    query_id: str | None = Field(description="Athena's query id (status running)")
    start_time: int
    end_time: int
    objects_read: int
    bytes_scanned: int
    skipped_objects: list[str]


class SearchResponse(BaseModel):
    logs: list[LogView]
    limit: int
    offset: int
    has_more: bool
    hot_since: int | None = Field(
        default=None,
        description="With a start_time: the index answers from here on (Unix ms), the "
        "archive before",
    )
    archive: ArchivePart | None = Field(
        default=None, description="The archive's part, when the range reaches before hot_since"
    )


class RecentResponse(BaseModel):
    service_name: str
    logs: list[LogView]


class ServiceSummary(BaseModel):
    service_name: str
    log_count: int
    last_seen: int


class ServicesResponse(BaseModel):
    services: list[ServiceSummary]


class LevelCounts(BaseModel):
    DEBUG: int
    INFO: int
    WARN: int
    ERROR: int
    CRITICAL: int


class WindowStats(BaseModel):
    total: int
    levels: LevelCounts


class SampledCounts(BaseModel):
    DEBUG: int
    INFO: int


class StatsResponse(BaseModel):
    service_name: str
    total: int
    levels: LevelCounts
    first_timestamp: int | None
    last_timestamp: int | None
    last_24h: WindowStats
    sampled_out: SampledCounts = Field(
        description="Entries the service's sample rates left out, over the index's hot window"
    )
    hot_since: int = Field(
        description="Where the index's hot window for the service starts (Unix ms): its TTL's, "
        "or later where the index's size budget shrank it; searches before it read the archive"
    )
    index_fill: float | None = Field(
        description="The fullest index database's size / INDEX_BUDGET_BYTES (null: no budget)"
    )


class PatternView(BaseModel):
    template: str = Field(description="The message with variable parts masked, e.g. <NUM>")
    count: int
    share: float
    first_seen: int
    last_seen: int
    example: str
    critical: int
    timeline: list[int] = Field(
        default_factory=list,
        description="Entries per twenty-fourth of the mined window, oldest first (patterns "
        "mined on request; empty in stored analyses)",
    )


class AnalysisView(BaseModel):
    id: str
    service_name: str
    severity: Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
    summary: str
    window: dict[str, int]
    error_count: int
    critical_count: int
    error_rate_per_hour: float
    baseline_per_hour: float | None
    change: float | None = Field(description="Error rate against the earlier windows' mean")
    anomaly: bool
    patterns: list[PatternView]
    recommendations: list[str]
    summary_source: Literal["deterministic", "model"]
    analyzed_at: int


class AnalysisResponse(BaseModel):
    service_name: str
    latest: AnalysisView | None
    history: list[AnalysisView]


class PatternsResponse(BaseModel):
    service_name: str
    levels: list[str]
    start_time: int
    end_time: int
    entries_analyzed: int
    truncated: bool = Field(description="True when more entries matched than were mined")
    patterns: list[PatternView]


class ConfigUpdate(BaseModel):
    """Fields to change; absent fields keep their value, null resets one to its default."""

    model_config = ConfigDict(extra="forbid")

    ttl_days: int | None = Field(default=None, ge=1, le=3650, strict=True)
    retention_policy: RetentionPolicy | None = None
    alert_on_errors: StrictBool | None = None
    max_logs_per_day: int | None = Field(default=None, ge=1, strict=True)
    archive_ttl_days: int | None = Field(default=None, ge=1, le=36500, strict=True)
    debug_sample_rate: float | None = Field(
        default=None, ge=0, le=1, description="Share of DEBUG entries kept (0-1; null: all)"
    )
    info_sample_rate: float | None = Field(
        default=None, ge=0, le=1, description="Share of INFO entries kept (0-1; null: all)"
    )


class ServiceConfigView(BaseModel):
    service_name: str
    ttl_days: int | None = Field(description="Set explicitly, or null")
    retention_policy: RetentionPolicy | None
    alert_on_errors: bool
    max_logs_per_day: int | None
    archive_ttl_days: int | None = Field(
        description="Days the archive keeps full entries, searchable past the hot window"
    )
    debug_sample_rate: float | None = Field(
        description="Share of DEBUG entries kept at ingest (null: all); WARN and above always"
    )
    info_sample_rate: float | None = Field(description="Share of INFO entries kept (null: all)")
    created_at: int | None
    updated_at: int | None
    effective_ttl_days: int = Field(
        description="The index's hot window, what cleanup applies to it: ttl_days, else the "
        "policy's (minimal 7, standard 30, extended 90), else DEFAULT_TTL_DAYS (7); older "
        "entries are searched in the archive"
    )
    effective_archive_ttl_days: int = Field(
        description="What cleanup applies to the archive: archive_ttl_days, else ARCHIVE_TTL_DAYS"
    )
    is_default: bool = Field(description="True when nothing is stored for this service")


class ConfigsResponse(BaseModel):
    configs: list[ServiceConfigView]


class IndexCapacity(BaseModel):
    bytes: int = Field(description="The index database's size, as its 10 GB cap counts it")
    budget_bytes: int | None = Field(
        description="INDEX_BUDGET_BYTES: past it the largest services' hot windows shrink"
    )
    fill: float | None = Field(description="bytes / budget_bytes (1.0: at the budget)")


class HealthResponse(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"] = Field(
        description="degraded: an index database is over its budget (its hot windows are "
        "shrinking; searches before them read the archive)"
    )
    service: str
    db: Literal["connected", "disconnected"]
    archive: Literal["connected", "disconnected"] = Field(
        description="Whether the archive answers (ingest needs it)"
    )
    index: list[IndexCapacity] = Field(
        default_factory=list,
        description="Each index database's fill (DATABASE_URL first, then INDEX_SHARD_URLS)",
    )
    timestamp: int
    version: str
