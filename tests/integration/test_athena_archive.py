"""The Athena engine: its SQL is valid Athena (Trino) SQL and means what the DuckDB engine's
means, and its plumbing (start, poll, collect, scan limit) works against moto's Athena."""

import time

import boto3
import duckdb
import pytest
import requests
import sqlglot
from botocore.stub import Stubber

from logsvc import components
from logsvc.archive.athena import AthenaArchive, literal, statement
from logsvc.archive.duckdb_engine import NDJSON_COLUMNS, DuckDbArchive
from logsvc.archive.query import ArchiveQuery, entry_of
from logsvc.errors import BadRequest
from logsvc.field_filters import parse

DAY = 86_400_000
NOW = int(time.time() * 1000)
QUERIES = [
    ArchiveQuery(NOW - 30 * DAY, NOW, ("checkout",), limit=51),
    ArchiveQuery(NOW - 30 * DAY, NOW, ("checkout", "search"), level="ERROR", limit=10),
    ArchiveQuery(NOW - 30 * DAY, NOW, ("checkout",), q="payment failed", limit=5),
    ArchiveQuery(NOW - 30 * DAY, NOW, ("checkout",), q="ÉCHEC", limit=5),
    ArchiveQuery(
        NOW - 30 * DAY,
        NOW,
        ("checkout",),
        fields=parse(["metadata.code>=500", "metadata.user.tier=gold", "!metadata.x"]),
        limit=5,
    ),
    ArchiveQuery(NOW - DAY, NOW, ("search",), entry_id="0190-x", limit=1),
    ArchiveQuery(NOW - 7 * DAY, NOW, ("it's",)),  # a quote in a value: a parameter anyway
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_athena_sql_is_valid_in_its_dialect(query):
    sql, params = statement(query, query.services)
    parsed = sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    assert parsed.find(sqlglot.exp.With) is not None
    assert sql.count("?") == len(params)
    assert '"service" IN' in sql and '"day" BETWEEN' in sql  # partition projection prunes
    # Text reaches Athena only as parameters, never inside the SQL.
    for value in params:
        if isinstance(value, str) and len(value) > 3:
            assert value not in sql


@pytest.fixture
def archive(api):
    now = NOW
    logs = [
        ("checkout", "ERROR", "payment failed: declined", now - 20 * DAY, {"code": 402}),
        ("checkout", "ERROR", "Payment FAILED: timeout", now - 15 * DAY, {"code": 504}),
        ("checkout", "INFO", "échec du paiement", now - 12 * DAY, {"user": {"tier": "GOLD"}}),
        # Two services on one day: one object they share (logs/several.services/).
        ("checkout", "ERROR", "payment failed: shared day", now - 5 * DAY, {"code": 503}),
        ("search", "ERROR", "index failed: shared day", now - 5 * DAY - 1, {"code": 500}),
        ("search", "WARN", "slow query", now - 10 * DAY, {"code": 200}),
    ]
    body = {
        "logs": [
            {"service_name": s, "level": lv, "message": m, "timestamp": t, "metadata": md}
            for s, lv, m, t, md in logs
        ]
    }
    assert api.post("/api/v1/logs/ingest/batch", body).status == 201
    return components.log_archive()


_COLUMNS = (
    'id, service_name, level, message, "timestamp", CAST(metadata AS VARCHAR) AS metadata, '
    "source_type, split_part(filename, '/', -3) AS service, split_part(filename, '/', -2) AS day"
)
_EMPTY = (
    "SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS service_name, NULL::VARCHAR AS level, "
    'NULL::VARCHAR AS message, NULL::BIGINT AS "timestamp", NULL::VARCHAR AS metadata, '
    "NULL::VARCHAR AS source_type, NULL::VARCHAR AS service, NULL::VARCHAR AS day WHERE false"
)


def athena_sql_run_on_duckdb(archive, query):
    """Athena's statement, read as Athena SQL and run by DuckDB over the same objects laid
    out as Athena's two tables (service and day from the key): a second engine for the
    same text."""
    ndjson, parquet = DuckDbArchive(archive).keys_for(query)
    root = archive.objects.root
    con = duckdb.connect()
    for table, keys, source, extra in (
        (
            "logs_ndjson",
            ndjson,
            "read_json(?, format='newline_delimited', compression='gzip', filename=true, "
            "columns=?)",
            [NDJSON_COLUMNS],
        ),
        ("logs_compacted", parquet, "read_parquet(?, filename=true)", []),
    ):
        select = f"SELECT {_COLUMNS} FROM {source}" if keys else _EMPTY  # noqa: S608
        params = [[str(root / key) for key in keys], *extra] if keys else []
        con.execute(f"CREATE TABLE {table} AS {select}", params)
    sql, params = statement(query, query.services)
    rows = con.execute(sqlglot.transpile(sql, read="athena", write="duckdb")[0], params)
    test = query.residual()
    entries = [e for e in map(entry_of, rows.fetchall()) if test is None or test(e)]
    return entries[: query.limit] if query.limit else entries


@pytest.mark.parametrize("query", [q for q in QUERIES if q.entry_id is None])
def test_athena_sql_means_what_the_duckdb_engine_answers(archive, query):
    expected = DuckDbArchive(archive).search(query).entries
    assert athena_sql_run_on_duckdb(archive, query) == expected


def test_both_engines_agree_after_compaction_too(archive):
    from logsvc.archive.compaction import CompactionSummary, Compactor

    Compactor(archive).run(lambda: None, CompactionSummary())
    for query in QUERIES[:5]:
        assert (
            athena_sql_run_on_duckdb(archive, query) == DuckDbArchive(archive).search(query).entries
        )


# -- plumbing against moto's Athena ---------------------------------------------------------

ROW = ["0190-a", "checkout", "ERROR", "payment failed", str(NOW - DAY), '{"code": 504}', "http"]
HEADER = ["id", "service_name", "level", "message", "timestamp", "metadata", "source_type"]


@pytest.fixture
def athena(moto_aws):
    client = boto3.client("athena", region_name="us-east-1")
    client.create_work_group(
        Name="logsvc-archive",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/"}},
    )
    yield client


def queue_results(rows):
    """moto's way to say what the next query returns."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/athena/query-results",
        json={
            "account_id": "123456789012",
            "region": "us-east-1",
            "results": [
                {
                    "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                    "column_info": [{"Name": n, "Type": "varchar"} for n in HEADER],
                }
            ],
        },
        timeout=5,
    )
    assert response.status_code == 201


def test_a_query_is_started_with_parameters_and_its_rows_become_entries(athena):
    queue_results([HEADER, ROW])
    engine = AthenaArchive("logsvc_archive", "logsvc-archive", client=athena)
    query = ArchiveQuery(NOW - 30 * DAY, NOW, ("checkout",), q="PAYMENT", limit=10)
    answer = engine.search(query, timeout_s=5)
    assert answer.status == "complete" and answer.query_id
    assert answer.entries == [
        {
            "id": "0190-a",
            "service_name": "checkout",
            "level": "ERROR",
            "message": "payment failed",
            "timestamp": NOW - DAY,
            "metadata": {"code": 504},
            "source_type": "http",
        }
    ]
    execution = athena.get_query_execution(QueryExecutionId=answer.query_id)["QueryExecution"]
    sql, params = statement(query, ("checkout",))
    assert execution["Query"] == sql
    assert execution["ExecutionParameters"] == [literal(p) for p in params]
    assert execution["WorkGroup"] == "logsvc-archive"


def test_a_query_id_collects_only_the_search_it_was_started_for(athena):
    queue_results([HEADER, ROW])
    engine = AthenaArchive("logsvc_archive", "logsvc-archive", client=athena)
    mine = ArchiveQuery(NOW - 30 * DAY, NOW, ("checkout",), limit=10)
    query_id = engine.search(mine, timeout_s=5).query_id
    again = engine.search(mine, timeout_s=5, query_id=query_id)
    assert again.status == "complete"
    theirs = ArchiveQuery(NOW - 30 * DAY, NOW, ("payroll",), limit=10)
    with pytest.raises(BadRequest) as refused:
        engine.search(theirs, timeout_s=5, query_id=query_id)
    assert refused.value.field == "archive_query_id"


def test_an_all_services_search_names_every_archived_service(athena):
    queue_results([HEADER])
    engine = AthenaArchive(
        "logsvc_archive", "logsvc-archive", client=athena, services=lambda: ["a", "b"]
    )
    answer = engine.search(ArchiveQuery(NOW - DAY, NOW, None, limit=5), timeout_s=5)
    execution = athena.get_query_execution(QueryExecutionId=answer.query_id)["QueryExecution"]
    assert execution["ExecutionParameters"][:2] == ["'a'", "'b'"]


def stubbed(states, reason=""):
    """moto's queries always succeed at once; a running query and Athena's scan limit are
    Athena's own behaviour with no local stand-in, so these answers are stubbed."""
    client = boto3.client("athena", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    query = ArchiveQuery(NOW - DAY, NOW, ("checkout",), limit=5)
    sql, params = statement(query, ("checkout",))
    for state in states:
        status = {"State": state}
        if reason:
            status["StateChangeReason"] = reason
        stub.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "QueryExecutionId": "q-1",
                    "Query": sql,
                    "ExecutionParameters": [literal(p) for p in params],
                    "Status": status,
                    "Statistics": {"DataScannedInBytes": 10 * 1024**3},
                }
            },
        )
    stub.activate()
    return AthenaArchive("db", "wg", client=client), query


def test_a_query_past_the_deadline_answers_running_with_its_id():
    engine, query = stubbed(["RUNNING"])
    answer = engine.search(query, timeout_s=0)
    assert (answer.status, answer.query_id, answer.entries) == ("running", "q-1", [])


def test_the_scan_limit_makes_a_partial_answer_saying_so():
    engine, query = stubbed(["CANCELLED"], "Query cancelled: bytes scanned limit was exceeded")
    answer = engine.search(query, timeout_s=5)
    assert answer.status == "partial"
    assert answer.reason.startswith("scan_limit")
    assert answer.bytes_scanned == 10 * 1024**3
