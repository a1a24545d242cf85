"""Archive search on Amazon Athena, for deployments whose archive is an S3 bucket.

Two Glue tables (the CDK app's, stacks/archive_search.py) read the bucket in place with
partition projection on ``service`` (injected: a query names its services) and ``day``
(yyyy-MM-dd): ``logs_ndjson`` over ``logs/`` (gzip NDJSON, OpenX JSON SerDe, metadata
kept as JSON text) and ``logs_compacted`` over ``compacted/`` (Parquet). The workgroup
enforces a per-query scan limit and writes results to an encrypted bucket that expires
them.

A query that is not done by the search's deadline is left running: the answer says
"running" with its id, and the same search sent again with ``archive_query_id`` collects
it. The id is honoured only when that execution's SQL and parameters are exactly the ones
this search would run, so a caller can collect only what it may search.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from logsvc.archive.log_archive import SHARED_FOLDER
from logsvc.archive.query import COLUMNS, RELATION, ArchiveAnswer, ArchiveQuery, entry_of
from logsvc.clock import utc_date
from logsvc.errors import ArchiveUnavailable, BadRequest

NDJSON_TABLE = "logs_ndjson"
COMPACTED_TABLE = "logs_compacted"
POLL_SECONDS = 0.25
RESULT_PAGE = 1000  # GetQueryResults' largest page
# Why Athena stopped a query, in its own words, and what the answer says about it.
_SCAN_LIMIT = "bytes scanned limit"


def relation(query: ArchiveQuery, services: tuple[str, ...]) -> tuple[str, list[Any]]:
    """archive_logs in Athena: both tables, pruned to the query's services and days (and,
    of the NDJSON one, the folder of objects several services share: the query's SQL names
    its services, so others' entries there are left out)."""
    first, last = utc_date(query.start), utc_date(query.end)
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    parts, params = [], []
    for table, folders in (
        (NDJSON_TABLE, (*services, SHARED_FOLDER)),
        (COMPACTED_TABLE, services),
    ):
        if not folders:
            continue
        marks = ", ".join("?" * len(folders))
        parts.append(
            f'SELECT {columns} FROM "{table}" WHERE "service" IN ({marks}) '  # noqa: S608 - fixed names
            'AND "day" BETWEEN ? AND ?'
        )
        params += [*folders, first, last]
    return " UNION ALL ".join(parts), params


def statement(query: ArchiveQuery, services: tuple[str, ...]) -> tuple[str, list[Any]]:
    """The whole SQL Athena runs for a query, and its parameters."""
    rel, rel_params = relation(query, services)
    sql, params = query.sql("athena")
    return f'WITH "{RELATION}" AS ({rel}) {sql}', rel_params + params


def literal(value: Any) -> str:
    """A parameter as Athena's ExecutionParameters take it: an SQL literal."""
    if isinstance(value, bool) or value is None:
        raise TypeError(f"no Athena literal for {value!r}")
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class AthenaArchive:
    def __init__(
        self,
        database: str,
        workgroup: str,
        *,
        services: Callable[[], list[str]] | None = None,
        client: Any = None,
    ):
        self.database = database
        self.workgroup = workgroup
        self._services = services
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("athena")
        return self._client

    def search(
        self, query: ArchiveQuery, timeout_s: float = 20.0, query_id: str | None = None
    ) -> ArchiveAnswer:
        from botocore.exceptions import BotoCoreError, ClientError

        # Every service's folders; today's entries may be only in shared objects so far.
        services = query.services or tuple(self._services() if self._services else ())
        sql, params = statement(query, services)
        parameters = [literal(p) for p in params]
        deadline = time.monotonic() + timeout_s
        try:
            if query_id is None:
                query_id = self.client.start_query_execution(
                    QueryString=sql,
                    QueryExecutionContext={"Database": self.database},
                    WorkGroup=self.workgroup,
                    ExecutionParameters=parameters,
                )["QueryExecutionId"]
            execution = self._execution(query_id)
            if execution["Query"] != sql or execution.get("ExecutionParameters", []) != parameters:
                raise BadRequest(
                    "archive_query_id: not a query of this search; send the same search "
                    "that answered with it",
                    field="archive_query_id",
                )
            while execution["Status"]["State"] in ("QUEUED", "RUNNING"):
                if time.monotonic() >= deadline:
                    return ArchiveAnswer([], "running", "still running", query_id)
                time.sleep(POLL_SECONDS)
                execution = self._execution(query_id)
            return self._answer(query, query_id, execution)
        except (BotoCoreError, ClientError) as exc:
            if _code(exc) == "InvalidRequestException" and query_id is not None:
                raise BadRequest(
                    f"archive_query_id: {query_id!r} is not a query Athena knows",
                    field="archive_query_id",
                ) from exc
            raise ArchiveUnavailable(f"Athena: {exc}") from exc

    def _execution(self, query_id: str) -> dict[str, Any]:
        return self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]

    def _answer(self, query: ArchiveQuery, query_id: str, execution: dict) -> ArchiveAnswer:
        state = execution["Status"]["State"]
        scanned = execution.get("Statistics", {}).get("DataScannedInBytes", 0)
        if state != "SUCCEEDED":
            reason = execution["Status"].get("StateChangeReason", state)
            why = "scan_limit" if _SCAN_LIMIT in reason.lower() else "failed"
            return ArchiveAnswer([], "partial", f"{why}: {reason}", query_id, 0, scanned)
        entries = []
        test = query.residual()
        for row in self._rows(query_id):
            entry = entry_of(row)
            if test is None or test(entry):
                entries.append(entry)
            if query.limit is not None and len(entries) >= query.limit:
                break
        return ArchiveAnswer(entries, "complete", None, query_id, 0, scanned)

    def _rows(self, query_id: str):
        """Result rows as tuples, the header row left out; numbers as Athena typed them."""
        token = None
        header = True
        while True:
            extra = {"NextToken": token} if token else {}
            page = self.client.get_query_results(
                QueryExecutionId=query_id, MaxResults=RESULT_PAGE, **extra
            )
            for row in page["ResultSet"]["Rows"]:
                if header:
                    header = False
                    continue
                values = [cell.get("VarCharValue") for cell in row["Data"]]
                yield tuple(values)
            token = page.get("NextToken")
            if not token:
                return


def _code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")
