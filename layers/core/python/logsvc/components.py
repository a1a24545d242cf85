"""The composition root: settings and stores, built on first use and reused while warm."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from logsvc.settings import Settings
from logsvc.sql import SqlDatabase, open_database

# Everything else is imported where it is built: a function imports only what it uses, and
# every import lengthens a cold start.
if TYPE_CHECKING:
    from logsvc.analysis.analyzer import Analyzer
    from logsvc.analysis.summarizer import Summarizer
    from logsvc.archive import LogArchive
    from logsvc.archive.athena import AthenaArchive
    from logsvc.archive.duckdb_engine import DuckDbArchive
    from logsvc.archive.replay import Replayer
    from logsvc.buffer import LogBuffer
    from logsvc.cleanup import Cleaner
    from logsvc.coordination import CoordinationTable
    from logsvc.ingest import Ingestor
    from logsvc.keys import Keys, Principal
    from logsvc.querier import Querier
    from logsvc.quotas import DailyCounts, Quotas
    from logsvc.store.analyses import AnalysisStore
    from logsvc.store.configs import ConfigStore
    from logsvc.store.connections import ConnectionRegistry
    from logsvc.store.daily_counts import SqlDailyCounts
    from logsvc.store.log_index import LogIndex
    from logsvc.store.receipts import ReceiptStore
    from logsvc.stream.publisher import ManagementApi, Publisher
    from logsvc.writer import Writer

# A secret is read again after this many seconds, so a rotated value reaches warm functions.
SECRET_MAX_AGE_SECONDS = 300


@cache
def settings() -> Settings:
    return Settings.from_env()


def secret(arn: str) -> str:
    """A Secrets Manager value, cached by Powertools for SECRET_MAX_AGE_SECONDS."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)


def value_or_secret(value: str | None, arn: str | None) -> str | None:
    """A setting given as a value (locally) or as the ARN of a secret holding it (AWS)."""
    return secret(arn) if arn else value


def later_value_or_secret(value: str | None, arn: str | None) -> Callable[[], str] | str | None:
    """The same, asked on each use: a secret updated in Secrets Manager is used as soon as
    its cache expires, without restarting the function."""
    return (lambda: secret(arn)) if arn else value


def api_key() -> str | None:
    """The Bearer key: from Secrets Manager on AWS, from LOG_SERVICE_API_KEY elsewhere."""
    s = settings()
    return value_or_secret(s.api_key, s.api_key_secret_arn)


def bootstrap_keys() -> list[str]:
    """Keys that are admin of everything: LOG_SERVICE_API_KEY and, while rotating it,
    LOG_SERVICE_API_KEY_PREVIOUS."""
    return [key for key in (api_key(), settings().api_key_previous) if key]


def authenticate(authorization: str | None) -> Principal:
    """The caller behind an Authorization header (the bootstrap keys, then scoped keys)."""
    from logsvc.keys import authenticate as check

    return check(authorization, bootstrap_keys(), keys())


def cors_origins() -> tuple[str, ...]:
    return settings().cors_origins


@cache
def quotas() -> Quotas:
    from logsvc.quotas import Quotas

    return Quotas(daily_counts(), config_store())


def daily_counts() -> DailyCounts:
    """Where max_logs_per_day is counted: wherever ingest keeps its own state."""
    from logsvc.store.daily_counts import SqlDailyCounts

    s = settings()
    if s.coordination_table:
        return coordination_table()
    if s.ingest_buffer and s.ingest_buffer.startswith("file://"):
        from logsvc.sql.sqlite import SqliteDatabase

        return SqlDailyCounts(SqliteDatabase(_local_buffer_path()))
    return SqlDailyCounts(database())


def index_daily_counts() -> SqlDailyCounts | None:
    """The counts cleanup prunes, when they live in the index."""
    from logsvc.store.daily_counts import SqlDailyCounts

    s = settings()
    return None if s.coordination_table or s.ingest_buffer else SqlDailyCounts(database())


@cache
def coordination_table() -> CoordinationTable:
    from logsvc.coordination import CoordinationTable

    return CoordinationTable(settings().coordination_table or "")


@cache
def request_budget() -> object:
    """The D1 REST request budget every caller in this process shares: the coordination
    table's (AWS: the whole account's), else this process's."""
    from logsvc.sql.d1_rest import RequestBudget, SharedRequestBudget

    s = settings()
    if s.coordination_table:
        return SharedRequestBudget(coordination_table(), s.d1_request_budget)
    return RequestBudget(s.d1_request_budget)


@cache
def keys() -> Keys:
    from logsvc.keys import Keys
    from logsvc.store.api_keys import ApiKeyStore

    return Keys(ApiKeyStore(database()))


@cache
def database() -> SqlDatabase:
    """The index for everything but the writer: may spend the read share of the budget."""
    return _open_index(share=None)


@cache
def writer_database() -> SqlDatabase:
    """The index as the writer reaches it: may spend the whole budget."""
    return _open_index(share=1.0)


def _open_index(share: float | None) -> SqlDatabase:
    s = settings()
    return open_database(
        s.database_url,
        d1_api_token=later_value_or_secret(s.d1_api_token, s.d1_api_token_secret_arn),
        d1_api_base_url=s.d1_api_base_url,
        d1_request_budget=request_budget(),
        d1_budget_share=share,
        bridge_secret=later_value_or_secret(s.d1_bridge_secret, s.d1_bridge_secret_arn),
    )


# /health asks each dependency at most this often per instance while it answers: monitors
# poll it, and each database check is a D1 request against the account-wide budget.
HEALTH_CHECK_SECONDS = 10.0
_healthy_at: dict[str, float] = {}


def _checked(name: str, check: Callable[[], object]) -> None:
    """Run ``check`` (it raises StoreUnavailable on failure); a success holds 10 s."""
    import time

    if time.monotonic() - _healthy_at.get(name, float("-inf")) < HEALTH_CHECK_SECONDS:
        return
    check()
    _healthy_at[name] = time.monotonic()


def database_check() -> None:
    _checked("database", lambda: database().query("SELECT 1 AS ok"))


def archive_check() -> None:
    _checked("archive", lambda: log_archive().check())


@cache
def log_archive() -> LogArchive:
    from logsvc.archive import LogArchive, open_object_store

    s = settings()
    # R2 (or another S3 API) keys: {"access_key_id": ..., "secret_access_key": ...}
    keys = value_or_secret(None, s.archive_credentials_secret_arn)
    credentials = json.loads(keys) if keys else None
    objects = open_object_store(
        s.archive_url,
        endpoint_url=s.archive_endpoint_url,
        region=s.archive_region,
        credentials=credentials,
    )
    return LogArchive(objects)


@cache
def archive_engine() -> DuckDbArchive | AthenaArchive:
    """Who searches the archive (ARCHIVE_ENGINE): DuckDB here, or Athena over S3."""
    s = settings()
    if s.archive_engine == "athena":
        from logsvc.archive.athena import AthenaArchive

        return AthenaArchive(
            s.athena_database or "", s.athena_workgroup or "", services=log_archive().services
        )
    from logsvc.archive.duckdb_engine import DuckDbArchive

    return DuckDbArchive(
        log_archive(), cache_dir=s.archive_cache_dir, cache_bytes=s.archive_cache_mb << 20
    )


@cache
def querier() -> Querier:
    """Every read: the index's hot window and, before it, the archive."""
    from logsvc.querier import Querier

    s = settings()
    return Querier(
        log_index(),
        archive_engine,
        log_archive(),
        config_store(),
        s.retention_defaults,
        timeout_s=s.archive_query_timeout_s,
        archive_enabled=s.archive_engine != "off",
    )


def replayer() -> Replayer:
    """Re-sends archived entries (read with DuckDB, whatever engine searches)."""
    from logsvc.archive.duckdb_engine import DuckDbArchive
    from logsvc.archive.replay import Replayer

    s = settings()
    engine = DuckDbArchive(
        log_archive(), cache_dir=s.archive_cache_dir, cache_bytes=s.archive_cache_mb << 20
    )
    writer = log_writer()
    return Replayer(
        engine,
        lambda entries, key: writer.store(entries, key, replayed=True),
        querier().hot_since,
    )


@cache
def log_index() -> LogIndex:
    from logsvc.store.log_index import LogIndex

    return LogIndex(database())


@cache
def config_store() -> ConfigStore:
    from logsvc.store.configs import ConfigStore

    return ConfigStore(database())


@cache
def ingestor() -> Ingestor:
    """Checks, admits and numbers entries, and hands them to the buffer."""
    from logsvc.ingest import Ingestor
    from logsvc.redaction import Redactor

    s = settings()
    return Ingestor(ingest_buffer(), quotas(), Redactor(s.redact, s.redact_patterns))


@cache
def receipt_store() -> ReceiptStore:
    from logsvc.store.receipts import ReceiptStore

    return ReceiptStore(database())


def _local_buffer_path() -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(settings().ingest_buffer or "").path)


@cache
def ingest_buffer() -> LogBuffer:
    """INGEST_BUFFER's buffer: a local file, or a Kinesis stream; unset, the direct one
    (the writer stores each request at once)."""
    s = settings()
    if not s.ingest_buffer:
        from logsvc.buffer.direct import DirectBuffer

        return DirectBuffer(log_writer(), receipt_store())
    if s.ingest_buffer.startswith("kinesis://"):
        from logsvc.buffer.kinesis import KinesisBuffer

        receipts = coordination_table() if s.coordination_table else None
        return KinesisBuffer(s.ingest_buffer.removeprefix("kinesis://"), receipts)
    from logsvc.buffer.local import LocalBuffer

    return LocalBuffer(_local_buffer_path())


@cache
def log_writer() -> Writer:
    """What drains the buffer: the writer function on AWS, a thread of the local server."""
    from logsvc.sampling import Sampler
    from logsvc.store.configs import ConfigStore
    from logsvc.store.log_index import LogIndex
    from logsvc.writer import Writer

    # Entries the index refuses go to the writer's queue on AWS, to the buffer file locally.
    url = settings().writer_dead_letter_queue_url
    if url:
        from logsvc.buffer.kinesis import DeadLetterQueue

        dead_letters = DeadLetterQueue(url).dead_letter
    elif (settings().ingest_buffer or "").startswith("file://"):
        from logsvc.buffer.local import LocalBuffer

        local = ingest_buffer()
        assert isinstance(local, LocalBuffer)
        dead_letters = local.dead_letter
    else:
        dead_letters = None  # the direct buffer: a refused request fails, nothing is set aside
    return Writer(
        log_archive(),
        LogIndex(writer_database()),
        dead_letters,
        publisher=publisher(),
        sampler=Sampler(ConfigStore(writer_database())),
    )


@cache
def connection_registry() -> ConnectionRegistry:
    from logsvc.store.connections import ConnectionRegistry
    from logsvc.stream.subscriptions import Subscription

    return ConnectionRegistry(database(), Subscription.model_validate_json)


@cache
def management_api() -> ManagementApi | None:
    """API Gateway's WebSocket management API (or the local server's), when configured."""
    from logsvc.stream.publisher import ManagementApi

    s = settings()
    if not s.stream_endpoint:
        return None
    local = s.stream_local_credentials
    credentials = tuple(local.split(":", 1)) if local and ":" in local else None
    return ManagementApi(s.stream_endpoint, s.aws_region, credentials)


def publisher() -> Publisher | None:
    from logsvc.stream.publisher import Publisher

    api = management_api()
    return Publisher(connection_registry(), api) if api else None


@cache
def analysis_store() -> AnalysisStore:
    from logsvc.store.analyses import AnalysisStore

    return AnalysisStore(database())


# The maintenance functions' pieces are imported when built: the HTTP functions never
# need them, and every import lengthens a cold start.


def analyzer() -> Analyzer:
    from logsvc.alerts import Alerter
    from logsvc.analysis.analyzer import Analyzer

    s = settings()
    webhook_url = value_or_secret(s.alert_webhook_url, s.alert_webhook_url_secret_arn)
    alerter = Alerter(
        analysis_store(),
        webhook_url=webhook_url,
        topic_arn=s.alert_topic_arn,
        cooldown_ms=s.alert_cooldown_minutes * 60_000,
    )
    return Analyzer(log_index(), analysis_store(), config_store(), alerter, summarizer())


def summarizer() -> Summarizer | None:
    """The model that writes summaries, if ANALYSIS_LLM names one."""
    from logsvc.analysis.summarizer import BedrockSummarizer, WorkersAiSummarizer

    s = settings()
    if s.analysis_llm == "bedrock":
        return BedrockSummarizer(s.analysis_llm_model or "amazon.nova-lite-v1:0")
    if s.analysis_llm == "workers-ai":
        token = s.workers_ai_token or ""
        return WorkersAiSummarizer(
            s.workers_ai_account_id or "",
            lambda: token,
            s.analysis_llm_model or "@cf/meta/llama-3.1-8b-instruct",
            base_url=s.d1_api_base_url,
        )
    return None


def cleaner() -> Cleaner:
    from logsvc.archive.compaction import Compactor
    from logsvc.cleanup import Cleaner

    s = settings()
    return Cleaner(
        log_index(),
        config_store(),
        log_archive(),
        analysis_store(),
        s.retention_defaults,
        batch_size=s.cleanup_batch_size,
        analysis_retention_days=s.analysis_retention_days,
        connections=connection_registry(),
        daily_counts=index_daily_counts(),
        receipts=receipt_store(),
        compactor=Compactor(log_archive()) if s.archive_compaction else None,
    )


def reset() -> None:
    """Forget everything built so far (tests, or the local server after a settings change)."""
    _healthy_at.clear()
    for opened in (database, writer_database, ingest_buffer):
        if opened.cache_info().currsize and opened() is not None and hasattr(opened(), "close"):
            opened().close()
    for factory in (
        settings,
        database,
        writer_database,
        request_budget,
        coordination_table,
        ingest_buffer,
        log_writer,
        receipt_store,
        log_archive,
        archive_engine,
        querier,
        log_index,
        config_store,
        ingestor,
        analysis_store,
        connection_registry,
        management_api,
        keys,
        quotas,
    ):
        factory.cache_clear()
