"""`make bench` keeps working: a tiny run, and the cost counters it reports (not timings)."""

import json
import subprocess
import sys

from logsvc_local.project import ROOT


def test_bench_runs_and_reports_the_cost_counters(tmp_path):
    output = tmp_path / "bench.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--logs",
            "2000",
            "--http-logs",
            "2000",
            "--queries",
            "3",
            "--import-samples",
            "1",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    results = json.loads(output.read_text())
    assert set(results) >= {
        "ingest",
        "reference",
        "search",
        "storage",
        "cost",
        "http",
        "imports",
        "machine",
    }
    assert results["cost"]["d1_rows_written_per_log"] <= 0.02
    assert results["cost"]["d1_requests_per_request"] == 1
    assert results["cost"]["archive_puts_per_1000_logs"] == 1
    assert (
        results["storage"]["index_bytes_per_log"]
        < (results["storage"]["reference_index_bytes_per_log"])
    )


def test_the_archive_bench_runs_and_finds_the_same_before_and_after_compaction(tmp_path):
    subprocess.run(
        [
            *(sys.executable, "-m", "bench.archive"),
            *("--logs", "60000", "--samples", "2", "--save", str(tmp_path)),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    results = json.loads((tmp_path / "archive-1000.json").read_text())
    assert results["compaction"]["service_days"] == 600
    for name, before in results["gzip NDJSON"].items():
        assert results["Parquet"][name]["entries_per_search"] == before["entries_per_search"]
    assert results["Parquet"]["newest 50, 7 days"]["entries_per_search"] == 51
    assert (tmp_path / "archive-1000.md").read_text().startswith("Archive search, 60,000 logs")
