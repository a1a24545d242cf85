"""What a first `cdk deploy` into an empty account, and later deploys, depend on."""

from __future__ import annotations

import json
import re
import shutil
import sys

import pytest

from tests.infrastructure.conftest import synthesize


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_the_api_gateway_logging_role_is_set_before_any_stage(templates):
    (account,) = resources(templates["Logsvc-Core"], "AWS::ApiGateway::Account").values()
    assert account["DeletionPolicy"] == "Retain"  # one per region: other stacks may use it
    for name, template in templates.items():
        if name != "Logsvc-Core":
            assert not resources(template, "AWS::ApiGateway::Account"), name
    # Every stack with a logging stage deploys after the core stack.
    stages = {
        name
        for name, template in templates.items()
        if resources(template, "AWS::ApiGatewayV2::Stage")
        or resources(template, "AWS::ApiGateway::Stage")
    }
    assert stages == {"Logsvc-Stream", "Logsvc-Api"}


def test_accounts_that_manage_the_role_elsewhere_can_opt_out(tmp_path):
    templates = synthesize(tmp_path, manage_api_gateway_account="false")
    assert not any(resources(t, "AWS::ApiGateway::Account") for t in templates.values())


def test_synthesis_refuses_a_deployment_without_its_database(tmp_path):
    with pytest.raises(ValueError, match="d1_account_id and d1_database_id are required"):
        synthesize(tmp_path / "a", d1_account_id="", d1_database_id="")
    templates = synthesize(
        tmp_path / "b", d1_account_id="", d1_database_id="", allow_placeholders="true"
    )
    assert "Logsvc-Ingest" in templates


def layer_keys(templates: dict) -> dict[str, str]:
    """The search function's layers by name: logsvc (the core one), base, archive, ..."""
    layers = resources(templates["Logsvc-Search"], "AWS::Lambda::LayerVersion")
    keys = {}
    for layer in layers.values():
        description = layer["Properties"]["Description"]
        name = description.split(": ")[1].split()[0] if ": " in description else "logsvc"
        keys[name] = layer["Properties"]["Content"]["S3Key"]
    return keys


def test_layer_assets_change_with_everything_that_goes_into_them(templates, tmp_path, monkeypatch):
    import stacks.layers

    before = layer_keys(templates)
    document = tmp_path / "openapi.json"
    document.write_text('{"openapi": "3.1.0", "changed": true}')
    monkeypatch.setattr(stacks.layers, "OPENAPI_DOCUMENT", document)
    changed_document = layer_keys(synthesize(tmp_path / "a"))
    assert changed_document["logsvc"] != before["logsvc"]  # the core layer
    assert changed_document["base"] == before["base"]  # not the libraries
    assert changed_document["archive"] == before["archive"]
    monkeypatch.setattr(stacks.layers, "_target", lambda: "python3.15/ARM_64")
    changed_runtime = layer_keys(synthesize(tmp_path / "b"))
    assert changed_runtime["base"] != before["base"]
    assert changed_runtime["archive"] != before["archive"]
    assert changed_runtime["logsvc"] != changed_document["logsvc"]


def test_alarm_topics_use_a_key_cloudwatch_may_use(templates):
    core = templates["Logsvc-Core"]
    (key,) = resources(core, "AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [
        s for s in statements if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert key["Properties"]["EnableKeyRotation"] is True
    for topic in resources(core, "AWS::SNS::Topic").values():
        assert "alias/aws/sns" not in json.dumps(topic)
        assert "Fn::GetAtt" in json.dumps(topic["Properties"]["KmsMasterKeyId"])


@pytest.mark.parametrize("name", ["cleanup", "analyze"])
def test_a_failed_scheduled_run_is_retried_then_kept_and_alarmed(templates, name):
    template = templates[f"Logsvc-{name.title()}"]
    (queue_id,) = resources(template, "AWS::SQS::Queue")
    (invoke,) = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke["Properties"]["MaximumRetryAttempts"] == 2
    assert queue_id in json.dumps(invoke["Properties"]["DestinationConfig"]["OnFailure"])
    (rule,) = resources(template, "AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert queue_id in json.dumps(target["DeadLetterConfig"])
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    alarms = [
        a
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if queue_id in json.dumps(a["Properties"].get("Dimensions"))
    ]
    assert len(alarms) == 1


def test_search_may_list_the_archived_logs_so_a_missing_entry_is_a_404(templates):
    (policy,) = resources(templates["Logsvc-Search"], "AWS::IAM::Policy").values()
    (listing,) = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "s3:ListBucket" and "Condition" in s
    ]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["logs/*", "compacted/*"]}}


def test_the_archive_survives_destroy_and_a_failed_first_create(templates, tmp_path):
    buckets = resources(templates["Logsvc-Core"], "AWS::S3::Bucket").values()
    assert len(buckets) == 2  # the archive, and Athena's results
    for bucket in buckets:
        assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"
        assert bucket["UpdateReplacePolicy"] == "Retain"
    adopted = synthesize(tmp_path, adopt_archive_bucket="true")
    assert not resources(adopted["Logsvc-Core"], "AWS::S3::Bucket")  # both adopted
    (policy,) = resources(adopted["Logsvc-Ingest"], "AWS::IAM::Policy").values()
    assert "logsvc-archive-" in json.dumps(policy)


def test_waf_managed_rules_spare_batch_bodies_and_log_without_keys(templates, tmp_path):
    api = templates["Logsvc-Api"]
    (acl,) = resources(api, "AWS::WAFv2::WebACL").values()
    managed = {
        rule["Name"]: rule["Statement"]["ManagedRuleGroupStatement"]
        for rule in acl["Properties"]["Rules"]
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert set(managed) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    (override,) = managed["AWSManagedRulesCommonRuleSet"]["RuleActionOverrides"]
    assert override == {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
    (logging,) = resources(api, "AWS::WAFv2::LoggingConfiguration").values()
    assert logging["Properties"]["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]
    groups = [
        g["Properties"].get("LogGroupName") for g in resources(api, "AWS::Logs::LogGroup").values()
    ]
    assert "aws-waf-logs-logsvc" in groups
    allowing = synthesize(tmp_path, waf_allow_cidrs="203.0.113.7/32,198.51.100.0/24")
    (ip_set,) = resources(allowing["Logsvc-Api"], "AWS::WAFv2::IPSet").values()
    assert ip_set["Properties"]["Addresses"] == ["203.0.113.7/32", "198.51.100.0/24"]
    (acl,) = resources(allowing["Logsvc-Api"], "AWS::WAFv2::WebACL").values()
    first = min(acl["Properties"]["Rules"], key=lambda rule: rule["Priority"])
    assert (first["Name"], first["Action"]) == ("allowed-addresses", {"Allow": {}})


# Every supported setting, one at a time, against the defaults.
SETTINGS = {
    "database=d1-bridge": {
        "database": "d1-bridge",
        "d1_bridge_url": "https://bridge.example.workers.dev/query",
    },
    "buffered_ingest=false": {"buffered_ingest": "false"},
    "archive=r2": {"archive": "r2", "r2_account_id": "acct", "r2_bucket": "logs"},
    "alert_webhook=true": {"alert_webhook": "true"},
    "analysis_llm=bedrock": {"analysis_llm": "bedrock"},
}


def exports_and_imports(templates: dict[str, dict]) -> tuple[dict[str, set], dict[str, set]]:
    """Per stack: the export names it offers, and the ones it imports."""
    exports = {
        name: {
            output["Export"]["Name"]
            for output in template.get("Outputs", {}).values()
            if "Export" in output
        }
        for name, template in templates.items()
    }
    imports = {}
    for name, template in templates.items():
        text = json.dumps(template.get("Resources", {}))
        imports[name] = set(re.findall(r'"Fn::ImportValue": "([^"]+)"', text))
    return exports, imports


def test_every_import_survives_each_setting_change_and_back(tmp_path):
    default = exports_and_imports(synthesize(tmp_path / "default"))
    for label, context in SETTINGS.items():
        changed = exports_and_imports(synthesize(tmp_path / label.replace("=", "-"), **context))
        for before, after in ((default, changed), (changed, default)):
            # Stacks the new settings no longer build stay deployed, exports and all.
            kept = set().union(*(e for s, e in before[0].items() if s not in after[0]))
            offered = set().union(*after[0].values()) | kept
            still_imported = set().union(*before[1].values())
            newly_imported = set().union(*after[1].values())
            assert still_imported <= offered, (label, still_imported - offered)
            assert newly_imported <= offered, (label, newly_imported - offered)


def concurrency(templates: dict) -> dict[str, int | None]:
    found = {}
    for name, template in templates.items():
        for function in resources(template, "AWS::Lambda::Function").values():
            found[name] = function["Properties"].get("ReservedConcurrentExecutions")
    return found


def test_concurrency_is_reserved_only_when_asked(templates, tmp_path):
    # A new account may run only 10 instances in all: nothing is reserved by default.
    assert set(concurrency(templates).values()) == {None}
    recommended = concurrency(synthesize(tmp_path / "r", reserved_concurrency="recommended"))
    assert recommended["Logsvc-Ingest"] == 10 and recommended["Logsvc-Cleanup"] == 1
    chosen = concurrency(synthesize(tmp_path / "c", reserved_concurrency="ingest=25,search=4"))
    assert (chosen["Logsvc-Ingest"], chosen["Logsvc-Search"], chosen["Logsvc-Config"]) == (
        25,
        4,
        None,
    )
    with pytest.raises(ValueError, match="reserved_concurrency"):
        synthesize(tmp_path / "x", reserved_concurrency="ingest=lots")


def test_the_writer_reads_each_shard_with_one_instance(templates, tmp_path):
    (mapping,) = resources(templates["Logsvc-Writer"], "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["ParallelizationFactor"] == 1
    two = synthesize(tmp_path, ingest_shards="2")
    (stream,) = resources(two["Logsvc-Writer"], "AWS::Kinesis::Stream").values()
    assert stream["Properties"]["ShardCount"] == 2


def test_layers_ship_bytecode_for_the_runtime_or_none(tmp_path):
    from stacks.layers import compile_for_target

    package = tmp_path / "python" / "pkg"
    package.mkdir(parents=True)
    (package / "module.py").write_text("VALUE = 1\n")
    assert compile_for_target(tmp_path / "python", version="9.99") is False  # not here
    assert not list(tmp_path.rglob("*.pyc"))
    # This machine's own Python stands in for the runtime's: hash-checked bytecode, which
    # stays valid after the asset zip resets every file's time.
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if shutil.which(f"python{here}") is None:
        pytest.skip(f"no python{here} on PATH to stand in for the runtime")
    assert compile_for_target(tmp_path / "python", version=here) is True
    (compiled,) = tmp_path.rglob("*.pyc")
    assert compiled.name.startswith(f"module.cpython-{here.replace('.', '')}")
    flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, unchecked


def test_synthesis_says_when_the_layers_ship_without_bytecode(tmp_path, monkeypatch):
    import aws_cdk as cdk

    import stacks.layers

    monkeypatch.setattr(stacks.layers, "target_interpreter", lambda: None)
    with pytest.raises(ValueError, match=r"layer_bytecode=required: python3\.14 is not"):
        synthesize(tmp_path / "a", layer_bytecode="required")
    app = cdk.App()
    stacks.layers.check_bytecode(app, required=False)
    (warning,) = [m.data for m in app.node.metadata if m.type == "aws:cdk:warning"]
    assert "every cold start compiles" in warning
    monkeypatch.setattr(stacks.layers, "target_interpreter", lambda: "/usr/bin/python3.14")
    quiet = cdk.App()
    stacks.layers.check_bytecode(quiet, required=False)
    assert not quiet.node.metadata
