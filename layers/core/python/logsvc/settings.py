"""Runtime settings: environment variables validated once, at cold start, into a typed model.

Each field is named after its variable (``database_url`` <- DATABASE_URL, with the few
exceptions given as aliases); a malformed value fails the start with the variable's name.
Empty strings count as unset.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from logsvc.entries import DEFAULT_SERVICE, DEFAULT_TAIL_SERVICE
from logsvc.redaction import DEFAULT_RULES, RULES
from logsvc.store.configs import RetentionDefaults
from logsvc.store.hot_windows import D1_MAX_BYTES, DEFAULT_BUDGET_BYTES


class SettingsError(ValueError):
    """An environment variable is missing or malformed."""


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _redact_rules(value: Any) -> Any:
    """REDACT: comma-separated rule names; unset: the defaults; "none": no built-in rule."""
    if isinstance(value, str) and value.strip().lower() == "none":
        return ()
    rules = _comma_list(value)
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise ValueError(f"unknown rule(s) {unknown}; known: {', '.join(RULES)}")
    return rules


def _redact_patterns(value: Any) -> Any:
    """REDACT_PATTERNS: a JSON list of regular expressions."""
    if not isinstance(value, str):
        return value
    try:
        patterns = json.loads(value)
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ValueError("not a list of strings")
        for pattern in patterns:
            re.compile(pattern)
    except (ValueError, re.error) as exc:
        raise ValueError(f"must be a JSON list of regular expressions ({exc})") from None
    return tuple(patterns)


def _buffer(value: Any) -> Any:
    """INGEST_BUFFER: file:///... or kinesis://<stream>; "off": no buffer."""
    if value == "off":
        return None
    if not (value.startswith("file:///") or value.startswith("kinesis://")):
        raise ValueError(f"must be file:///<path>, kinesis://<stream> or off, got {value!r}")
    return value


def _milliseconds_to_seconds(value: Any) -> Any:
    try:
        milliseconds = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be an integer of milliseconds, got {value!r}") from None
    if not 10 <= milliseconds <= 300_000:
        raise ValueError(f"must be between 10 and 300000, got {milliseconds}")
    return milliseconds / 1000


Names = Annotated[tuple[str, ...], BeforeValidator(_comma_list)]


class Settings(BaseModel):
    """Every knob the functions read."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    api_key: str | None = Field(default=None, alias="LOG_SERVICE_API_KEY")
    database_url: str
    archive_url: str
    # Still accepted while clients move to the new key.
    api_key_previous: str | None = Field(default=None, alias="LOG_SERVICE_API_KEY_PREVIOUS")
    # On AWS the secrets stay in Secrets Manager; these name them (see logsvc.components).
    api_key_secret_arn: str | None = Field(default=None, alias="LOG_SERVICE_API_KEY_SECRET_ARN")
    d1_api_token_secret_arn: str | None = None
    archive_credentials_secret_arn: str | None = None
    d1_api_token: str | None = None
    # D1 REST requests per five minutes, for the whole account (see logsvc.coordination).
    d1_request_budget: int = Field(default=1000, ge=1, le=1200, alias="D1_REQUESTS_PER_5_MINUTES")
    d1_bridge_secret: str | None = None
    d1_bridge_secret_arn: str | None = None
    d1_api_base_url: str = "https://api.cloudflare.com/client/v4"
    archive_endpoint_url: str | None = None
    archive_region: str | None = None
    # S3: the account that must own the archive bucket (set by the stacks).
    archive_bucket_owner: str | None = None
    # The index's hot window: entries stay in D1 this long; older ones are searched in the
    # archive, which keeps them ARCHIVE_TTL_DAYS (logsvc.querier).
    default_ttl_days: int = Field(default=7, ge=1, le=3650)
    # The most each index database may hold (D1 caps a database at 10 GB): past it the hot
    # window of the largest services shrinks (logsvc.store.hot_windows). 0: no budget.
    index_budget_bytes: int = Field(default=DEFAULT_BUDGET_BYTES, ge=0, le=D1_MAX_BYTES)
    # More index databases beside DATABASE_URL (same URL forms): each service's blocks live
    # in one of them, placed by its name (logsvc.store.shards).
    index_shard_urls: Names = ()
    archive_ttl_days: int = Field(default=365, ge=1, le=36_500)
    # Who searches the archive: DuckDB in the function (local folder, R2) or Athena (S3).
    archive_engine: Literal["duckdb", "athena", "off"] = "duckdb"
    # Stop an archive search after this long and answer with what the index found,
    # marked partial (Athena: answer "running" with a query id to poll).
    archive_query_timeout_s: Annotated[float, BeforeValidator(_milliseconds_to_seconds)] = Field(
        default=20.0, alias="ARCHIVE_QUERY_TIMEOUT_MS"
    )
    # The daily cleanup compacts each past day's NDJSON objects into Parquet.
    archive_compaction: bool = True
    # DuckDB over an S3 API: objects fetched for a query are kept here, up to this size.
    archive_cache_dir: str | None = None  # default: logsvc-archive-cache in the temp folder
    archive_cache_mb: int = Field(default=2048, ge=16, le=10_240)
    # Athena (ARCHIVE_ENGINE=athena): the Glue database and the workgroup (its scan limit
    # and results bucket are the CDK app's).
    athena_database: str | None = None
    athena_workgroup: str | None = None
    analysis_retention_days: int = Field(default=90, ge=1, le=3650)
    cleanup_batch_size: int = Field(default=1000, ge=1, le=10_000)
    openapi_document: str = "openapi.json"
    # Language models (logsvc.language_models): "bedrock", "workers-ai" or "openai" (any
    # OpenAI-compatible endpoint at OPENAI_BASE_URL). Analysis: an optional summary; ask:
    # questions the deterministic translator cannot read (logsvc.ask).
    analysis_llm: Literal["bedrock", "workers-ai", "openai"] | None = None
    analysis_llm_model: str | None = None
    ask_llm: Literal["bedrock", "workers-ai", "openai"] | None = None
    ask_llm_model: str | None = None
    ask_llm_timeout_s: Annotated[float, BeforeValidator(_milliseconds_to_seconds)] = Field(
        default=10.0, alias="ASK_LLM_TIMEOUT_MS"
    )
    workers_ai_account_id: str | None = None
    workers_ai_token: str | None = None
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    # AWS: the secret holding the Workers AI token or the OpenAI-compatible endpoint's key.
    model_api_key_secret_arn: str | None = None
    alert_webhook_url: str | None = None
    alert_webhook_url_secret_arn: str | None = None
    alert_topic_arn: str | None = None
    alert_cooldown_minutes: int = Field(default=360, ge=1, le=100_000)
    otlp_default_service: str = DEFAULT_SERVICE  # for records without service.name
    tail_default_service: str = DEFAULT_TAIL_SERVICE  # for TraceItems without scriptName
    # Live tail: API Gateway's WebSocket management endpoint (https://{api}.execute-api.
    # {region}.amazonaws.com/{stage}); locally the local server. Unset: no live tail.
    stream_endpoint: str | None = None
    # Local server only: "<key id>:<secret>" to sign management calls with (it answers no
    # other caller). On AWS the function's role signs them.
    stream_local_credentials: str | None = None
    # The buffer between ingest and the writer: file:///path/buffer.db (local), kinesis://
    # <stream name> (AWS), or None: the direct one, which hands each request to the writer
    # at once (logsvc.topology).
    ingest_buffer: Annotated[str | None, BeforeValidator(_buffer)] = None
    # How the writer drains it: at most this many entries per flush, and a flush at the
    # latest this long after the oldest pending entry arrived.
    writer_batch_entries: int = Field(default=10_000, ge=1, le=10_000)
    writer_flush_seconds: Annotated[float, BeforeValidator(_milliseconds_to_seconds)] = Field(
        default=4.0, alias="WRITER_FLUSH_MS"
    )
    # The web console's live tail: the stream API's wss:// address on AWS (the CDK app sets
    # it); unset, the page uses its own server's (the local server).
    live_tail_url: str | None = None
    # A native search that takes longer is stopped with a clear error (504); so is a Loki
    # query (its own setting: Grafana's timeouts are set apart).
    search_timeout_s: Annotated[float, BeforeValidator(_milliseconds_to_seconds)] = Field(
        default=25.0, alias="SEARCH_TIMEOUT_MS"
    )
    loki_query_timeout_s: Annotated[float, BeforeValidator(_milliseconds_to_seconds)] = Field(
        default=25.0, alias="LOKI_QUERY_TIMEOUT_MS"
    )
    # AWS: the DynamoDB table every instance shares (D1 budget, daily counts, receipts),
    # and the queue the writer sets refused entries aside in.
    coordination_table: str | None = None
    writer_dead_letter_queue_url: str | None = None
    # Where Lambda writes the ingest batches the writer gave up on, and the records it could
    # not read (s3://bucket; set by the stacks): `logsvc redrive` stores the batches.
    failed_batches_url: str | None = None
    aws_region: str | None = None
    # Redaction at ingest (logsvc.redaction): built-in rules and extra regular expressions.
    redact: Annotated[tuple[str, ...], BeforeValidator(_redact_rules)] = DEFAULT_RULES
    redact_patterns: Annotated[tuple[str, ...], BeforeValidator(_redact_patterns)] = ()
    # Browser origins allowed to call the API (CORS); none by default.
    cors_origins: Names = ()
    # Hosts replay may send to (none: any, but never a link-local address, nor loopback in
    # Lambda: logsvc.archive.replay.check_target).
    replay_target_hosts: Names = ()

    @property
    def retention_defaults(self) -> RetentionDefaults:
        return RetentionDefaults(self.default_ttl_days, self.archive_ttl_days)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            variable = field.alias or name.upper()
            value = env.get(variable)
            if value is not None and value.strip() != "":
                values[variable] = value.strip()
        if "AWS_REGION" not in values and env.get("AWS_DEFAULT_REGION"):
            values["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
        try:
            return cls.model_validate(_by_alias(cls, values))
        except ValidationError as exc:
            raise SettingsError(_message(cls, exc)) from None


def _by_alias(cls: type[Settings], values: dict[str, Any]) -> dict[str, Any]:
    """Variables to field names (validation by field name; aliases are variable names)."""
    names = {field.alias or name.upper(): name for name, field in cls.model_fields.items()}
    return {names[variable]: value for variable, value in values.items()}


def _message(cls: type[Settings], exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "?"
    field = cls.model_fields.get(name)
    variable = field.alias if field is not None and field.alias else name.upper()
    if error["type"] == "missing":
        return f"{variable} is not set"
    detail = str(error["msg"]).removeprefix("Value error, ")
    return f"{variable}: {detail}"
