"""What one request and one writer flush cost in billable units, measured by running them.

The handlers run in this process as Lambda runs them: the ingest function with the
Kinesis buffer (moto), the writer function on the records it put, D1 itself (workerd,
through the bridge Worker: D1's own ``rows_written``, its billing unit) and the archive on
S3 (moto). Counted: every AWS call by operation (botocore's events), Kinesis record
bytes, S3 object bytes, D1 requests, request bytes and rows written, the bytes each
function writes to its log (its stdout and stderr, as Lambda ships them to CloudWatch),
and CPU time outside the AWS and D1 calls. The deployment's own facts (memory, access-log
format, WAF rules, alarms, sampling) are read from the synthesized templates.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.corpus import Corpus
from logsvc.sql.d1_bridge import GZIP_LEVEL, GZIP_MIN_BYTES
from tests.support.kinesis import records_event

API_KEY = "bill-bench-key-0123456789abcdef"
BUCKET = "bill-archive"
STREAM = "ingest"
SERVICES = [f"service-{n:02d}" for n in range(50)]
KINESIS_UNIT_BYTES = 25 * 1024  # a PUT payload unit
START_MS = 1_796_000_000_000  # 2026-11-30: a fixed day, so every run is the same


class Counters:
    """Billable units seen while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.calls: Counter[str] = Counter()
        self.kinesis_records = self.kinesis_units = self.kinesis_bytes = 0
        self.s3_put_bytes = 0
        self.d1_requests = self.d1_bytes = self.d1_rows_written = self.d1_rows_read = 0
        self.d1_bridge_bytes = 0  # the same requests as the bridge client sends them
        self.aws_cpu = 0.0  # CPU seconds spent inside AWS calls (moto runs in this process)
        self._started: list[float] = []

    def before_call(self, **_: Any) -> None:
        self._started.append(time.process_time())

    def parameters(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        """A call's parameters as the caller gave them (before serialisation)."""
        if not self.on:
            return
        service = model.service_model.service_name
        self.calls[f"{service}:{model.name}"] += 1
        if model.name == "PutRecord":
            self._record(params["Data"])
        elif model.name == "PutRecords":
            for record in params["Records"]:
                self._record(record["Data"])
        elif model.name == "PutObject":
            body = params.get("Body", b"")  # botocore has made bytes a BytesIO by now
            self.s3_put_bytes += (
                body.getbuffer().nbytes if hasattr(body, "getbuffer") else len(body)
            )

    def after_call(self, **_: Any) -> None:
        if self._started:
            self.aws_cpu += time.process_time() - self._started.pop()

    def _record(self, data: bytes | str) -> None:
        size = len(data.encode() if isinstance(data, str) else data)
        self.kinesis_records += 1
        self.kinesis_bytes += size
        self.kinesis_units += -(-size // KINESIS_UNIT_BYTES)

    def d1_answer(self, body: dict[str, Any], results: list[dict[str, Any]]) -> None:
        if not self.on:
            return
        self.d1_requests += 1
        data = json.dumps(body).encode()
        self.d1_bytes += len(data)  # as the REST API gets it
        compressed = len(data) >= GZIP_MIN_BYTES
        self.d1_bridge_bytes += len(gzip.compress(data, GZIP_LEVEL) if compressed else data)
        for item in results:
            meta = item.get("meta") or {}
            self.d1_rows_written += int(meta.get("rows_written") or 0)
            self.d1_rows_read += int(meta.get("rows_read") or 0)

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "kinesis_records": self.kinesis_records,
            "kinesis_units": self.kinesis_units,
            "kinesis_bytes": self.kinesis_bytes,
            "s3_put_bytes": self.s3_put_bytes,
            "d1_requests": self.d1_requests,
            "d1_bytes": self.d1_bytes,
            "d1_bridge_bytes": self.d1_bridge_bytes,
            "d1_rows_written": self.d1_rows_written,
            "d1_rows_read": self.d1_rows_read,
        }


@contextmanager
def own_log(into: list[bytes]) -> Iterator[None]:
    """What is written to file descriptors 1 and 2 meanwhile (Lambda ships both)."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = [os.dup(1), os.dup(2)]
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            captured.seek(0)
            into.append(captured.read())


def deployment_facts(templates: dict[str, dict]) -> dict[str, Any]:
    """What the bill needs from the templates as synthesized."""

    def resources(kind: str) -> list[dict[str, Any]]:
        return [
            r.get("Properties", {})
            for template in templates.values()
            for r in template["Resources"].values()
            if r["Type"] == kind
        ]

    memory = {}
    for name, template in templates.items():
        for r in template["Resources"].values():
            if r["Type"] == "AWS::Lambda::Function" and name.startswith("Logsvc-"):
                function = name.removeprefix("Logsvc-").lower()
                memory[function] = r["Properties"].get("MemorySize", 128)
    (stage,) = [s for s in resources("AWS::ApiGateway::Stage") if "AccessLogSetting" in s]
    (acl,) = resources("AWS::WAFv2::WebACL")
    # A deployment without the buffer (buffered_ingest=false) has no stream: one shard.
    (stream,) = resources("AWS::Kinesis::Stream") or [{"ShardCount": 0}]
    (source,) = [
        s
        for s in resources("AWS::Lambda::EventSourceMapping")
        if "MaximumBatchingWindowInSeconds" in s
    ] or [{"MaximumBatchingWindowInSeconds": 0}]
    # Custom metrics: what the deployed functions publish themselves (EMF), and the
    # metric filters' (an alarm watches one of these; it creates none).
    filtered = [
        [t["MetricName"], "metric filter"]
        for f in resources("AWS::Logs::MetricFilter")
        for t in f["MetricTransformations"]
    ]
    return {
        "memory_mb": memory,
        "access_log_format": stage["AccessLogSetting"]["Format"],
        "waf_rules": len(acl["Rules"]),
        "alarms": len(resources("AWS::CloudWatch::Alarm")),
        "dashboards": len(resources("AWS::CloudWatch::Dashboard")),
        "kms_keys": len(resources("AWS::KMS::Key")),
        "secrets": len(resources("AWS::SecretsManager::Secret")),
        # The API's sampling rules, first to match first.
        "xray_rules": sorted(
            (
                {
                    "priority": r["SamplingRule"]["Priority"],
                    "url_path": r["SamplingRule"]["URLPath"],
                    "reservoir_per_second": r["SamplingRule"]["ReservoirSize"],
                    "fixed_rate": r["SamplingRule"]["FixedRate"],
                }
                for r in resources("AWS::XRay::SamplingRule")
            ),
            key=lambda rule: rule["priority"],
        ),
        "kinesis_shards": stream.get("ShardCount", 1),
        "kinesis_retention_hours": stream.get("RetentionPeriodHours", 24),
        "batching_window_s": source["MaximumBatchingWindowInSeconds"],
        "log_retention_days": min(
            g["RetentionInDays"] for g in resources("AWS::Logs::LogGroup") if "RetentionInDays" in g
        ),
        "custom_metrics": sorted(
            [name, function] for name, function in emf_metric_names() if function in memory
        )
        + filtered,
        "archive_tiering": any(
            rule.get("Prefix") == "compacted/"
            and any(t["StorageClass"] == "INTELLIGENT_TIERING" for t in rule.get("Transitions", []))
            for bucket in resources("AWS::S3::Bucket")
            for rule in bucket.get("LifecycleConfiguration", {}).get("Rules", [])
        ),
    }


def emf_metric_names() -> list[tuple[str, str]]:
    """(metric, function) of every metric the functions publish themselves."""
    root = Path(__file__).resolve().parents[1] / "functions"
    found = []
    for handler in sorted(root.glob("*/handler.py")):
        for name in re.findall(r'add_metric\(\s*name="(\w+)"', handler.read_text()):
            found.append((name, handler.parent.name))
    return found


def published_metrics(log: list[bytes]) -> list[str]:
    """The names of the metrics a function's log lines published (CloudWatch's embedded
    metric format: a JSON line with an ``_aws`` member)."""
    names = set()
    for chunk in log:
        for line in chunk.splitlines():
            if b'"_aws"' not in line:
                continue
            try:
                document = json.loads(line)
            except ValueError:
                continue
            for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
                names.update(metric["Name"] for metric in directive.get("Metrics", []))
    return sorted(names)


def access_log_line(format_: str, response_bytes: int) -> int:
    """The bytes of one access-log line in the stage's format, with typical values."""
    values = {
        "$context.requestId": "5f0c6a7e-2b1d-4e8f-9a3c-1d2e3f4a5b6c",
        "$context.identity.sourceIp": "203.0.113.117",
        "$context.requestTime": "07/Dec/2026:03:04:05 +0000",
        "$context.httpMethod": "POST",
        "$context.resourcePath": "/api/v1/logs/ingest",
        "$context.status": "201",
        "$context.protocol": "HTTP/1.1",
        "$context.responseLength": str(response_bytes),
        "$context.responseLatency": "23",
    }
    line = format_
    for name in sorted(values, key=len, reverse=True):
        line = line.replace(name, values[name])
    assert "$context" not in line, f"a field the bill does not know: {line}"
    return len(line.encode()) + 1


def measure(profiles: dict[str, dict[str, Any]], d1_database_url: str, secret: str) -> dict:
    """Each profile's figures per request and per flush. The D1 database behind the bridge
    must be migrated and empty; moto must be active."""
    import boto3

    from logsvc import components
    from logsvc.sql import d1_http
    from logsvc_local.project import load_handler
    from tests.support.api import Api

    counters = Counters()
    original_post = d1_http.D1HttpDatabase._post

    def counted_post(self, body):
        results = original_post(self, body)
        counters.d1_answer(body, results)
        return results

    d1_http.D1HttpDatabase._post = counted_post
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    session.events.register("before-parameter-build", counters.parameters)
    session.events.register("before-call", counters.before_call)
    session.events.register("after-call", counters.after_call)
    environment = {
        "DATABASE_URL": d1_database_url,
        "D1_BRIDGE_SECRET": secret,
        "ARCHIVE_URL": f"s3://{BUCKET}",
        "INGEST_BUFFER": f"kinesis://{STREAM}",
        "LOG_SERVICE_API_KEY": API_KEY,
        "COORDINATION_TABLE": "coordination",
        "POWERTOOLS_SERVICE_NAME": "logsService",
        "POWERTOOLS_METRICS_NAMESPACE": "logsService",
    }
    os.environ.update(environment)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("dynamodb").create_table(
        TableName="coordination",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    shard = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]["Shards"][0]
    iterator = kinesis.get_shard_iterator(
        StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    components.reset()
    api = Api(API_KEY)
    writer = load_handler("writer")
    results = {}
    try:
        for name, profile in profiles.items():
            # Buffered (the default), or written by the ingest function itself.
            buffered = profile.get("buffered", True)
            os.environ["INGEST_BUFFER"] = f"kinesis://{STREAM}" if buffered else "off"
            components.reset()
            iterator, results[name] = _run_profile(
                profile, api, writer, kinesis, shard["ShardId"], iterator, counters
            )
    finally:
        d1_http.D1HttpDatabase._post = original_post
        session.events.unregister("before-parameter-build", counters.parameters)
        session.events.unregister("before-call", counters.before_call)
        session.events.unregister("after-call", counters.after_call)
    return results


def _run_profile(profile, api, writer, kinesis, shard_id, iterator, counters):
    """Warm-up flushes, then measured ones: (the next shard iterator, the figures)."""
    from logsvc_local.events import LocalContext

    corpus = Corpus(seed=7)
    rng = random.Random(11)
    per_flush = profile["requests_per_flush"]
    size = profile["entries_per_request"]
    timestamp = START_MS
    totals = {"ingest": _Totals(), "writer": _Totals()}
    ingest_log: list[bytes] = []
    writer_log: list[bytes] = []
    response_bytes = []
    for flush in range(profile["warm_flushes"] + profile["flushes"]):
        measured = flush >= profile["warm_flushes"]
        counters.on = measured
        before, cpu, aws_cpu = counters.snapshot(), time.process_time(), counters.aws_cpu
        for _ in range(per_flush):
            batch = corpus.batch(rng.choice(SERVICES), size, timestamp, spacing_ms=1)
            timestamp += max(1, 4000 // per_flush)
            sink = ingest_log if measured else []
            with own_log(sink):
                if size == 1:
                    answer = api.post("/api/v1/logs/ingest", batch[0])
                else:
                    answer = api.post("/api/v1/logs/ingest/batch", {"logs": batch})
            assert answer.status in (200, 201), (answer.body, sink[-1:])
            response_bytes.append(len(json.dumps(answer.body, separators=(",", ":"))))
        ingest_cpu = (time.process_time() - cpu) - (counters.aws_cpu - aws_cpu)
        middle = counters.snapshot()
        counters.on = False
        if not profile.get("buffered", True):
            if measured:
                totals["ingest"].add(before, middle, ingest_cpu)
            continue
        records = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        iterator = records["NextShardIterator"]
        assert len(records["Records"]) == per_flush
        event = records_event(shard_id, records["Records"])
        counters.on = measured
        cpu, aws_cpu = time.process_time(), counters.aws_cpu
        with own_log(writer_log if measured else []):
            stored = writer.lambda_handler(event, LocalContext("writer"))
        writer_cpu = (time.process_time() - cpu) - (counters.aws_cpu - aws_cpu)
        assert stored["stored"] == per_flush * size, stored
        after = counters.snapshot()
        counters.on = False
        if measured:
            totals["ingest"].add(before, middle, ingest_cpu)
            totals["writer"].add(middle, after, writer_cpu)
    requests = profile["flushes"] * per_flush
    return iterator, {
        "profile": profile,
        "per_request": totals["ingest"].per(requests)
        | {
            "own_log_bytes": round(sum(map(len, ingest_log)) / requests, 1),
            "metrics": published_metrics(ingest_log),
            "response_bytes": round(sum(response_bytes) / len(response_bytes), 1),
        },
        "per_flush": totals["writer"].per(profile["flushes"])
        | {
            "own_log_bytes": round(sum(map(len, writer_log)) / profile["flushes"], 1),
            "metrics": published_metrics(writer_log),
            "entries": per_flush * size if profile.get("buffered", True) else 0,
        },
    }


class _Totals:
    """Counts summed over the measured flushes (one function's share of them)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.units: Counter[str] = Counter()

    def add(self, before: dict[str, Any], after: dict[str, Any], cpu_s: float) -> None:
        for key, value in after.items():
            if key == "calls":
                for call, n in value.items():
                    self.calls[call] += n - before["calls"].get(call, 0)
            else:
                self.units[key] += value - before[key]
        self.units["cpu_ms"] += cpu_s * 1000

    def per(self, count: int) -> dict[str, Any]:
        return {k: round(v / count, 3) for k, v in sorted(self.units.items())} | {
            "calls": {k: round(v / count, 3) for k, v in sorted(self.calls.items()) if v}
        }
