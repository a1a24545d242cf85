"""AWS's documented authorization rules that moto does not apply, applied to a boto3 client
under one role's policy (as CloudFormation, here moto's, resolved it from the templates).

moto evaluates no IAM for these calls and answers a missing key with NoSuchKey whatever the
caller may do. AWS does not, and the difference decides whether /health and alerts work:

- S3 GetObject needs s3:GetObject on the object; for a key that does not exist, S3 answers
  404 only to a caller allowed s3:ListBucket on the bucket, else 403 (S3 API reference,
  GetObject, "Permissions").
- S3 ListObjectsV2 needs s3:ListBucket on the bucket; the request's Prefix is the
  s3:prefix condition key.
- SNS Publish needs sns:Publish on the topic and, for a topic encrypted with a KMS key,
  kms:GenerateDataKey* and kms:Decrypt on that key for the publisher (SNS developer guide,
  "Encryption at rest": "the publisher must have ... permissions for the AWS KMS key").

``enforce_all`` applies IAM to every call a client makes, by the action and resource each
operation needs (the Service Authorization Reference's tables), and refuses a call it has
no rule for: a function's test then names every AWS call the function makes.

Only what the tests use is here: Allow and Deny statements, Action and Resource patterns
with *, and StringEquals / StringLike conditions.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from botocore.exceptions import ClientError


class RolePolicy:
    def __init__(self, statements: list[dict[str, Any]]):
        self.statements = statements

    def allows(self, action: str, resource: str, context: dict[str, str] | None = None) -> bool:
        allowed = False
        for statement in self.statements:
            if not (
                _matches(statement.get("Action", []), action)
                and _matches(statement.get("Resource", []), resource)
                and _conditions_hold(statement.get("Condition", {}), context or {})
            ):
                continue
            if statement["Effect"] == "Deny":
                return False
            allowed = True
        return allowed


def enforce(client: Any, policy: RolePolicy, unrestricted: Any = None) -> Any:
    """``client`` answering as AWS would to a caller with ``policy`` (``unrestricted``: a
    client of the same service that may look, to know whether an object exists)."""
    service = client.meta.service_model.service_name
    events = client.meta.events
    if service == "s3":
        events.register("before-parameter-build.s3.GetObject", _s3_get(policy, unrestricted))
        events.register("before-parameter-build.s3.ListObjectsV2", _s3_list(policy))
    if service == "sns":
        looker = unrestricted or client
        events.register("before-parameter-build.sns.Publish", _sns_publish(policy, looker))
    return client


def enforce_all(client: Any, policy: RolePolicy, lookers: dict[str, Any]) -> Any:
    """``client`` refusing, as AWS would, every call ``policy`` does not allow (S3's
    403-vs-404 and SNS's KMS rules included); ``lookers``: clients by service that may
    look (whether an object exists, a topic's key), as ``enforce``'s ``unrestricted``."""
    service = client.meta.service_model.service_name
    enforce(client, policy, lookers.get(service))
    region = client.meta.region_name
    account = ACCOUNT_OF_TESTS

    workgroups: dict[str, str] = {}  # Athena: a query's workgroup, which its calls are on
    starting: list[str] = []

    def check(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "QueryExecutionId" in params:
            params = {**params, "WorkGroup": workgroups.get(params["QueryExecutionId"], "")}
        elif model.name == "StartQueryExecution":
            starting.append(params.get("WorkGroup", "primary"))
        for action, resource, context in needs(service, model.name, params, region, account):
            if not policy.allows(action, resource, context):
                _refuse("AccessDeniedException", 403, model.name)

    def started(parsed: dict[str, Any], **_: Any) -> None:
        if starting and "QueryExecutionId" in parsed:
            workgroups[parsed["QueryExecutionId"]] = starting.pop()

    client.meta.events.register("before-parameter-build", check)
    client.meta.events.register("after-call.athena.StartQueryExecution", started)
    return client


ACCOUNT_OF_TESTS = "123456789012"  # moto's account


def needs(
    service: str, operation: str, params: dict[str, Any], region: str, account: str
) -> list[tuple[str, str, dict[str, str]]]:
    """(IAM action, resource ARN, condition context) an operation is authorized on."""
    at = f"{region}:{account}"
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        if operation in ("GetObject", "HeadObject"):
            return [("s3:GetObject", f"{bucket}/{params['Key']}", {})]
        if operation in ("PutObject", "DeleteObject"):
            return [(f"s3:{operation}", f"{bucket}/{params['Key']}", {})]
        if operation == "DeleteObjects":
            keys = [o["Key"] for o in params["Delete"]["Objects"]]
            return [("s3:DeleteObject", f"{bucket}/{key}", {}) for key in keys]
        if operation in ("ListObjectsV2", "ListObjects"):
            return [("s3:ListBucket", bucket, {"s3:prefix": params.get("Prefix", "")})]
        if operation == "HeadBucket":
            return [("s3:ListBucket", bucket, {})]
        if operation == "GetBucketLocation":
            return [("s3:GetBucketLocation", bucket, {})]
    if service == "kinesis" and operation in ("PutRecord", "PutRecords"):
        stream = params.get("StreamARN") or f"arn:aws:kinesis:{at}:stream/{params['StreamName']}"
        return [(f"kinesis:{operation}", stream, {})]
    if service == "dynamodb" and "TableName" in params:
        return [(f"dynamodb:{operation}", f"arn:aws:dynamodb:{at}:table/{params['TableName']}", {})]
    if service == "sqs" and operation in ("SendMessage", "SendMessageBatch"):
        queue = params["QueueUrl"].rstrip("/").rsplit("/", 1)[1]
        return [("sqs:SendMessage", f"arn:aws:sqs:{at}:{queue}", {})]
    if service == "secretsmanager" and operation == "GetSecretValue":
        return [("secretsmanager:GetSecretValue", params["SecretId"], {})]
    if service == "sns" and operation == "Publish":
        return []  # enforce's rule: the topic and its key
    if service == "athena":
        workgroup = params.get("WorkGroup", "primary")
        return [(f"athena:{operation}", f"arn:aws:athena:{at}:workgroup/{workgroup}", {})]
    raise NotImplementedError(
        f"no IAM rule for {service}:{operation} in tests/support/aws_rules.py"
    )


def _s3_get(policy: RolePolicy, unrestricted: Any):
    def check(params: dict[str, Any], **_: Any) -> None:
        bucket, key = params["Bucket"], params["Key"]
        if not policy.allows("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"):
            _refuse("AccessDenied", 403, "GetObject")
        try:
            unrestricted.head_object(Bucket=bucket, Key=key)
        except ClientError:  # missing: 404 only to a caller who may list the bucket
            if not policy.allows("s3:ListBucket", f"arn:aws:s3:::{bucket}"):
                _refuse("AccessDenied", 403, "GetObject")

    return check


def _s3_list(policy: RolePolicy):
    def check(params: dict[str, Any], **_: Any) -> None:
        context = {"s3:prefix": params.get("Prefix", "")}
        if not policy.allows("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}", context):
            _refuse("AccessDenied", 403, "ListObjectsV2")

    return check


def _sns_publish(policy: RolePolicy, client: Any):
    def check(params: dict[str, Any], **_: Any) -> None:
        topic = params["TopicArn"]
        if not policy.allows("sns:Publish", topic):
            _refuse("AuthorizationError", 403, "Publish")
        key = _topic_key(client, topic)
        if key is not None and not (
            policy.allows("kms:GenerateDataKey", key) and policy.allows("kms:Decrypt", key)
        ):
            _refuse("KMSAccessDenied", 400, "Publish")

    return check


def _topic_key(client: Any, topic: str) -> str | None:
    """The ARN of the key a topic is encrypted with (its attribute may name it by id)."""
    attributes = client.get_topic_attributes(TopicArn=topic)["Attributes"]
    key = attributes.get("KmsMasterKeyId")
    if not key or key.startswith("arn:"):
        return key
    region, account = topic.split(":")[3:5]
    return f"arn:aws:kms:{region}:{account}:key/{key}"


def _matches(patterns: str | list[str], value: str) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def _conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for operator, pairs in conditions.items():
        for key, expected in pairs.items():
            wanted = [expected] if isinstance(expected, str) else expected
            actual = context.get(key)
            if actual is None:
                return False  # a condition on a key the request lacks does not match
            if operator == "StringEquals" and actual not in wanted:
                return False
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(actual, w) for w in wanted):
                return False
            if operator not in ("StringEquals", "StringLike"):
                raise NotImplementedError(f"condition operator {operator}")
    return True


def _refuse(code: str, status: int, operation: str) -> None:
    raise ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} (as AWS answers)"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )
