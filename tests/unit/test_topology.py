"""The named topologies: which settings make which write path, where its state lives, and
the combination that is refused."""

import pytest

from logsvc.settings import Settings, SettingsError
from logsvc.topology import Home, Topology, WritePath

BASE = {"DATABASE_URL": "sqlite:///logs.db", "ARCHIVE_URL": "file:///archive"}


def topology(**variables: str) -> Topology:
    return Topology.of(Settings.from_env({**BASE, **variables}))


def test_without_a_buffer_ingest_writes_straight_through_and_keeps_state_in_the_index():
    path = topology()
    assert path.write_path is WritePath.DIRECT
    assert (path.receipts, path.daily_counts) == (Home.INDEX, Home.INDEX)
    assert topology(INGEST_BUFFER="off").write_path is WritePath.DIRECT


def test_a_buffer_file_keeps_receipts_and_counts_and_names_its_path():
    path = topology(INGEST_BUFFER="file:///data/my%20buffer.db")
    assert path.write_path is WritePath.LOCAL_BUFFER
    assert path.buffer_file == "/data/my buffer.db"
    assert (path.receipts, path.daily_counts) == (Home.BUFFER_FILE, Home.BUFFER_FILE)


def test_kinesis_keeps_state_in_the_coordination_table_and_dead_letters_in_the_queue():
    path = topology(
        INGEST_BUFFER="kinesis://ingest",
        COORDINATION_TABLE="coordination",
        WRITER_DEAD_LETTER_QUEUE_URL="https://sqs.example/queue",
    )
    assert path.write_path is WritePath.KINESIS and path.stream == "ingest"
    assert (path.receipts, path.daily_counts) == (Home.COORDINATION_TABLE,) * 2
    assert path.dead_letter_queue == "https://sqs.example/queue"


def test_a_shared_coordination_table_counts_days_whatever_the_write_path():
    # The maintenance functions write their agent logs straight through, yet count days
    # where every ingest instance does.
    path = topology(COORDINATION_TABLE="coordination")
    assert path.write_path is WritePath.DIRECT
    assert (path.receipts, path.daily_counts) == (Home.INDEX, Home.COORDINATION_TABLE)


def test_kinesis_without_a_coordination_table_is_refused_naming_both_settings():
    with pytest.raises(SettingsError, match=r"INGEST_BUFFER.*COORDINATION_TABLE"):
        topology(INGEST_BUFFER="kinesis://ingest")


def test_athena_needs_an_s3_archive_and_its_glue_names():
    with pytest.raises(SettingsError, match=r"ARCHIVE_ENGINE: athena needs an s3://"):
        topology(ARCHIVE_ENGINE="athena")
    path = topology(
        ARCHIVE_ENGINE="athena",
        ARCHIVE_URL="s3://bucket",
        ATHENA_DATABASE="logsvc",
        ATHENA_WORKGROUP="logsvc-archive",
    )
    assert path.archive_search == "athena"
    assert topology().archive_search == "duckdb"
