"""The deployment's topology, named: the write path ingest takes and where the state that
goes with it lives, decided once from the settings (logsvc.components builds the services
from it).

=============  =============================  ====================  ===========================
write path     who archives and indexes          receipts, day counts  a block the index refuses
=============  =============================  ====================  ===========================
direct         the writer, inside the request    the index             fails the request
local buffer   the local server's writer thread  the buffer file       its dead_letters table
kinesis        the writer function (AWS)         the coordination      the writer's SQS queue
                                                 table (DynamoDB)
=============  =============================  ====================  ===========================

Wherever a deployment has a coordination table, daily counts are kept there, whatever the
write path (every instance of every function must see the same count).

The archive is searched by DuckDB (a local folder, or R2/S3 objects fetched to /tmp) or by
Athena (S3 only, over the Glue tables the CDK app defines), or not at all (``off``).

Direct is the local default on a SQLite index and what the maintenance functions use for
their own agent logs; a D1 index is reached through a buffer (each D1 request counts
against Cloudflare's account-wide limit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from logsvc.settings import Settings, SettingsError


class WritePath(StrEnum):
    DIRECT = "direct"
    LOCAL_BUFFER = "local buffer"
    KINESIS = "kinesis"


class Home(StrEnum):
    """Where the write path keeps receipts and daily counts."""

    INDEX = "index"
    BUFFER_FILE = "buffer file"
    COORDINATION_TABLE = "coordination table"


@dataclass(frozen=True)
class Topology:
    write_path: WritePath
    receipts: Home  # of Idempotency-Keys: kept with the entries they stand for
    daily_counts: Home  # max_logs_per_day's counts
    buffer_file: str | None = None  # LOCAL_BUFFER: the SQLite file
    stream: str | None = None  # KINESIS: the stream's name
    dead_letter_queue: str | None = None  # KINESIS: where the writer sets refused entries
    archive_search: str = "duckdb"  # duckdb, athena or off (ARCHIVE_ENGINE)

    @classmethod
    def of(cls, settings: Settings) -> Topology:
        """The topology the settings name, or SettingsError for a combination that is
        not one."""
        if settings.archive_engine == "athena" and not (
            settings.archive_url.startswith("s3://")
            and settings.athena_database
            and settings.athena_workgroup
        ):
            raise SettingsError(
                "ARCHIVE_ENGINE: athena needs an s3:// ARCHIVE_URL, ATHENA_DATABASE and "
                "ATHENA_WORKGROUP (the CDK app sets them); use duckdb otherwise"
            )
        return replace(cls._write_path(settings), archive_search=settings.archive_engine)

    @classmethod
    def _write_path(cls, settings: Settings) -> Topology:
        buffer = settings.ingest_buffer
        # Functions that share the deployment's coordination table count days there, even
        # without a buffer of their own (their agent logs).
        shared = Home.COORDINATION_TABLE if settings.coordination_table else Home.INDEX
        if buffer is None:
            return cls(WritePath.DIRECT, Home.INDEX, shared)
        if buffer.startswith("kinesis://"):
            if not settings.coordination_table:
                raise SettingsError(
                    "INGEST_BUFFER: kinesis:// needs COORDINATION_TABLE (receipts of "
                    "Idempotency-Keys and daily counts are kept there)"
                )
            return cls(
                WritePath.KINESIS,
                Home.COORDINATION_TABLE,
                Home.COORDINATION_TABLE,
                stream=buffer.removeprefix("kinesis://"),
                dead_letter_queue=settings.writer_dead_letter_queue_url,
            )
        path = unquote(urlsplit(buffer).path)
        counts = Home.BUFFER_FILE if shared is Home.INDEX else shared
        return cls(WritePath.LOCAL_BUFFER, Home.BUFFER_FILE, counts, buffer_file=path)
