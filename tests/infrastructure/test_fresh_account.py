"""A first deploy into an empty account, then every supported setting turned on and off
again, through CloudFormation as moto emulates it (in process, no network).

moto's CloudFormation creates most of what the templates hold, in dependency order, and
resolves exports and imports across stacks (functions are created without their layers
list: moto cannot update a function that has one); the resource types it does not implement
(listed in the report this test prints) are replaced by SNS topics of the same logical id
(whose reference is an ARN, as most references are), so the stacks around them still
deploy and reference them. What this checks is the
order of stacks, every cross-stack import, and every update between settings, not those
resources themselves.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import boto3
import pytest
from moto import mock_aws
from moto.cloudformation.parsing import get_model_map

from stacks.app_builder import STACK_ORDER
from tests.infrastructure.conftest import synthesize
from tests.infrastructure.test_first_deploy import SETTINGS

ACCOUNT, REGION = "123456789012", "us-east-1"
ASSETS = f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
# Always in the template, implemented by nothing in moto and nothing to check here.
NOT_RESOURCES = {"AWS::CDK::Metadata"}


def deploy_order(templates: dict) -> list[str]:
    functions = [f"Logsvc-{name.title()}" for name in STACK_ORDER]
    return ["Logsvc-Core", *(n for n in functions if n in templates), "Logsvc-Api"]


def with_stand_ins(template: dict, stack: str, supported: set[str]) -> tuple[str, set[str]]:
    """The template as moto can create it, and the resource types that were stood in for."""
    resources = {}
    stood_in = set()
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind in NOT_RESOURCES:
            continue
        if kind == "AWS::Lambda::Function":
            # moto fails to update a function that lists layers (it passes its layer objects
            # where ARNs belong): the layers are created, the functions do not list them.
            properties = {k: v for k, v in resource["Properties"].items() if k != "Layers"}
            resource = {**resource, "Properties": properties}
        if kind in supported:
            resources[logical_id] = resource
            continue
        stood_in.add(kind)
        resources[logical_id] = {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": f"stand-in-{stack}-{logical_id}"[:256]},
            **({"DependsOn": resource["DependsOn"]} if "DependsOn" in resource else {}),
        }
    text = json.dumps({**template, "Resources": resources})
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in supported or resource["Type"] in NOT_RESOURCES:
            continue
        # Any attribute of a stand-in is its ARN (a string, as an id or a URL would be).
        text = re.sub(
            r'\{"Fn::GetAtt": \["' + logical_id + r'", "[^"]+"\]\}',
            f'{{"Ref": "{logical_id}"}}',
            text,
        )
    return text, stood_in


def deploy(cfn, s3, templates: dict, supported: set[str], stood_in: set[str]) -> None:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return {}\n")
    existing = {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}
    for name in deploy_order(templates):
        body, kinds = with_stand_ins(templates[name], name, supported)
        stood_in |= kinds
        for key in set(re.findall(r'"([0-9a-f]{64}\.zip)"', body)):
            s3.put_object(Bucket=ASSETS, Key=key, Body=code.getvalue())
        arguments = {
            "StackName": name,
            "TemplateBody": body,
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        }
        if name in existing:
            cfn.update_stack(**arguments)
        else:
            cfn.create_stack(**arguments)
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
        assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), (name, stack)


@pytest.fixture
def account(monkeypatch):
    for variable, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        monkeypatch.setenv(variable, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ASSETS)
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String"
        )
        yield boto3.client("cloudformation", region_name=REGION), s3


def test_a_fresh_account_then_every_setting_on_and_off(account, tmp_path, capsys):
    cfn, s3 = account
    supported = set(get_model_map())
    stood_in: set[str] = set()
    default = synthesize(tmp_path / "default")
    deploy(cfn, s3, default, supported, stood_in)
    for label, context in SETTINGS.items():
        deploy(
            cfn, s3, synthesize(tmp_path / label.replace("=", "-"), **context), supported, stood_in
        )
        deploy(cfn, s3, default, supported, stood_in)
    with capsys.disabled():
        print(f"\nmoto stood in for: {', '.join(sorted(stood_in))}")
