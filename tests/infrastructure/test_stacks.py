"""What the synthesized templates promise: routes, functions, limits, encryption, IAM."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from logsvc.routes import FUNCTIONS, ROUTES
from logsvc_local.project import ROOT
from stacks.capabilities import ReadsApiKey
from stacks.function_stack import FUNCTION_SPECS
from tests.infrastructure.conftest import synthesize

FUNCTION_STACKS = {name: f"Logsvc-{name.title()}" for name in FUNCTION_SPECS}


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def test_one_stack_per_function_plus_core_and_api(templates):
    expected = {"Logsvc-Core", "Logsvc-Api", *FUNCTION_STACKS.values()}
    assert set(templates) == expected  # the writer too: ingest is buffered by default


def test_every_route_reaches_its_function(templates):
    api = templates["Logsvc-Api"]
    api_resources = resources(api, "AWS::ApiGateway::Resource")

    def path_of(resource_ref: dict) -> str:
        parts = []
        while "Ref" in resource_ref:
            resource = api_resources[resource_ref["Ref"]]
            parts.append(resource["PathPart"])
            resource_ref = resource["ParentId"]
        return "/" + "/".join(reversed(parts))

    served = set()
    for method in resources(api, "AWS::ApiGateway::Method").values():
        if method["HttpMethod"] == "OPTIONS":
            continue
        uri = json.dumps(method["Integration"]["Uri"])
        function = next(n for n, stack in FUNCTION_STACKS.items() if f'"{stack}:' in uri)
        assert method["Integration"]["Type"] == "AWS_PROXY"
        served.add((method["HttpMethod"], path_of(method["ResourceId"]), function))
    assert served == {(r.method, r.path, r.function) for r in ROUTES}

    invoked = {
        json.dumps(p["FunctionName"])
        for p in resources(api, "AWS::Lambda::Permission").values()
        if p["Principal"] == "apigateway.amazonaws.com"
    }
    assert {
        n for n, stack in FUNCTION_STACKS.items() if any(f'"{stack}:' in f for f in invoked)
    } == set(FUNCTIONS)


@pytest.mark.parametrize("name", [n for n in FUNCTION_SPECS if n != "writer"])
def test_functions_are_arm64_python_with_tracing_and_log_retention(templates, name):
    template = templates[FUNCTION_STACKS[name]]
    (function,) = resources(template, "AWS::Lambda::Function").values()
    assert function["Architectures"] == ["arm64"]
    assert function["Runtime"] == "python3.14"
    assert function["Handler"] == "handler.lambda_handler"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert len(function["Layers"]) == 2 + len(FUNCTION_SPECS[name].libraries)  # core, base, ...
    environment = function["Environment"]["Variables"]
    assert environment["DATABASE_URL"].startswith("d1://")
    assert "D1_API_TOKEN_SECRET_ARN" in environment
    assert ("LOG_SERVICE_API_KEY_SECRET_ARN" in environment) is FUNCTION_SPECS[name].has(
        ReadsApiKey
    )
    log_groups = resources(template, "AWS::Logs::LogGroup").values()
    assert {group["RetentionInDays"] for group in log_groups} == {30}
    alarms = list(resources(template, "AWS::CloudWatch::Alarm").values())
    assert "Throttles" in {a.get("MetricName") for a in alarms}
    (errors,) = [a for a in alarms if "Metrics" in a]  # a rate, not "1 error in 5 minutes"
    (expression,) = [m["Expression"] for m in errors["Metrics"] if "Expression" in m]
    assert "errors / invocations" in expression and errors["Threshold"] == 1


def test_waf_rate_limits_per_ip_as_in_the_original(templates):
    api = templates["Logsvc-Api"]
    (acl,) = resources(api, "AWS::WAFv2::WebACL").values()
    rules = {
        rule["Name"]: rule["Statement"]["RateBasedStatement"]
        for rule in acl["Rules"]
        if "RateBasedStatement" in rule["Statement"]
    }
    assert rules["api-per-ip"]["Limit"] == 100
    assert rules["batch-ingest-per-ip"]["Limit"] == 20
    assert all(
        r["AggregateKeyType"] == "IP" and r["EvaluationWindowSec"] == 60 for r in rules.values()
    )
    scope = rules["batch-ingest-per-ip"]["ScopeDownStatement"]["ByteMatchStatement"]
    assert (scope["SearchString"], scope["PositionalConstraint"]) == (
        "/api/v1/logs/ingest/batch",
        "ENDS_WITH",
    )
    (association,) = resources(api, "AWS::WAFv2::WebACLAssociation").values()
    assert "Stage" in json.dumps(association["ResourceArn"])


def test_limits_cors_and_retention_come_from_context(tmp_path):
    templates = synthesize(
        tmp_path,
        rate_limit_per_minute="50",
        batch_rate_limit_per_minute="10",
        cors_origins="https://ops.example",
        log_retention_days="7",
        redact="bearer,email",
        redact_patterns='["ssn=[0-9-]+"]',
    )
    api = templates["Logsvc-Api"]
    (acl,) = resources(api, "AWS::WAFv2::WebACL").values()
    limits = {
        r["Name"]: r["Statement"]["RateBasedStatement"]["Limit"]
        for r in acl["Rules"]
        if "RateBasedStatement" in r["Statement"]
    }
    assert limits == {"api-per-ip": 50, "batch-ingest-per-ip": 10}
    options = [
        m
        for m in resources(api, "AWS::ApiGateway::Method").values()
        if m["HttpMethod"] == "OPTIONS"
    ]
    assert options and "https://ops.example" in json.dumps(options[0])
    # Mock integrations under binary media types */*: text, or API Gateway answers 500.
    assert {m["Integration"]["ContentHandling"] for m in options} == {"CONVERT_TO_TEXT"}
    (log_group,) = resources(templates["Logsvc-Ingest"], "AWS::Logs::LogGroup").values()
    assert log_group["RetentionInDays"] == 7
    (function,) = resources(templates["Logsvc-Ingest"], "AWS::Lambda::Function").values()
    variables = function["Environment"]["Variables"]
    assert variables["CORS_ORIGINS"] == "https://ops.example"  # answers carry the origin
    assert (variables["REDACT"], variables["REDACT_PATTERNS"]) == (
        "bearer,email",
        '["ssn=[0-9-]+"]',
    )


def test_no_cors_by_default_and_stage_throttled_and_logged(templates):
    api = templates["Logsvc-Api"]
    assert not [
        m
        for m in resources(api, "AWS::ApiGateway::Method").values()
        if m["HttpMethod"] == "OPTIONS"
    ]
    (stage,) = resources(api, "AWS::ApiGateway::Stage").values()
    assert stage["AccessLogSetting"]["DestinationArn"]
    assert stage["TracingEnabled"] is True
    throttle = stage["MethodSettings"][0]
    assert (throttle["ThrottlingRateLimit"], throttle["ThrottlingBurstLimit"]) == (200, 400)
    alarms = resources(api, "AWS::CloudWatch::Alarm").values()
    assert sorted(a["MetricName"] for a in alarms) == [
        "5XXError",
        "ApiThrottled",
        "BlockedRequests",
    ]
    assert resources(api, "AWS::CloudWatch::Dashboard")


def test_archive_and_athena_results_buckets_are_encrypted_private_and_tls_only(templates):
    core = templates["Logsvc-Core"]
    buckets = resources(core, "AWS::S3::Bucket").values()
    assert len(buckets) == 2  # the archive, and Athena's query results
    for bucket in buckets:
        assert (
            bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
                "ServerSideEncryptionByDefault"
            ]["SSEAlgorithm"]
            == "AES256"
        )
        assert bucket["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
    policies = resources(core, "AWS::S3::BucketPolicy").values()
    assert len(policies) == 2
    for policy in policies:
        (deny,) = policy["PolicyDocument"]["Statement"]
        assert (deny["Effect"], deny["Condition"]) == (
            "Deny",
            {"Bool": {"aws:SecureTransport": "false"}},
        )
    topics = resources(core, "AWS::SNS::Topic").values()
    assert len(topics) == 2  # operational alarms, and error alerts from the analysis
    assert all(topic["KmsMasterKeyId"] for topic in topics)


def test_compacted_archive_objects_move_to_intelligent_tiering(templates, tmp_path):
    def archive_rules(core: dict) -> list[dict]:
        (archive,) = [
            b
            for b in resources(core, "AWS::S3::Bucket").values()
            if "athena-results" not in json.dumps(b.get("BucketName"))
        ]
        return archive["LifecycleConfiguration"]["Rules"]

    (rule,) = archive_rules(templates["Logsvc-Core"])
    # Only the compacted objects: logs/ holds a day's per-flush objects, which compaction
    # replaces; moving them would cost a transition each and save nothing.
    assert rule["Prefix"] == "compacted/"
    assert rule["Status"] == "Enabled"
    assert rule["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]
    rules = archive_rules(synthesize(tmp_path, archive_expiration_days=400)["Logsvc-Core"])
    assert sorted((r["Prefix"], r.get("ExpirationInDays", 0)) for r in rules) == [
        ("compacted/", 0),
        ("compacted/", 400),
        ("logs/", 400),
    ]


def test_no_policy_grants_wildcard_actions(templates):
    for stack, template in templates.items():
        for kind in ("AWS::IAM::Policy", "AWS::IAM::Role"):
            for properties in resources(template, kind).values():
                documents = [properties.get("PolicyDocument")] + [
                    p["PolicyDocument"] for p in properties.get("Policies", [])
                ]
                for statement in (s for d in documents if d for s in d["Statement"]):
                    actions = statement["Action"]
                    actions = [actions] if isinstance(actions, str) else actions
                    assert not {"*", "s3:*", "secretsmanager:*"} & set(actions), stack
                    if statement.get("Resource") == "*":
                        assert set(actions) <= {
                            "xray:PutTraceSegments",
                            "xray:PutTelemetryRecords",
                        }, (stack, actions)


@pytest.mark.parametrize(
    ("name", "actions"),
    [
        ("ingest", ["s3:PutObject"]),
        (
            "search",
            [
                "s3:GetObject",
                "s3:ListBucket",
                ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],  # Athena's results
                ["s3:GetBucketLocation", "s3:ListBucket"],
                "s3:GetBucketLocation",  # the archive's, as Athena's reference policy has it
            ],
        ),
        ("config", []),
        ("health", ["s3:ListBucket"]),  # the health probe key alone (below)
        ("cleanup", [["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], "s3:ListBucket"]),
        ("analyze", ["s3:PutObject"]),
        ("stream", []),
    ],
)
def test_each_function_reaches_only_its_archive_actions(templates, name, actions):
    (policy,) = resources(templates[FUNCTION_STACKS[name]], "AWS::IAM::Policy").values()
    s3_actions = [
        s["Action"]
        for s in policy["PolicyDocument"]["Statement"]
        if "s3:" in json.dumps(s["Action"])
    ]
    assert s3_actions == actions


def test_maintenance_functions_run_on_the_original_schedules(templates):
    expressions = {}
    for name in ("cleanup", "analyze"):
        (rule,) = resources(templates[f"Logsvc-{name.title()}"], "AWS::Events::Rule").values()
        expressions[name] = rule["ScheduleExpression"]
        (target,) = rule["Targets"]
        assert "Function" in json.dumps(target["Arn"])
    assert expressions == {"cleanup": "cron(0 2 * * ? *)", "analyze": "cron(0 0/6 * * ? *)"}


def test_cleanup_lists_only_the_archived_logs_and_analyze_publishes_alerts(templates):
    (cleanup,) = resources(templates["Logsvc-Cleanup"], "AWS::IAM::Policy").values()
    (listing,) = [
        s for s in cleanup["PolicyDocument"]["Statement"] if s["Action"] == "s3:ListBucket"
    ]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["logs/*", "compacted/*"]}}
    (analyze,) = resources(templates["Logsvc-Analyze"], "AWS::IAM::Policy").values()
    (publish,) = [s for s in analyze["PolicyDocument"]["Statement"] if s["Action"] == "sns:Publish"]
    assert "Alerts" in json.dumps(publish["Resource"])
    (function,) = resources(templates["Logsvc-Analyze"], "AWS::Lambda::Function").values()
    assert "ALERT_TOPIC_ARN" in function["Environment"]["Variables"]


def test_the_functions_that_fetch_archive_objects_have_room_in_tmp(templates):
    sizes = {}
    for name in ("search", "cleanup", "ingest"):
        (function,) = resources(templates[FUNCTION_STACKS[name]], "AWS::Lambda::Function").values()
        sizes[name] = function["EphemeralStorage"]["Size"]
    assert sizes == {"search": 2048, "cleanup": 4096, "ingest": 512}


def test_athena_searches_the_s3_archive_with_a_scan_limit_and_expiring_results(templates):
    core = templates["Logsvc-Core"]
    (workgroup,) = resources(core, "AWS::Athena::WorkGroup").values()
    config = workgroup["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    result = config["ResultConfiguration"]
    assert result["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert "athena-results" in json.dumps(result["OutputLocation"])
    results_bucket = next(
        b
        for b in resources(core, "AWS::S3::Bucket").values()
        if "athena-results" in json.dumps(b.get("BucketName"))
    )
    (rule,) = results_bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 1
    tables = {
        t["TableInput"]["Name"]: t["TableInput"]
        for t in resources(core, "AWS::Glue::Table").values()
    }
    assert set(tables) == {"logs_ndjson", "logs_compacted"}
    for name, prefix in (("logs_ndjson", "logs/"), ("logs_compacted", "compacted/")):
        parameters = tables[name]["Parameters"]
        assert parameters["projection.service.type"] == "injected"
        assert parameters["projection.day.format"] == "yyyy-MM-dd"
        assert f"{prefix}${{service}}/${{day}}/" in json.dumps(
            parameters["storage.location.template"]
        )
    (search,) = resources(templates["Logsvc-Search"], "AWS::Lambda::Function").values()
    variables = search["Environment"]["Variables"]
    assert variables["ARCHIVE_ENGINE"] == "athena"
    assert variables["ATHENA_WORKGROUP"] == "logsvc-archive"
    (policy,) = resources(templates["Logsvc-Search"], "AWS::IAM::Policy").values()
    (athena,) = [
        s for s in policy["PolicyDocument"]["Statement"] if "athena:" in json.dumps(s["Action"])
    ]
    assert sorted(athena["Action"]) == [
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StartQueryExecution",
    ]
    assert "workgroup/logsvc-archive" in json.dumps(athena["Resource"])


def test_model_summaries_and_the_webhook_secret_from_context(tmp_path):
    templates = synthesize(tmp_path, analysis_llm="bedrock", alert_webhook="true")
    (function,) = resources(templates["Logsvc-Analyze"], "AWS::Lambda::Function").values()
    environment = function["Environment"]["Variables"]
    assert environment["ANALYSIS_LLM"] == "bedrock"
    assert "ALERT_WEBHOOK_URL_SECRET_ARN" in environment
    (policy,) = resources(templates["Logsvc-Analyze"], "AWS::IAM::Policy").values()
    (invoke,) = [
        s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "bedrock:InvokeModel"
    ]
    assert "foundation-model/amazon.nova-lite-v1:0" in json.dumps(invoke["Resource"])


def statements(template: dict) -> list[dict]:
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def test_the_ask_function_has_no_model_and_no_model_permission_by_default(templates):
    (function,) = resources(templates["Logsvc-Ask"], "AWS::Lambda::Function").values()
    assert "ASK_LLM" not in function["Environment"]["Variables"]
    assert "bedrock" not in json.dumps(statements(templates["Logsvc-Ask"]))
    assert "ModelApiKey" not in json.dumps(templates["Logsvc-Core"])


@pytest.mark.parametrize(
    ("model", "resources_allowed"),
    [
        (
            "",
            [
                "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/amazon.nova-lite-v1:0"
            ],
        ),
        (
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            [
                "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:"
                "inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
                "arn:${AWS::Partition}:bedrock:*::foundation-model/"
                "anthropic.claude-3-5-haiku-20241022-v1:0",
            ],
        ),
    ],
)
def test_asking_bedrock_may_invoke_that_one_model(tmp_path, model, resources_allowed):
    templates = synthesize(tmp_path, ask_llm="bedrock", ask_llm_model=model)
    (function,) = resources(templates["Logsvc-Ask"], "AWS::Lambda::Function").values()
    environment = function["Environment"]["Variables"]
    assert environment["ASK_LLM"] == "bedrock"
    assert environment.get("ASK_LLM_MODEL", "") == model
    (invoke,) = [s for s in statements(templates["Logsvc-Ask"]) if "bedrock" in json.dumps(s)]
    assert invoke["Action"] == "bedrock:InvokeModel"
    shown = [
        "".join(p if isinstance(p, str) else "${" + p["Ref"] + "}" for p in r["Fn::Join"][1])
        for r in (
            invoke["Resource"] if isinstance(invoke["Resource"], list) else [invoke["Resource"]]
        )
    ]
    assert shown == resources_allowed
    for name in ("Logsvc-Search", "Logsvc-Ingest", "Logsvc-Analyze"):  # nobody else
        assert "bedrock" not in json.dumps(statements(templates[name]))


@pytest.mark.parametrize("provider", ["workers-ai", "openai"])
def test_asking_workers_ai_or_an_openai_endpoint_reads_the_key_secret(tmp_path, provider):
    url = {"ask_llm_url": "https://models.example.internal/v1"} if provider == "openai" else {}
    templates = synthesize(tmp_path, ask_llm=provider, **url)
    (function,) = resources(templates["Logsvc-Ask"], "AWS::Lambda::Function").values()
    environment = function["Environment"]["Variables"]
    assert environment["ASK_LLM"] == provider
    assert "MODEL_API_KEY_SECRET_ARN" in environment
    if provider == "openai":
        assert environment["OPENAI_BASE_URL"] == "https://models.example.internal/v1"
    else:
        assert environment["WORKERS_AI_ACCOUNT_ID"] == "test-account"  # the D1 account
    (_secret,) = [
        s
        for s in statements(templates["Logsvc-Ask"])
        if s["Action"] == "secretsmanager:GetSecretValue" and "ModelApiKey" in json.dumps(s)
    ]
    assert "ModelApiKey" in json.dumps(templates["Logsvc-Core"])
    assert "bedrock" not in json.dumps(statements(templates["Logsvc-Ask"]))


def test_an_openai_endpoint_needs_its_https_url(tmp_path):
    with pytest.raises(ValueError, match="ask_llm_url"):
        synthesize(tmp_path, ask_llm="openai")
    with pytest.raises(ValueError, match="ask_llm must be"):
        synthesize(tmp_path, ask_llm="gpt")


def test_changing_one_function_changes_only_its_stack(templates, tmp_path):
    functions = tmp_path / "functions"
    shutil.copytree(ROOT / "functions", functions, ignore=shutil.ignore_patterns("__pycache__"))
    handler = functions / "search" / "handler.py"
    handler.write_text(handler.read_text() + "\n# a change\n")
    changed = synthesize(tmp_path / "out", functions_dir=str(functions))
    differing = {name for name in templates if changed[name] != templates[name]}
    assert differing == {"Logsvc-Search"}


def test_cdk_nag_reports_no_unacknowledged_findings(templates, synth_dir):
    report = json.loads((synth_dir / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert (nag["pluginName"], nag["conclusion"], nag["violations"]) == (
        "AwsSolutions",
        "success",
        [],
    )
    for acknowledged in nag["suppressedViolations"]:
        assert len(acknowledged["reason"]) > 40, acknowledged["ruleName"]


def test_cfn_lint_finds_no_errors(templates, synth_dir):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfnlint",
            "--format",
            "parseable",
            "--",
            *map(str, synth_dir.glob("*.template.json")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == []
    assert result.returncode & 2 == 0, result.stdout


def test_r2_archive_uses_its_endpoint_and_a_secret_not_a_bucket(tmp_path):
    templates = synthesize(
        tmp_path, archive="r2", r2_account_id="abc123", r2_bucket="platform-logs-archive"
    )
    assert not resources(templates["Logsvc-Core"], "AWS::S3::Bucket")
    assert "R2CredentialsSecretArn" in templates["Logsvc-Core"]["Outputs"]
    (function,) = resources(templates["Logsvc-Ingest"], "AWS::Lambda::Function").values()
    environment = function["Environment"]["Variables"]
    assert environment["ARCHIVE_URL"] == "s3://platform-logs-archive"
    assert environment["ARCHIVE_ENDPOINT_URL"] == "https://abc123.r2.cloudflarestorage.com"
    assert "ARCHIVE_CREDENTIALS_SECRET_ARN" in environment
    (policy,) = resources(templates["Logsvc-Ingest"], "AWS::IAM::Policy").values()
    assert not [
        s for s in policy["PolicyDocument"]["Statement"] if "s3:" in json.dumps(s["Action"])
    ]
    # The archive is searched by DuckDB in the search function, over R2's S3 API.
    assert not resources(templates["Logsvc-Core"], "AWS::Athena::WorkGroup")
    (search,) = resources(templates["Logsvc-Search"], "AWS::Lambda::Function").values()
    assert search["Environment"]["Variables"]["ARCHIVE_ENGINE"] == "duckdb"


def test_live_tail_websocket_api_reaches_the_stream_function(templates):
    stream = templates["Logsvc-Stream"]
    (api,) = resources(stream, "AWS::ApiGatewayV2::Api").values()
    assert (api["ProtocolType"], api["RouteSelectionExpression"]) == (
        "WEBSOCKET",
        "$request.body.action",
    )
    routes = {r["RouteKey"]: r for r in resources(stream, "AWS::ApiGatewayV2::Route").values()}
    assert set(routes) == {"$connect", "$disconnect", "subscribe"}
    integrations = resources(stream, "AWS::ApiGatewayV2::Integration").values()
    assert all("Function" in json.dumps(i["IntegrationUri"]) for i in integrations)
    (stage,) = resources(stream, "AWS::ApiGatewayV2::Stage").values()
    assert stage["AutoDeploy"] is True
    assert stage["AccessLogSettings"]["DestinationArn"]
    assert "LiveTailUrl" in stream["Outputs"]


@pytest.mark.parametrize("name", ["ingest", "writer", "stream"])
def test_posting_to_live_tail_names_this_api_only(templates, name):
    template = templates[FUNCTION_STACKS[name]]
    (function,) = resources(template, "AWS::Lambda::Function").values()
    assert "STREAM_ENDPOINT" in function["Environment"]["Variables"]
    (policy,) = resources(template, "AWS::IAM::Policy").values()
    (manage,) = [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s["Action"] == "execute-api:ManageConnections"
    ]
    resource = json.dumps(manage["Resource"])
    assert resource.endswith('"/prod/POST/@connections/*"]]}')
    assert ":*/" not in resource  # not any API with a prod stage
    api_id = (
        '{"Ref": "LiveTailApi'
        if name == "stream"
        else '{"Fn::ImportValue": "Logsvc-LiveTailApiId"}'  # a name fixed across settings
    )
    assert api_id in resource


def test_buffered_ingest_stream_writer_dead_letters_and_alarms(templates):
    writer = templates["Logsvc-Writer"]
    (stream,) = resources(writer, "AWS::Kinesis::Stream").values()
    assert stream["ShardCount"] == 1
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"
    (mapping,) = resources(writer, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["BatchSize"] == 10_000
    assert mapping["MaximumBatchingWindowInSeconds"] == 4
    assert mapping["ParallelizationFactor"] == 1  # one writer per shard: bounded D1 requests
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    # An outage of days loses nothing: the stream keeps 7 days, the writer gives up a day
    # before, a bad record is isolated (bisection), and what is given up lands whole in S3.
    assert stream["RetentionPeriodHours"] == 168
    assert mapping["MaximumRecordAgeInSeconds"] == 6 * 86_400
    assert mapping["MaximumRetryAttempts"] == 10_000 and mapping["BisectBatchOnFunctionError"]
    destination = json.dumps(mapping["DestinationConfig"]["OnFailure"]["Destination"])
    assert "BufferFailedBatches" in destination and "Queue" not in destination
    assert mapping["MetricsConfig"] == {"Metrics": ["EventCount"]}
    (bucket,) = resources(writer, "AWS::S3::Bucket").values()
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    retained = [r for r in writer["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    assert retained[0]["DeletionPolicy"] == "Retain"  # it holds what was stored nowhere else
    (policy,) = resources(writer, "AWS::IAM::Policy").values()
    on_bucket = [
        s["Action"]
        for s in policy["PolicyDocument"]["Statement"]
        if "BufferFailedBatches" in json.dumps(s["Resource"])
    ]
    assert sorted(map(str, on_bucket)) == ["s3:ListBucket", "s3:PutObject"]  # no more
    (queue,) = resources(writer, "AWS::SQS::Queue").values()
    assert queue["SqsManagedSseEnabled"]
    alarms = {
        a["MetricName"]: a
        for a in resources(writer, "AWS::CloudWatch::Alarm").values()
        if "MetricName" in a
    }
    assert alarms["GetRecords.IteratorAgeMilliseconds"]["Threshold"] == 300_000  # lag
    assert alarms["ApproximateNumberOfMessagesVisible"]["Threshold"] == 1  # dead letters
    assert alarms["OnFailureDestinationDeliveredEventCount"]["Threshold"] == 1  # given up
    assert alarms["WriteProvisionedThroughputExceeded"]["Threshold"] == 100  # add shards
    full = alarms["IndexFillPercent"]  # an index database at its budget
    assert full["Threshold"] == 100 and full["Namespace"] == "logsService"
    assert full["Dimensions"] == [{"Name": "service", "Value": "writer"}]
    (function,) = resources(writer, "AWS::Lambda::Function").values()
    assert "WRITER_DEAD_LETTER_QUEUE_URL" in function["Environment"]["Variables"]
    (ingest,) = resources(templates["Logsvc-Ingest"], "AWS::Lambda::Function").values()
    assert ingest["Environment"]["Variables"]["INGEST_BUFFER"]["Fn::Join"][1][0] == "kinesis://"
    (policy,) = resources(templates["Logsvc-Ingest"], "AWS::IAM::Policy").values()
    (put,) = [
        s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "kinesis:PutRecords"
    ]
    assert "Fn::ImportValue" in json.dumps(put["Resource"])


def test_every_function_shares_the_coordination_table(templates):
    (table,) = resources(templates["Logsvc-Core"], "AWS::DynamoDB::Table").values()
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    for name in (*FUNCTIONS, "writer", "cleanup", "analyze"):
        stack = templates[f"Logsvc-{name.title()}"]
        (function,) = resources(stack, "AWS::Lambda::Function").values()
        assert "COORDINATION_TABLE" in function["Environment"]["Variables"], name
        (policy,) = resources(stack, "AWS::IAM::Policy").values()
        actions = [
            s["Action"]
            for s in policy["PolicyDocument"]["Statement"]
            if "dynamodb" in json.dumps(s["Action"])
        ]
        # Everyone counts D1 requests; only ingest keeps receipts.
        receipts = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
        expected = ["dynamodb:UpdateItem", *([receipts] if name == "ingest" else [])]
        assert actions == expected, name


def test_ingest_writes_directly_when_buffering_is_turned_off(tmp_path):
    templates = synthesize(tmp_path, buffered_ingest="false")
    assert "Logsvc-Writer" not in templates
    (function,) = resources(templates["Logsvc-Ingest"], "AWS::Lambda::Function").values()
    assert "INGEST_BUFFER" not in function["Environment"]["Variables"]


def test_the_d1_bridge_instead_of_the_rest_api(tmp_path):
    templates = synthesize(
        tmp_path, database="d1-bridge", d1_bridge_url="https://bridge.example.workers.dev/query"
    )
    assert "DatabaseSecretSecretArn" in templates["Logsvc-Core"]["Outputs"]
    (function,) = resources(templates["Logsvc-Search"], "AWS::Lambda::Function").values()
    environment = function["Environment"]["Variables"]
    assert environment["DATABASE_URL"] == "d1-bridge+https://bridge.example.workers.dev/query"
    assert "D1_BRIDGE_SECRET_ARN" in environment and "D1_API_TOKEN_SECRET_ARN" not in environment


def test_health_lists_only_the_archive_probe(templates):
    (policy,) = resources(templates["Logsvc-Health"], "AWS::IAM::Policy").values()
    (listing,) = [
        s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "s3:ListBucket"
    ]
    assert listing["Condition"] == {"StringEquals": {"s3:prefix": "logs/.health-probe"}}
    assert not json.dumps(listing["Resource"]).endswith('/*"]]}')  # the bucket, no object


def test_the_alert_publisher_may_use_the_topics_key(templates):
    (policy,) = resources(templates["Logsvc-Analyze"], "AWS::IAM::Policy").values()
    (kms,) = [s for s in policy["PolicyDocument"]["Statement"] if "kms:" in json.dumps(s)]
    assert sorted(kms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "TopicKey" in json.dumps(kms["Resource"])


def test_the_console_is_served_by_the_health_function_and_tails_the_stream_api(templates):
    (function,) = resources(templates[FUNCTION_STACKS["health"]], "AWS::Lambda::Function").values()
    url = json.dumps(function["Environment"]["Variables"]["LIVE_TAIL_URL"])
    assert url.startswith(
        '{"Fn::Join": ["", ["wss://", {"Fn::ImportValue": "Logsvc-LiveTailApiId"}'
    )
    assert url.endswith('"/prod"]]}')
    api = templates["Logsvc-Api"]
    paths = {r["PathPart"] for r in resources(api, "AWS::ApiGateway::Resource").values()}
    assert {"console", "{name}"} <= paths
    methods = resources(api, "AWS::ApiGateway::Method").values()
    root = [
        m
        for m in methods
        if m["HttpMethod"] == "GET" and "RootResourceId" in json.dumps(m["ResourceId"])
    ]
    assert root and root[0]["AuthorizationType"] == "NONE"


def test_more_index_databases_and_the_budget_from_context(tmp_path):
    templates = synthesize(tmp_path, index_shards="db-2,db-3", index_budget_bytes="5000000000")
    for name in FUNCTION_STACKS.values():
        for function in resources(templates[name], "AWS::Lambda::Function").values():
            variables = function["Environment"]["Variables"]
            assert variables["INDEX_SHARD_URLS"] == "d1://test-account/db-2,d1://test-account/db-3"
            assert variables["INDEX_BUDGET_BYTES"] == "5000000000"
    bridged = synthesize(
        tmp_path / "bridge",
        database="d1-bridge",
        d1_bridge_url="https://bridge.example.workers.dev/query",
        index_shards=["SHARD_1"],
    )
    (function,) = resources(bridged["Logsvc-Search"], "AWS::Lambda::Function").values()
    assert function["Environment"]["Variables"]["INDEX_SHARD_URLS"] == (
        "d1-bridge+https://bridge.example.workers.dev/query/SHARD_1"
    )


def test_an_incomplete_cleanup_raises_an_alarm(templates):
    cleanup = templates["Logsvc-Cleanup"]
    alarms = {
        a["MetricName"]: a
        for a in resources(cleanup, "AWS::CloudWatch::Alarm").values()
        if "MetricName" in a
    }
    incomplete = alarms["CleanupIncomplete"]
    assert incomplete["Threshold"] == 1 and incomplete["Period"] == 86_400
    assert incomplete["Dimensions"] == [{"Name": "service", "Value": "cleanup"}]


def test_the_streams_retention_from_context_and_its_bounds(tmp_path):
    templates = synthesize(tmp_path, ingest_retention_hours="72")
    writer = templates["Logsvc-Writer"]
    (stream,) = resources(writer, "AWS::Kinesis::Stream").values()
    (mapping,) = resources(writer, "AWS::Lambda::EventSourceMapping").values()
    assert stream["RetentionPeriodHours"] == 72
    assert mapping["MaximumRecordAgeInSeconds"] == 2 * 86_400
    with pytest.raises(ValueError, match="ingest_retention_hours"):
        synthesize(tmp_path / "short", ingest_retention_hours="24")


def test_what_a_destroy_takes_and_what_it_leaves(templates):
    """The ingest stream goes with its stack (each one left behind bills its shards); the
    region's API Gateway account setting stays, and so does the role it names; the stage's
    execution logs expire like every other log group."""
    writer = templates["Logsvc-Writer"]
    (stream,) = [r for r in writer["Resources"].values() if r["Type"] == "AWS::Kinesis::Stream"]
    assert stream["DeletionPolicy"] == "Delete"
    core = templates["Logsvc-Core"]["Resources"]
    (account,) = [r for r in core.values() if r["Type"] == "AWS::ApiGateway::Account"]
    role_ref = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert account["DeletionPolicy"] == "Retain" and core[role_ref]["DeletionPolicy"] == "Retain"
    api = templates["Logsvc-Api"]
    groups = [
        g["Properties"]
        for g in api["Resources"].values()
        if g["Type"] == "AWS::Logs::LogGroup"
        and "API-Gateway-Execution-Logs_" in json.dumps(g["Properties"].get("LogGroupName"))
    ]
    assert len(groups) == 1 and groups[0]["RetentionInDays"] == 30
    (stage,) = [r for r in api["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert any("ExecutionLogs" in d for d in stage.get("DependsOn", []))


def test_no_function_behind_the_api_outlives_api_gateways_29_seconds(templates):
    behind = {route.function for route in ROUTES} | {"stream"}
    for name in behind:
        (function,) = resources(templates[FUNCTION_STACKS[name]], "AWS::Lambda::Function").values()
        assert function["Timeout"] <= 29, name


def test_synthesis_warns_where_the_cli_shows_it(tmp_path):
    import aws_cdk as cdk
    from aws_cdk.assertions import Annotations, Match

    from stacks.app_builder import build

    def core_of(**context):
        defaults = {
            **json.loads((ROOT / "cdk.json").read_text())["context"],
            "d1_account_id": "a",
            "d1_database_id": "d",
            "aws:cdk:bundling-stacks": [],
        }
        app = cdk.App(outdir=str(tmp_path / str(len(context))), context={**defaults, **context})
        return Annotations.from_stack(build(app)["core"])

    core_of().has_warning("*", Match.string_like_regexp("alarm_email"))
    if shutil.which("python3.14") is None:  # and the layers' missing bytecode, where the CLI
        core_of().has_warning("*", Match.string_like_regexp("python3.14"))  # prints it
    core_of(alarm_email="ops@example.com").has_no_warning(
        "*", Match.string_like_regexp("alarm_email")
    )


def test_the_functions_expect_their_own_account_to_own_the_archive(templates):
    (function,) = resources(templates["Logsvc-Search"], "AWS::Lambda::Function").values()
    assert function["Environment"]["Variables"]["ARCHIVE_BUCKET_OWNER"] == {"Ref": "AWS::AccountId"}


def test_a_throttled_coordination_table_raises_an_alarm(templates):
    core = templates["Logsvc-Core"]
    (throttled,) = [
        a
        for a in resources(core, "AWS::CloudWatch::Alarm").values()
        if "ThrottledRequests" in json.dumps(a.get("Metrics", []))
    ]
    assert throttled["Threshold"] == 1
    operations = json.dumps(throttled["Metrics"])
    assert all(op in operations for op in ("UpdateItem", "PutItem", "GetItem"))


def test_the_services_own_logs_and_traces_are_held_down(templates):
    """What the service logs and traces about itself per request is billed per request:
    Lambda's platform lines only for warnings, WAF records only of blocked requests, X-Ray
    0.1% of ingest requests and of the other routes' past one a second (issue 29: ~2.5 KB of
    own logs a request), on this API's stage only (sampling rules are the account's)."""
    for name in FUNCTION_STACKS.values():
        (function,) = resources(templates[name], "AWS::Lambda::Function").values()
        assert function["LoggingConfig"]["LogFormat"] == "JSON"
        assert function["LoggingConfig"]["SystemLogLevel"] == "WARN"
    api = templates["Logsvc-Api"]
    (logging,) = resources(api, "AWS::WAFv2::LoggingConfiguration").values()
    assert logging["LoggingFilter"]["DefaultBehavior"] == "DROP"
    (keep,) = logging["LoggingFilter"]["Filters"]
    assert keep["Conditions"] == [{"ActionCondition": {"Action": "BLOCK"}}]
    rules = sorted(
        (r["SamplingRule"] for r in resources(api, "AWS::XRay::SamplingRule").values()),
        key=lambda rule: rule["Priority"],
    )
    assert [(r["URLPath"], r["ReservoirSize"], r["FixedRate"]) for r in rules] == [
        ("/api/v1/logs/ingest*", 0, 0.001),
        ("*", 1, 0.001),
    ]
    for rule in rules:
        assert rule["ServiceName"] == "logsvc-logs/prod"
        assert rule["ServiceType"] == "AWS::ApiGateway::Stage"


def test_the_wafs_blocks_raise_an_alarm(templates):
    api = templates["Logsvc-Api"]
    (blocks,) = [
        a
        for a in resources(api, "AWS::CloudWatch::Alarm").values()
        if a.get("MetricName") == "BlockedRequests"
    ]
    assert blocks["Namespace"] == "AWS/WAFV2" and blocks["Threshold"] == 500
    dimensions = {d["Name"]: d["Value"] for d in blocks["Dimensions"]}
    assert dimensions["Rule"] == "ALL" and "WebAcl" in json.dumps(dimensions["WebACL"])


def test_the_stages_own_429s_raise_an_alarm(templates):
    """API Gateway counts its throttle's 429s among all 4xx (bad keys, bad bodies): they
    are counted from the access log, whose status field is a string."""
    api = templates["Logsvc-Api"]
    (stage,) = resources(api, "AWS::ApiGateway::Stage").values()
    assert '"status":"$context.status"' in stage["AccessLogSetting"]["Format"]
    (counted,) = resources(api, "AWS::Logs::MetricFilter").values()
    assert counted["FilterPattern"] == '{ $.status = "429" }'
    assert counted["LogGroupName"] == {
        "Ref": stage["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    }
    (transform,) = counted["MetricTransformations"]
    (throttled,) = [
        a
        for a in resources(api, "AWS::CloudWatch::Alarm").values()
        if a.get("MetricName") == transform["MetricName"]
    ]
    assert throttled["Namespace"] == transform["MetricNamespace"] == "logsService"
    assert throttled["Statistic"] == "Sum" and throttled["Threshold"] == 100
    assert throttled["AlarmActions"]
