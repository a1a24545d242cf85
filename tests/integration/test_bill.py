"""The monthly bill (bench/bill.py): docs/COST.md's tables are its output for the recorded
figures, a fresh measurement agrees with those figures where they do not depend on the
machine, and the recorded bill for single-entry traffic meets issue 29's target through
the bridge Worker."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.bill import SAVED, SCENARIOS, bill, through_bridge
from logsvc_local.project import ROOT


def recorded() -> dict:
    return json.loads(SAVED.read_text())


def test_cost_md_shows_the_bill_of_the_recorded_figures():
    done = subprocess.run(
        [sys.executable, "-m", "bench.bill", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_recorded_single_entry_month_is_within_the_target_through_the_bridge():
    """Issue 29's target for B, single-entry requests through the REST API and WAF: met with
    D1 reached through the bridge Worker; through D1's REST API the recorded month is over
    it (docs/COST.md says by how much and why; the issue is open)."""
    saved = recorded()
    b = bill(SCENARIOS["B"], saved)
    assert through_bridge(SCENARIOS["B"], saved) <= 1500
    lines = dict((name, dollars) for name, dollars, _ in b)
    assert lines["S3 archive"] < 10  # one object a flush, not one per service
    assert lines["CloudWatch Logs"] < 35  # at most 300 bytes of own logs a request


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
    # A buffered single-entry request writes no log line; a flush is one D1 request and one
    # archive object whatever the number of services in it.
    b = fresh["scenarios"]["B"]
    assert b["per_request"]["own_log_bytes"] == 0
    assert b["per_flush"]["d1_requests"] == 1
    assert b["per_flush"]["calls"]["s3:PutObject"] == 1
