"""The monthly bill (bench/bill.py): docs/COST.md's tables are its output for the recorded
figures, a fresh measurement agrees with those figures where they do not depend on the
machine, and the recorded bills meet issue 29's targets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.bill import SAVED, SCENARIOS, bill, metric_months, through_bridge, total
from logsvc_local.project import ROOT


def recorded() -> dict:
    return json.loads(SAVED.read_text())


def test_cost_md_shows_the_bill_of_the_recorded_figures():
    done = subprocess.run(
        [sys.executable, "-m", "bench.bill", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_recorded_months_are_within_the_targets():
    """Issue 29's targets: B, single-entry requests, at most $1,500 through the REST API and
    WAF as the CDK app deploys it (D1 through its REST API); A, 1000-entry requests, at most
    $35 as batching clients would deploy it: without the stream, D1 through the bridge
    Worker (docs/COST.md)."""
    saved = recorded()
    b = bill(SCENARIOS["B"], saved)
    assert total(b) <= 1500
    assert through_bridge(SCENARIOS["A-direct"], saved) <= 35
    lines = dict((name, dollars) for name, dollars, _ in b)
    assert lines["S3 archive"] < 10  # one object a flush, not one per service
    assert lines["CloudWatch Logs"] < 35  # at most 300 bytes of own logs a request
    assert lines["X-Ray"] < 10  # 0.1% of ingest requests


def test_custom_metrics_are_billed_for_the_hours_they_are_published():
    """CloudWatch bills a custom metric by the hour, for the hours it gets data: the writer's
    two every hour, cleanup's once a day, asking's and refusals' not at all here."""
    saved = recorded()
    assert saved["scenarios"]["B"]["per_flush"]["metrics"] == ["IndexFillPercent", "LogsStored"]
    assert saved["scenarios"]["A-direct"]["per_request"]["metrics"] == ["LogsStored"]
    assert metric_months(saved["deployment"]["custom_metrics"], saved["scenarios"]["B"]) == (
        pytest.approx(2 + 1 / 24)
    )
    assert metric_months(saved["deployment"]["custom_metrics"], None) == pytest.approx(1 / 24)


def test_a_fresh_measurement_counts_what_the_recorded_one_did(tmp_path):
    """At 1/20 of the flushes' size (a minute's work, D1 in workerd): what does not depend
    on the machine or the scale is the same as recorded."""
    output = tmp_path / "bill.json"
    subprocess.run(
        [sys.executable, "-m", "bench.bill", "--measure", "--scale", "0.05", "--saved", output],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    fresh, saved = json.loads(output.read_text()), recorded()
    assert fresh["deployment"] == saved["deployment"]  # the templates as they are now
    assert fresh["deployment_direct"] == saved["deployment_direct"]
    for name in ("A", "B", "A-direct"):
        now, then = fresh["scenarios"][name], saved["scenarios"][name]
        for figure in ("kinesis_units", "own_log_bytes", "d1_requests"):
            assert now["per_request"][figure] == then["per_request"][figure], (name, figure)
        assert now["per_request"]["calls"] == then["per_request"]["calls"], name
        for per in ("per_request", "per_flush"):
            assert now[per]["metrics"] == then[per]["metrics"], (name, per)
    # A buffered single-entry request writes no log line; a flush is one D1 request and one
    # archive object whatever the number of services in it.
    b = fresh["scenarios"]["B"]
    assert b["per_request"]["own_log_bytes"] == 0
    assert b["per_flush"]["d1_requests"] == 1
    assert b["per_flush"]["calls"]["s3:PutObject"] == 1
