"""The composition root: settings and stores, built on first use and reused while warm."""

from __future__ import annotations

from functools import cache

from logsvc.archive import LogArchive, open_object_store
from logsvc.ingest import Ingestor
from logsvc.settings import Settings
from logsvc.sql import SqlDatabase, open_database
from logsvc.store.configs import ConfigStore
from logsvc.store.logs import LogStore


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def database() -> SqlDatabase:
    s = settings()
    return open_database(
        s.database_url, d1_api_token=s.d1_api_token, d1_api_base_url=s.d1_api_base_url
    )


@cache
def log_archive() -> LogArchive:
    s = settings()
    return LogArchive(
        open_object_store(
            s.archive_url, endpoint_url=s.archive_endpoint_url, region=s.archive_region
        )
    )


@cache
def log_store() -> LogStore:
    return LogStore(database())


@cache
def config_store() -> ConfigStore:
    return ConfigStore(database())


@cache
def ingestor() -> Ingestor:
    return Ingestor(log_archive(), log_store())


def reset() -> None:
    """Forget everything built so far (tests, or the local server after a settings change)."""
    if database.cache_info().currsize:
        database().close()
    for factory in (settings, database, log_archive, log_store, config_store, ingestor):
        factory.cache_clear()
