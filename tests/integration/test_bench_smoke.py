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


def test_the_capacity_run_stays_under_budget_past_the_cap(tmp_path):
    """bench/capacity.py at a tiny scale: three times what one 1 MB database holds."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.capacity",
            "--batched-logs",
            "2000",
            "--single-hours",
            "0.05",
            "--days",
            "3",
            "--logs-per-day",
            "5000",
            "--databases",
            "1",
            "--cap-mb",
            "1",
            "--samples",
            "20",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = json.loads(done.stdout.split("capacity results: ", 1)[1])
    sizes = results["bytes_per_log"]
    assert sizes["single_entry_50_services_appended"] < sizes["single_entry_50_services"]
    run = results["capacity_run"]
    assert run["requests_failed"] == 0 and run["writes_refused_for_size"] == 0
    assert not run["over_budget"] and run["hot_window_hours"]  # it had to shrink
    assert run["found"] == run["sampled"]


def test_the_content_index_bench_runs_on_d1():
    results = json.loads(bench("content_index", "--flushes", "2"))
    words = results["variants"]["words, contentless"]
    assert words["rows_written_per_block"] >= 1 and words["bytes_per_log"] > 0


def test_the_ask_bench_reads_the_evaluation_set_and_prices_a_model():
    results = json.loads(bench("ask", "--services", "5"))
    assert results["rules"]["read_by_the_rules"] == results["rules"]["questions"] >= 60
    assert results["prompt"]["input_tokens_estimated"] > 400
    assert all(cost["total"] > 0 for cost in results["dollars_per_1000_questions"].values())


def test_the_fair_bench_finds_every_engine_answering_alike():
    """bench.fair on a small corpus: every shape answered by this service (over HTTP and in
    process) and, when the bench extra is installed, by the references, with the same
    answers sample by sample."""
    output = bench("fair", "--logs", "6000", "--samples", "3", "--rounds", "1")
    results, _ = json.JSONDecoder().raw_decode(output)  # then the table
    assert results["store"]["logs"] == 6000
    assert len(results["shapes"]) == 9
    for shape, engines in results["shapes"].items():
        assert {"logsvc (HTTP)", "logsvc (in process)", "sqlite_rows"} <= set(engines), shape
        assert all(e["answers_differ"] == 0 for e in engines.values()), (shape, engines)


def bench(module: str, *arguments: str) -> str:
    """What ``python -m bench.<module> ...`` prints (it must succeed)."""
    return subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *arguments],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
