"""Runtime settings, parsed once from environment variables into a typed object."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from logsvc.entries import DEFAULT_OTLP_SERVICE, DEFAULT_TAIL_SERVICE
from logsvc.redaction import DEFAULT_RULES, RULES
from logsvc.store.configs import RetentionDefaults


class SettingsError(ValueError):
    """An environment variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Every knob the functions read. Names match the environment variables."""

    api_key: str | None
    database_url: str
    archive_url: str
    api_key_previous: str | None = None  # still accepted while clients move to api_key
    # On AWS the secrets stay in Secrets Manager; these name them (see logsvc.components).
    api_key_secret_arn: str | None = None
    d1_api_token_secret_arn: str | None = None
    archive_credentials_secret_arn: str | None = None
    d1_api_token: str | None = None
    d1_request_budget: int = 1000  # D1 REST requests per 5 minutes per function instance
    d1_bridge_secret: str | None = None
    d1_bridge_secret_arn: str | None = None
    d1_api_base_url: str = "https://api.cloudflare.com/client/v4"
    archive_endpoint_url: str | None = None
    archive_region: str | None = None
    default_ttl_days: int = 30
    archive_ttl_days: int = 365
    analysis_retention_days: int = 90
    cleanup_batch_size: int = 1000
    openapi_document: str = "openapi.json"
    # Analysis: an optional model summary ("bedrock" or "workers-ai"), and alert sinks.
    analysis_llm: str | None = None
    analysis_llm_model: str | None = None
    workers_ai_account_id: str | None = None
    workers_ai_token: str | None = None
    alert_webhook_url: str | None = None
    alert_webhook_url_secret_arn: str | None = None
    alert_topic_arn: str | None = None
    alert_cooldown_minutes: int = 360
    otlp_default_service: str = DEFAULT_OTLP_SERVICE  # for records without service.name
    tail_default_service: str = DEFAULT_TAIL_SERVICE  # for TraceItems without scriptName
    # Live tail: API Gateway's WebSocket management endpoint (https://{api}.execute-api.
    # {region}.amazonaws.com/{stage}); locally the local server. Unset: no live tail.
    stream_endpoint: str | None = None
    # The durable buffer between ingest and the writer: file:///path/buffer.db (local),
    # kinesis://<stream name> (AWS), or None: ingest writes the index itself.
    ingest_buffer: str | None = None
    # How the writer drains it: at most this many entries per flush, and a flush at the
    # latest this long after the oldest pending entry arrived.
    writer_batch_entries: int = 10_000
    writer_flush_seconds: float = 1.0
    # AWS: the DynamoDB table every instance shares (D1 budget, daily counts, receipts),
    # and the queue the writer sets refused entries aside in.
    coordination_table: str | None = None
    writer_dead_letter_queue_url: str | None = None
    aws_region: str | None = None
    # Redaction at ingest (logsvc.redaction): built-in rules and extra regular expressions.
    redact: tuple[str, ...] = DEFAULT_RULES
    redact_patterns: tuple[str, ...] = ()
    # Browser origins allowed to call the API (CORS); none by default.
    cors_origins: tuple[str, ...] = ()

    @property
    def retention_defaults(self) -> RetentionDefaults:
        return RetentionDefaults(self.default_ttl_days, self.archive_ttl_days)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            api_key=env.get("LOG_SERVICE_API_KEY") or None,
            api_key_previous=env.get("LOG_SERVICE_API_KEY_PREVIOUS") or None,
            database_url=_required(env, "DATABASE_URL"),
            archive_url=_required(env, "ARCHIVE_URL"),
            api_key_secret_arn=env.get("LOG_SERVICE_API_KEY_SECRET_ARN") or None,
            d1_api_token_secret_arn=env.get("D1_API_TOKEN_SECRET_ARN") or None,
            archive_credentials_secret_arn=env.get("ARCHIVE_CREDENTIALS_SECRET_ARN") or None,
            d1_api_token=env.get("D1_API_TOKEN") or None,
            d1_request_budget=_int(env, "D1_REQUESTS_PER_5_MINUTES", 1000, 1, 1200),
            d1_bridge_secret=env.get("D1_BRIDGE_SECRET") or None,
            d1_bridge_secret_arn=env.get("D1_BRIDGE_SECRET_ARN") or None,
            d1_api_base_url=env.get("D1_API_BASE_URL") or cls.d1_api_base_url,
            archive_endpoint_url=env.get("ARCHIVE_ENDPOINT_URL") or None,
            archive_region=env.get("ARCHIVE_REGION") or None,
            default_ttl_days=_int(env, "DEFAULT_TTL_DAYS", cls.default_ttl_days, 1, 3650),
            archive_ttl_days=_int(env, "ARCHIVE_TTL_DAYS", cls.archive_ttl_days, 1, 36_500),
            analysis_retention_days=_int(
                env, "ANALYSIS_RETENTION_DAYS", cls.analysis_retention_days, 1, 3650
            ),
            cleanup_batch_size=_int(env, "CLEANUP_BATCH_SIZE", cls.cleanup_batch_size, 1, 10_000),
            openapi_document=env.get("OPENAPI_DOCUMENT") or cls.openapi_document,
            analysis_llm=_choice(env, "ANALYSIS_LLM", ("bedrock", "workers-ai")),
            analysis_llm_model=env.get("ANALYSIS_LLM_MODEL") or None,
            workers_ai_account_id=env.get("WORKERS_AI_ACCOUNT_ID") or None,
            workers_ai_token=env.get("WORKERS_AI_TOKEN") or None,
            alert_webhook_url=env.get("ALERT_WEBHOOK_URL") or None,
            alert_webhook_url_secret_arn=env.get("ALERT_WEBHOOK_URL_SECRET_ARN") or None,
            alert_topic_arn=env.get("ALERT_TOPIC_ARN") or None,
            otlp_default_service=env.get("OTLP_DEFAULT_SERVICE") or cls.otlp_default_service,
            tail_default_service=env.get("TAIL_DEFAULT_SERVICE") or cls.tail_default_service,
            stream_endpoint=env.get("STREAM_ENDPOINT") or None,
            ingest_buffer=_buffer(env),
            writer_batch_entries=_int(env, "WRITER_BATCH_ENTRIES", 10_000, 1, 10_000),
            writer_flush_seconds=_int(env, "WRITER_FLUSH_MS", 1000, 10, 300_000) / 1000,
            coordination_table=env.get("COORDINATION_TABLE") or None,
            writer_dead_letter_queue_url=env.get("WRITER_DEAD_LETTER_QUEUE_URL") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            redact=_redact_rules(env),
            redact_patterns=_redact_patterns(env),
            cors_origins=_list(env, "CORS_ORIGINS"),
            alert_cooldown_minutes=_int(
                env, "ALERT_COOLDOWN_MINUTES", cls.alert_cooldown_minutes, 1, 100_000
            ),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise SettingsError(f"{name} is not set")
    return value


def _buffer(env: Mapping[str, str]) -> str | None:
    """INGEST_BUFFER: file:///... or kinesis://<stream>; "off" or unset: no buffer."""
    value = (env.get("INGEST_BUFFER") or "").strip()
    if value in ("", "off"):
        return None
    if not (value.startswith("file:///") or value.startswith("kinesis://")):
        raise SettingsError(
            f"INGEST_BUFFER must be file:///<path>, kinesis://<stream> or off, got {value!r}"
        )
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    value = env.get(name) or None
    if value is not None and value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)} or empty, got {value!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def _redact_rules(env: Mapping[str, str]) -> tuple[str, ...]:
    """REDACT: comma-separated rule names; unset: the defaults; "none": no built-in rule."""
    raw = env.get("REDACT")
    if raw is None or raw.strip() == "":
        return DEFAULT_RULES
    if raw.strip().lower() == "none":
        return ()
    rules = tuple(rule.strip() for rule in raw.split(",") if rule.strip())
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise SettingsError(f"REDACT: unknown rule(s) {unknown}; known: {', '.join(RULES)}")
    return rules


def _redact_patterns(env: Mapping[str, str]) -> tuple[str, ...]:
    """REDACT_PATTERNS: a JSON list of regular expressions."""
    raw = env.get("REDACT_PATTERNS")
    if not raw:
        return ()
    try:
        patterns = json.loads(raw)
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ValueError("not a list of strings")
        for pattern in patterns:
            re.compile(pattern)
    except (ValueError, re.error) as exc:
        raise SettingsError(
            f"REDACT_PATTERNS must be a JSON list of regular expressions ({exc})"
        ) from None
    return tuple(patterns)
