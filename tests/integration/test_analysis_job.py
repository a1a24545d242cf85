"""The analysis job on real storage: windows since the last run, baseline and anomaly,
the model path with fallback, alerts delivered once to a local receiver, and the API."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from logsvc import components
from logsvc.alerts import Alerter
from logsvc.analysis.analyzer import Analyzer
from logsvc.entries import LogEntry
from logsvc.language_models import BedrockModel
from logsvc.store.analyses import AnalysisResult
from logsvc_local.events import LocalContext
from logsvc_local.project import load_handler

HOUR = 3_600_000
NOW = 1_800_000_000_000
PLENTY = lambda: 10**9  # noqa: E731


def errors(
    service: str,
    count: int,
    *,
    at: int = NOW - HOUR,
    level: str = "ERROR",
    message: str = "Timeout after {i}ms calling inventory",
) -> None:
    components.ingestor().record(
        [
            LogEntry(
                id="",
                service_name=service,
                level=level,
                message=message.format(i=i),
                timestamp=at + i,
            )
            for i in range(count)
        ]
    )


class Receiver:
    """A Slack-compatible webhook on 127.0.0.1 that records what it is sent."""

    def __init__(self):
        self.received: list[dict] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def analyzer(now: int = NOW, webhook: str | None = None, summarizer=None) -> Analyzer:
    alerter = Alerter(components.analysis_store(), webhook_url=webhook, clock=lambda: now)
    return Analyzer(
        components.log_index(),
        components.analysis_store(),
        components.config_store(),
        alerter,
        summarizer,
        clock=lambda: now,
    )


def test_services_with_ten_or_more_errors_are_analysed_and_stored(api_any_db):
    errors("busy", 25)
    errors("busy", 5, level="CRITICAL", message="db down {i}")
    errors("quiet", 9)
    errors("old", 50, at=NOW - 8 * HOUR)  # before the first window (6 hours)
    (result,) = analyzer().run(PLENTY)
    assert (result.service_name, result.patterns["error_count"]) == ("busy", 30)
    assert result.severity == "HIGH"  # 5 of 30 are CRITICAL
    assert [p["template"] for p in result.patterns["patterns"]] == [
        "Timeout after <NUM> calling inventory",
        "db down <NUM>",
    ]
    assert result.recommendations[0].startswith("Timeouts")

    body = api_any_db.get("/api/v1/logs/analysis/busy").body
    assert body["latest"]["id"] == result.id
    assert body["latest"]["severity"] == "HIGH"
    assert body["latest"]["patterns"][0]["count"] == 25
    assert api_any_db.get("/api/v1/logs/analysis/quiet").body == {
        "service_name": "quiet",
        "latest": None,
        "history": [],
    }


def test_the_next_run_looks_only_at_errors_since_the_last(api):
    errors("svc", 20)
    assert len(analyzer().run(PLENTY)) == 1
    assert analyzer(NOW + HOUR).run(PLENTY) == []  # nothing new
    errors("svc", 12, at=NOW + 30 * 60_000)
    (second,) = analyzer(NOW + HOUR).run(PLENTY)
    assert second.patterns["error_count"] == 12
    assert second.patterns["window"]["start"] == NOW + 1


def test_an_error_spike_against_the_baseline_is_an_anomaly(api):
    store = components.analysis_store()
    for i in range(4):
        store.save(
            AnalysisResult(
                id=f"old{i}",
                service_name="svc",
                severity="LOW",
                summary="",
                patterns={"error_rate_per_hour": 2.0},
                analyzed_at=NOW - (4 - i) * 6 * HOUR,
            )
        )
    errors("svc", 120, at=NOW - 3 * HOUR)  # 20 an hour over the 6-hour window
    (result,) = analyzer().run(PLENTY)
    assert result.patterns["anomaly"] is True
    assert result.patterns["change"] == 10.0
    assert result.severity == "CRITICAL"
    assert "baseline" in result.summary


class StubBedrock:
    """Stands in for bedrock-runtime, which moto does not implement: Converse's documented
    response shape, or a failure."""

    def __init__(self, answer=None, error=None):
        self.answer, self.error, self.calls = answer, error, []

    def converse(self, **request):
        self.calls.append(request)
        if self.error:
            raise self.error
        return {"output": {"message": {"role": "assistant", "content": [{"text": self.answer}]}}}


def test_a_valid_model_answer_becomes_the_summary(api):
    errors("svc", 20)
    client = StubBedrock(
        answer='Here you go: {"summary": "Inventory calls time out.", '
        '"recommendations": ["Raise the inventory timeout"]}'
    )
    (result,) = analyzer(summarizer=BedrockModel("model-x", client=client)).run(PLENTY)
    assert result.summary == "Inventory calls time out."
    assert result.patterns["summary_source"] == "model"
    assert result.recommendations[-1] == "Raise the inventory timeout"
    assert result.recommendations[0].startswith("Timeouts")  # the deterministic ones stay
    assert client.calls[0]["modelId"] == "model-x"


@pytest.mark.parametrize(
    "client",
    [
        StubBedrock(answer="I cannot help with that."),
        StubBedrock(answer='{"summary": "", "recommendations": []}'),
        StubBedrock(answer='{"summary": 5}'),
        StubBedrock(error=TimeoutError("read timed out")),
        StubBedrock(error=RuntimeError("ThrottlingException")),
    ],
)
def test_any_model_failure_falls_back_to_the_deterministic_result(api, client):
    errors("svc", 20)
    (result,) = analyzer(summarizer=BedrockModel("m", client=client)).run(PLENTY)
    assert result.patterns["summary_source"] == "deterministic"
    assert result.summary.startswith("20 errors (0 critical)")


def test_an_alert_reaches_the_webhook_once_per_pattern_within_the_cooldown(api, receiver):
    components.config_store().update("svc", {"alert_on_errors": True}, NOW)
    errors("svc", 20, level="CRITICAL")
    analyzer(webhook=receiver.url).run(PLENTY)
    errors("svc", 20, level="CRITICAL", at=NOW + 10 * 60_000)
    (again,) = analyzer(NOW + HOUR, webhook=receiver.url).run(PLENTY)
    assert again.severity == "CRITICAL"
    assert len(receiver.received) == 1
    assert receiver.received[0]["text"].startswith("[CRITICAL] svc: ")
    errors("svc", 20, level="CRITICAL", at=NOW + 7 * HOUR)
    analyzer(NOW + 8 * HOUR, webhook=receiver.url).run(PLENTY)  # after the 6-hour cooldown
    assert len(receiver.received) == 2


def test_no_alert_without_alert_on_errors(api, receiver):
    errors("svc", 20, level="CRITICAL")
    (result,) = analyzer(webhook=receiver.url).run(PLENTY)
    assert result.severity == "CRITICAL"
    assert receiver.received == []


def test_patterns_on_demand_over_a_time_range(api):
    errors("svc", 30, at=NOW - 2 * HOUR)
    errors("svc", 7, at=NOW - 2 * HOUR, message="cache miss for key {i}", level="WARN")
    body = api.get("/api/v1/logs/patterns/svc", start_time=NOW - 3 * HOUR, end_time=NOW).body
    assert (body["entries_analyzed"], body["levels"]) == (30, ["ERROR", "CRITICAL"])
    assert body["patterns"][0]["template"] == "Timeout after <NUM> calling inventory"
    warn = api.get(
        "/api/v1/logs/patterns/svc", start_time=NOW - 3 * HOUR, end_time=NOW, level="WARN", limit=5
    ).body
    assert (warn["entries_analyzed"], warn["truncated"]) == (5, True)
    assert warn["patterns"][0]["template"] == "cache miss for key <NUM>"
    bad = api.get("/api/v1/logs/patterns/svc", start_time=NOW, end_time=NOW - 1)
    assert (bad.status, bad.body["field"]) == (400, "start_time")


def test_the_handler_logs_its_run_as_an_agent_entry(api):
    result = load_handler("analyze").lambda_handler({}, LocalContext("analyze", 900))
    assert result["services_analyzed"] == 0
    (own,) = api.get("/api/v1/logs/recent/logsService-analyze").body["logs"]
    assert (own["source_type"], own["metadata"]["services_analyzed"]) == ("agent", 0)


def test_an_alert_is_published_to_the_sns_topic(api, monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        components.config_store().update("svc", {"alert_on_errors": True}, NOW)
        errors("svc", 20, level="CRITICAL")
        alerter = Alerter(
            components.analysis_store(), topic_arn=topic, clock=lambda: NOW, sns_client=sns
        )
        Analyzer(
            components.log_index(),
            components.analysis_store(),
            components.config_store(),
            alerter,
            clock=lambda: NOW,
        ).run(PLENTY)
        (message,) = sqs.receive_message(QueueUrl=queue).get("Messages", [])
        assert "[CRITICAL] svc: 20 errors (20 critical)" in json.loads(message["Body"])["Message"]


def test_workers_ai_over_rest_with_its_answer_validated(api):
    """Workers AI's REST shape served on 127.0.0.1; a good answer, then a 500."""
    from logsvc.language_models import WorkersAiModel

    answers = [
        (
            200,
            {
                "result": {
                    "response": '{"summary": "DB refuses connections.", "recommendations": []}'
                },
                "success": True,
            },
        ),
        (500, {"success": False, "errors": [{"message": "overloaded"}]}),
    ]
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(
                (
                    self.path,
                    self.headers["Authorization"],
                    json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                )
            )
            status, body = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        model = WorkersAiModel(
            "acct",
            lambda: "cf-token",
            "@cf/meta/llama",
            base_url=f"http://127.0.0.1:{server.server_port}/client/v4",
        )
        errors("svc", 20)
        (first,) = analyzer(summarizer=model).run(PLENTY)
        errors("svc", 20, at=NOW + 60_000)
        (second,) = analyzer(NOW + HOUR, summarizer=model).run(PLENTY)
    finally:
        server.shutdown()
        server.server_close()
    assert first.summary == "DB refuses connections."
    assert second.patterns["summary_source"] == "deterministic"
    path, authorization, body = seen[0]
    assert (path, authorization) == (
        "/client/v4/accounts/acct/ai/run/@cf/meta/llama",
        "Bearer cf-token",
    )
    assert body["messages"][0]["role"] == "user"
