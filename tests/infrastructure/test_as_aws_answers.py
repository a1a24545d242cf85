"""What moto cannot show: the functions' AWS calls under the roles as deployed (moto's
CloudFormation resolves the synthesized policies), answered by AWS's documented rules
(tests/support/aws_rules.py), for the calls whose answer decides whether the function
works: /health's look at the archive, and alerts published to the encrypted topic."""

from __future__ import annotations

import boto3
import pytest
from moto.cloudformation.parsing import get_model_map

from logsvc.alerts import Alerter
from logsvc.archive import LogArchive
from logsvc.archive.s3 import S3ObjectStore
from logsvc.errors import ArchiveUnavailable
from tests.infrastructure.conftest import synthesize
from tests.infrastructure.test_fresh_account import ACCOUNT, REGION, account, deploy  # noqa: F401
from tests.support.aws_rules import RolePolicy, enforce

BUCKET = f"logsvc-archive-{ACCOUNT}-{REGION}"


@pytest.fixture
def deployed(account, tmp_path):  # noqa: F811 - the fixture imported above
    cfn, s3 = account
    deploy(cfn, s3, synthesize(tmp_path), set(get_model_map()), set())
    return cfn


def role_policy(cfn, stack: str) -> RolePolicy:
    """The function role's statements, as deployed."""
    iam = boto3.client("iam", region_name=REGION)
    (role,) = [
        r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
        if r["ResourceType"] == "AWS::IAM::Role"
    ]
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for statement in document["Statement"]:
            statements.append(statement)
    return RolePolicy(statements)


def test_health_sees_the_archive_with_only_its_role(deployed):
    policy = role_policy(deployed, "Logsvc-Health")
    plain = boto3.client("s3", region_name=REGION)
    client = enforce(boto3.client("s3", region_name=REGION), policy, unrestricted=plain)
    LogArchive(S3ObjectStore(BUCKET, client=client)).check()  # raises if refused
    # The rule is applied: the role may not read or list anything else.
    with pytest.raises(ArchiveUnavailable, match="AccessDenied"):
        S3ObjectStore(BUCKET, client=client).get("logs/checkout/2026-12-07/x.ndjson.gz")
    with pytest.raises(ArchiveUnavailable, match="AccessDenied"):
        list(S3ObjectStore(BUCKET, client=client).list_keys("logs/"))


def test_alerts_reach_the_encrypted_topic_with_only_the_analyze_role(deployed):
    policy = role_policy(deployed, "Logsvc-Analyze")
    sns = boto3.client("sns", region_name=REGION)
    (core,) = deployed.describe_stacks(StackName="Logsvc-Core")["Stacks"]
    (topic,) = [o["OutputValue"] for o in core["Outputs"] if o["OutputKey"] == "AlertsTopicArn"]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("KmsMasterKeyId")
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="alert-reader")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    client = enforce(boto3.client("sns", region_name=REGION), policy)
    alerter = Alerter(None, topic_arn=topic, sns_client=client)  # type: ignore[arg-type]
    result = type("Result", (), {"severity": "HIGH", "service_name": "checkout"})()
    assert alerter._publish(result, "checkout: 40 errors")  # type: ignore[arg-type]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
    assert "checkout: 40 errors" in messages[0]["Body"]
