"""Every function doing its work with only the role deployed for it.

The stacks are deployed into moto's CloudFormation (an empty account); each function's
handler then runs in this process with the environment and the role's policy as deployed,
its AWS calls refused as AWS would refuse them (tests/support/aws_rules.py:enforce_all,
which also fails on any call it has no rule for, so these tests name every AWS call a
function makes). D1 is the REST stand-in. Two things moto cannot create from the templates
are answered here instead: the secrets' values (moto's CloudFormation lacks
AWS::SecretsManager::Secret; the reads are still authorized against the role first) and
the live-tail WebSocket API (its ManageConnections permission is checked on the template
in test_stacks).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.session
import pytest
from moto.cloudformation.parsing import get_model_map

from logsvc import components
from logsvc.archive.log_archive import encode_records, object_key
from logsvc.clock import DAY_MS, utc_date
from logsvc_local.events import LocalContext
from logsvc_local.project import load_handler
from stacks.function_stack import FUNCTION_SPECS
from tests.infrastructure.conftest import synthesize
from tests.infrastructure.test_as_aws_answers import role_policy
from tests.infrastructure.test_fresh_account import ACCOUNT, REGION, account, deploy  # noqa: F401
from tests.support.api import Api
from tests.support.aws_rules import enforce_all
from tests.support.d1_standin import TOKEN
from tests.support.kinesis import kinesis_event

API_KEY = "roles-test-key-0123456789abcdef"
NOW = int(time.time() * 1000)
LOG = {"service_name": "checkout", "level": "ERROR", "message": "payment failed"}
CRITICAL = {**LOG, "level": "CRITICAL", "message": "ledger unreachable"}


class _Answer:
    def __init__(self, status: int):
        self.status_code = status
        self.headers: dict[str, str] = {}


@pytest.fixture
def deployed(account, tmp_path, d1):  # noqa: F811 - the fixture imported above
    cfn, s3 = account
    deploy(cfn, s3, synthesize(tmp_path), set(get_model_map()), set())
    return cfn


def function_environment(cfn, stack: str) -> dict[str, str]:
    (name,) = [
        r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
        if r["ResourceType"] == "AWS::Lambda::Function"
    ]
    configuration = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName=name
    )
    return configuration["Environment"]["Variables"]


@contextmanager
def as_function(cfn, d1, monkeypatch, name: str) -> Iterator[dict[str, str]]:
    """The process set up as the deployed function ``name``: its environment (D1 pointed at
    the stand-in), every AWS client it makes held to its role."""
    stack = f"Logsvc-{name.title()}"
    environment = function_environment(cfn, stack)
    policy = role_policy(cfn, stack)
    secrets = {
        environment.get("D1_API_TOKEN_SECRET_ARN"): TOKEN,
        environment.get("LOG_SERVICE_API_KEY_SECRET_ARN"): API_KEY,
    }
    with monkeypatch.context() as patch:
        for variable in ("LOG_SERVICE_API_KEY", "INGEST_BUFFER", "ARCHIVE_URL", "DATABASE_URL"):
            patch.delenv(variable, raising=False)
        for variable, value in environment.items():
            patch.setenv(variable, value)
        patch.setenv("DATABASE_URL", d1.url)  # the stand-in's account and database ids
        patch.setenv("D1_API_BASE_URL", d1.base_url)
        patch.setenv("OPENAPI_DOCUMENT", "docs/openapi.json")
        lookers = {name: boto3.client(name, region_name=REGION) for name in ("s3", "sns")}
        create_client = botocore.session.Session.create_client

        def held_to_the_role(self, service_name, *args, **kwargs):
            client = create_client(self, service_name, *args, **kwargs)
            enforce_all(client, policy, lookers)
            if service_name == "secretsmanager":
                client.meta.events.register(
                    "before-call.secrets-manager.GetSecretValue", _secret_values(secrets)
                )
            return client

        patch.setattr(botocore.session.Session, "create_client", held_to_the_role)
        components.reset()
        try:
            yield environment
        finally:
            components.reset()


def _secret_values(secrets: dict[str | None, str]):
    def answer(params: dict[str, Any], **_: Any):
        secret = json.loads(params["body"] or "{}").get("SecretId")
        if secret not in secrets:
            return None
        return _Answer(200), {"ARN": secret, "Name": secret, "SecretString": secrets[secret]}

    return answer


def athena_reads_with_the_search_role(cfn, environment: dict[str, str]) -> None:
    """What Athena does with the caller's permissions, which moto's Athena does not do:
    the Glue tables, the archive's objects (a service's, and those several services share)
    and the workgroup's results location."""
    policy = role_policy(cfn, "Logsvc-Search")
    database = environment["ATHENA_DATABASE"]
    for table in ("logs_ndjson", "logs_compacted"):
        arn = f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{database}/{table}"
        assert policy.allows("glue:GetTable", arn), table
    bucket = environment["ARCHIVE_URL"].removeprefix("s3://")
    for folder in ("logs/checkout/2026-12-07/", "logs/several.services/2026-12-07/"):
        assert policy.allows("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": folder})
        assert policy.allows("s3:GetObject", f"arn:aws:s3:::{bucket}/{folder}x.ndjson.gz")
    # The workgroup's results go to s3://<prefix>-athena-results-<account>-<region>/results/
    # (stacks/archive_search.py; moto's CloudFormation has no Athena workgroup to ask).
    results = f"logsvc-athena-results-{ACCOUNT}-{REGION}/results"
    output = f"s3://{results}/"
    assert policy.allows("s3:PutObject", f"arn:aws:s3:::{results}/query-id.csv"), output


def context(name: str) -> LocalContext:
    """A Lambda context with the function's deployed timeout (the jobs keep 30 s back)."""
    return LocalContext(name, timeout_seconds=FUNCTION_SPECS[name].timeout_s)


def test_every_function_does_its_work_with_its_role_alone(deployed, d1, monkeypatch):
    api = Api(API_KEY)
    # The test's own clients, made before any function's role applies.
    kinesis = boto3.client("kinesis", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    with as_function(deployed, d1, monkeypatch, "ingest") as environment:
        answer = api.post("/api/v1/logs/ingest", LOG, headers={"Idempotency-Key": "once"})
        assert answer.status == 201, answer.body
        # Enough errors, a share of them critical: the analysis job alerts (HIGH).
        batch = {"logs": [LOG] * 10 + [CRITICAL] * 2}
        assert api.post("/api/v1/logs/ingest/batch", batch).status == 201
        stream = environment["INGEST_BUFFER"].removeprefix("kinesis://")
    entry_id = answer.body["id"]

    with as_function(deployed, d1, monkeypatch, "writer"):
        event = kinesis_event(kinesis, stream)
        unreadable = {"eventID": "shardId-000000000000:1", "kinesis": {"sequenceNumber": "1"}}
        event["Records"].append(
            {**unreadable, "kinesis": {**unreadable["kinesis"], "data": "e30="}}
        )
        result = load_handler("writer").lambda_handler(event, context("writer"))
        assert result["stored"] == 13

    athena = boto3.client("athena", region_name=REGION)
    with as_function(deployed, d1, monkeypatch, "search") as environment:
        # moto's CloudFormation stands in for the workgroup: the test makes it.
        athena.create_work_group(Name=environment["ATHENA_WORKGROUP"])
        found = api.get("/api/v1/logs/search", service="checkout")
        assert found.status == 200 and len(found.body["logs"]) == 13
        full = api.get(f"/api/v1/logs/logs/{entry_id}/full")
        assert full.status == 200 and full.body["message"] == "payment failed"
        # Past the hot window: Athena, started and read with the function's role.
        old = api.get(
            "/api/v1/logs/search",
            service="checkout",
            start_time=NOW - 30 * DAY_MS,
            end_time=NOW - 10 * DAY_MS,
        )
        assert old.status == 200 and old.body["archive"]["status"] == "complete", old.body
    athena_reads_with_the_search_role(deployed, environment)

    with as_function(deployed, d1, monkeypatch, "ask"):
        asked = api.post("/api/v1/logs/ask", {"question": "checkout errors in the last day"})
        assert asked.status == 200, asked.body
        lines = [line for s in asked.body["result"]["result"] for _, line in s["values"]]
        assert len(lines) == 13 and "payment failed" in lines

    with as_function(deployed, d1, monkeypatch, "config"):
        change = {"ttl_days": 3, "alert_on_errors": True}
        assert api.put("/api/v1/logs/config/checkout", change).status == 200

    with as_function(deployed, d1, monkeypatch, "health"):
        health = api.get("/health")
        assert health.status == 200 and health.body["archive"] == "connected", health.body

    with as_function(deployed, d1, monkeypatch, "stream"):
        connected = load_handler("stream").lambda_handler(
            {
                "headers": {"Authorization": f"Bearer {API_KEY}"},
                "requestContext": {"routeKey": "$connect", "connectionId": "c-1"},
            },
            context("stream"),
        )
        assert connected["statusCode"] == 200, connected

    with as_function(deployed, d1, monkeypatch, "analyze"):
        summary = load_handler("analyze").lambda_handler({}, context("analyze"))
        (checkout,) = summary["results"]
        assert checkout["severity"] == "HIGH" and checkout["alerted"], summary

    with as_function(deployed, d1, monkeypatch, "cleanup") as environment:
        # Yesterday's object, for compaction to read, rewrite and delete.
        bucket = environment["ARCHIVE_URL"].removeprefix("s3://")
        yesterday = NOW - DAY_MS
        record = {**LOG, "id": "0190a000-0000-7000-8000-000000000000", "timestamp": yesterday}
        s3.put_object(
            Bucket=bucket,
            Key=object_key("checkout", utc_date(yesterday), "old"),
            Body=encode_records([{**record, "metadata": {}, "source_type": "http"}]),
        )
        summary = load_handler("cleanup").lambda_handler({}, context("cleanup"))
        assert summary["complete"] and summary["compaction"]["objects_compacted"] == 1, summary
