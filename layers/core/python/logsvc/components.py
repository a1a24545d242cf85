"""The composition root: settings and stores, built on first use and reused while warm."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from logsvc.secret_values import later_value_or_secret, value_or_secret
from logsvc.settings import Settings
from logsvc.sql import SqlDatabase, open_database

# Everything else is imported where it is built: a function imports only what it uses, and
# every import lengthens a cold start.
if TYPE_CHECKING:
    from logsvc.analysis.analyzer import Analyzer
    from logsvc.archive import LogArchive
    from logsvc.archive.athena import AthenaArchive
    from logsvc.archive.duckdb_engine import DuckDbArchive
    from logsvc.archive.objects import ObjectStore
    from logsvc.archive.replay import Replayer
    from logsvc.ask.asker import Asker
    from logsvc.buffer import LogBuffer
    from logsvc.cleanup import Cleaner
    from logsvc.coordination import CoordinationTable
    from logsvc.ingest import Ingestor
    from logsvc.keys import Keys, Principal
    from logsvc.language_models import ChatModel
    from logsvc.live_tail.publisher import ManagementApi, Publisher
    from logsvc.querier import Querier
    from logsvc.quotas import DailyCounts, Quotas
    from logsvc.store.analyses import AnalysisStore
    from logsvc.store.configs import ConfigStore
    from logsvc.store.connections import ConnectionRegistry
    from logsvc.store.daily_counts import SqlDailyCounts
    from logsvc.store.log_index import LogIndex
    from logsvc.store.receipts import ReceiptStore
    from logsvc.store.shards import ShardedIndex
    from logsvc.topology import Topology
    from logsvc.writer import Writer

T = TypeVar("T")

_BUILT: list[Any] = []  # every part built once per process, forgotten together by reset()


def built(factory: Callable[[], T]) -> Callable[[], T]:
    """Build on first use, then reuse while the process is warm."""
    cached = cache(factory)
    _BUILT.append(cached)
    return cached


@built
def settings() -> Settings:
    return Settings.from_env()


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


@built
def quotas() -> Quotas:
    from logsvc.quotas import Quotas

    return Quotas(daily_counts(), config_store())


@built
def topology() -> Topology:
    """The write path and where its state lives (logsvc.topology), named once."""
    from logsvc.topology import Topology

    return Topology.of(settings())


def daily_counts() -> DailyCounts:
    """Where max_logs_per_day is counted (the topology says)."""
    from logsvc.store.daily_counts import SqlDailyCounts
    from logsvc.topology import Home

    home = topology().daily_counts
    if home is Home.COORDINATION_TABLE:
        return coordination_table()
    if home is Home.BUFFER_FILE:
        from logsvc.sql.sqlite import SqliteDatabase

        return SqlDailyCounts(SqliteDatabase(topology().buffer_file or ""))
    return SqlDailyCounts(database())


def index_daily_counts() -> SqlDailyCounts | None:
    """The counts cleanup prunes, when they live in the index."""
    from logsvc.store.daily_counts import SqlDailyCounts
    from logsvc.topology import Home

    return SqlDailyCounts(database()) if topology().daily_counts is Home.INDEX else None


@built
def coordination_table() -> CoordinationTable:
    from logsvc.coordination import CoordinationTable

    return CoordinationTable(settings().coordination_table or "")


@built
def request_budget() -> object:
    """The D1 REST request budget every caller in this process shares: the coordination
    table's (AWS: the whole account's), else this process's."""
    from logsvc.sql.d1_rest import RequestBudget, SharedRequestBudget

    s = settings()
    if s.coordination_table:
        return SharedRequestBudget(coordination_table(), s.d1_request_budget)
    return RequestBudget(s.d1_request_budget)


@built
def keys() -> Keys:
    from logsvc.keys import Keys
    from logsvc.store.api_keys import ApiKeyStore

    # Key ids are MACed with the deployment's bootstrap key: made-up ids cost no read.
    secret = api_key()
    return Keys(ApiKeyStore(database()), id_secret=secret)


@built
def database() -> SqlDatabase:
    """The index for everything but the writer: may spend the read share of the budget."""
    return _open_index(share=None)


@built
def writer_database() -> SqlDatabase:
    """The index as the writer reaches it: may spend the whole budget."""
    return _open_index(share=1.0)


@built
def shard_databases() -> list[SqlDatabase]:
    """The index databases beside DATABASE_URL (INDEX_SHARD_URLS), for reads."""
    return [_open_index(share=None, url=url) for url in settings().index_shard_urls]


@built
def writer_shard_databases() -> list[SqlDatabase]:
    return [_open_index(share=1.0, url=url) for url in settings().index_shard_urls]


def _open_index(share: float | None, url: str | None = None) -> SqlDatabase:
    s = settings()
    return open_database(
        url or s.database_url,
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
    for number, db in enumerate((database(), *shard_databases())):
        _checked(f"database {number}", lambda db=db: db.query("SELECT 1 AS ok"))


def archive_check() -> None:
    _checked("archive", lambda: log_archive().check())


@built
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
        expected_owner=s.archive_bucket_owner,
    )
    return LogArchive(objects)


def failed_batches() -> ObjectStore | None:
    """The bucket of the ingest batches the writer gave up on (FAILED_BATCHES_URL)."""
    from logsvc.archive import open_object_store

    url = settings().failed_batches_url
    return open_object_store(url) if url else None


@built
def archive_engine() -> DuckDbArchive | AthenaArchive:
    """Who searches the archive (ARCHIVE_ENGINE): DuckDB here, or Athena over S3."""
    s = settings()
    if topology().archive_search == "athena":
        from logsvc.archive.athena import AthenaArchive

        return AthenaArchive(
            s.athena_database or "", s.athena_workgroup or "", services=log_archive().services
        )
    from logsvc.archive.duckdb_engine import DuckDbArchive

    return DuckDbArchive(
        log_archive(), cache_dir=s.archive_cache_dir, cache_bytes=s.archive_cache_mb << 20
    )


@built
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
        allowed_hosts=s.replay_target_hosts,
    )


@built
def log_index() -> LogIndex | ShardedIndex:
    return _index(database(), shard_databases())


def _index(
    primary: SqlDatabase, shards: list[SqlDatabase], writer: bool = False
) -> LogIndex | ShardedIndex:
    """The index: one database, or several as one (logsvc.store.shards), each kept under
    the size budget (logsvc.store.hot_windows); the writer's keeps its small blocks open
    for the next flushes (logsvc.store.open_blocks)."""
    from logsvc.store.log_index import LogIndex
    from logsvc.store.open_blocks import OpenBlocks
    from logsvc.store.placements import Placements
    from logsvc.store.shards import ShardedIndex

    s = settings()
    budget = s.index_budget_bytes or None
    indexes = [LogIndex(db, budget, OpenBlocks() if writer else None) for db in (primary, *shards)]
    if not shards:
        return indexes[0]
    return ShardedIndex(indexes, Placements(primary))


@built
def config_store() -> ConfigStore:
    from logsvc.store.configs import ConfigStore

    return ConfigStore(database())


@built
def ingestor() -> Ingestor:
    """Checks, admits and numbers entries, and hands them to the buffer."""
    from logsvc.ingest import Ingestor
    from logsvc.redaction import Redactor

    s = settings()
    return Ingestor(ingest_buffer(), quotas(), Redactor(s.redact, s.redact_patterns))


@built
def receipt_store() -> ReceiptStore:
    from logsvc.store.receipts import ReceiptStore

    return ReceiptStore(database())


@built
def ingest_buffer() -> LogBuffer:
    """Where ingest hands entries (the topology's write path): the direct buffer (the
    writer stores each request at once), a local buffer file, or a Kinesis stream."""
    from logsvc.topology import WritePath

    path = topology()
    if path.write_path is WritePath.DIRECT:
        from logsvc.buffer.direct import DirectBuffer

        return DirectBuffer(log_writer(), receipt_store())
    if path.write_path is WritePath.KINESIS:
        from logsvc.buffer.kinesis import KinesisBuffer

        return KinesisBuffer(path.stream or "", coordination_table())
    from logsvc.buffer.local import LocalBuffer

    return LocalBuffer(path.buffer_file or "")


@built
def log_writer() -> Writer:
    """What drains the buffer: the writer function on AWS, a thread of the local server."""
    from logsvc.sampling import Sampler
    from logsvc.store.configs import ConfigStore
    from logsvc.topology import WritePath
    from logsvc.writer import Writer

    # Entries the index refuses go to the writer's queue on AWS, to the buffer file locally;
    # on the direct path a refused request fails and the client retries.
    path = topology()
    dead_letters = None
    if path.dead_letter_queue:
        from logsvc.buffer.kinesis import DeadLetterQueue

        dead_letters = DeadLetterQueue(path.dead_letter_queue).dead_letter
    elif path.write_path is WritePath.LOCAL_BUFFER:
        from logsvc.buffer.local import LocalBuffer

        local = ingest_buffer()
        assert isinstance(local, LocalBuffer)
        dead_letters = local.dead_letter
    return Writer(
        log_archive(),
        _index(writer_database(), writer_shard_databases(), writer=True),
        dead_letters,
        publisher=publisher(),
        sampler=Sampler(ConfigStore(writer_database())),
    )


@built
def connection_registry() -> ConnectionRegistry:
    from logsvc.live_tail.subscriptions import Subscription
    from logsvc.store.connections import ConnectionRegistry

    return ConnectionRegistry(database(), Subscription.model_validate_json)


@built
def management_api() -> ManagementApi | None:
    """API Gateway's WebSocket management API (or the local server's), when configured."""
    from logsvc.live_tail.publisher import ManagementApi

    s = settings()
    if not s.stream_endpoint:
        return None
    local = s.stream_local_credentials
    credentials = tuple(local.split(":", 1)) if local and ":" in local else None
    return ManagementApi(s.stream_endpoint, s.aws_region, credentials)


def publisher() -> Publisher | None:
    from logsvc.live_tail.publisher import Publisher

    api = management_api()
    return Publisher(connection_registry(), api) if api else None


@built
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


def summarizer() -> ChatModel | None:
    """The model that writes summaries, if ANALYSIS_LLM names one."""
    from logsvc.language_models import from_settings

    s = settings()
    return from_settings(s, s.analysis_llm, s.analysis_llm_model) if s.analysis_llm else None


@built
def asker() -> Asker:
    from logsvc.ask.asker import Asker

    return Asker(querier(), asker_model(), settings().loki_query_timeout_s)


def asker_model() -> ChatModel | None:
    """The model for the questions the built-in rules cannot read, if ASK_LLM names one."""
    from logsvc.language_models import from_settings

    s = settings()
    if s.ask_llm is None:
        return None
    return from_settings(s, s.ask_llm, s.ask_llm_model, s.ask_llm_timeout_s)


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
        if opened.cache_info().currsize and hasattr(opened(), "close"):
            opened().close()
    for shards in (shard_databases, writer_shard_databases):
        if shards.cache_info().currsize:
            for shard in shards():
                shard.close()
    for factory in _BUILT:
        factory.cache_clear()
