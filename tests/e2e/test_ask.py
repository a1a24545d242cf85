"""Asking in plain words over real HTTP, as the README shows it: the route's answer pasted
into the Loki API gives the same result, and ``logsvc ask`` prints the query, what it
means and what it found (or, when it cannot read the question, what it can)."""

from __future__ import annotations

import json
import time

import requests

from tests.e2e.test_first_hour import logsvc

SERVICE = "ask-e2e-checkout"


def test_an_answer_pasted_into_the_loki_api_gives_the_same_result(server):
    now = int(time.time() * 1000)
    server.ingest(
        [
            {
                "service_name": SERVICE,
                "level": "ERROR",
                "message": f"Payment timeout {i}",
                "timestamp": now - i * 1000,
                "metadata": {"region": "eu-west-1"},
            }
            for i in range(3)
        ]
        + [{"service_name": SERVICE, "level": "INFO", "message": "Order placed"}]
    )
    asked = requests.post(
        f"{server.url}/api/v1/logs/ask",
        json={"question": f"{SERVICE} errors about timeouts in the last hour"},
        headers=server.headers,
        timeout=30,
    )
    assert asked.status_code == 200, asked.text
    answer = asked.json()
    assert answer["logql"] == (
        f'{{service_name="{SERVICE}", level=~"error|critical"}} |~ "(?i)timeout"'
    )
    pasted = requests.get(
        f"{server.url}/loki/api/v1/query_range",
        params={
            "query": answer["logql"],
            "start": f"{answer['start']}000000",
            "end": f"{answer['end']}000000",
        },
        headers=server.headers,
        timeout=30,
    ).json()["data"]
    pasted.pop("stats"), answer["result"].pop("stats")
    assert answer["result"] == pasted
    lines = [line for s in pasted["result"] for _, line in s["values"]]
    assert sorted(lines) == ["Payment timeout 0", "Payment timeout 1", "Payment timeout 2"]


def test_logsvc_ask_prints_the_query_its_meaning_and_what_it_found(server, tmp_path):
    server.ingest([{"service_name": SERVICE, "level": "ERROR", "message": "Card declined"}])
    where = ("--data-dir", str(server.data_dir))
    done = logsvc("ask", f"{SERVICE} errors in the last hour", *where, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first, when, meaning, _, *found = done.stdout.splitlines()
    assert first == f'LogQL: {{service_name="{SERVICE}", level=~"error|critical"}}'
    assert "(words)" in when and meaning.startswith(
        f"The newest error or critical entries of {SERVICE}"
    )
    assert any(line.endswith("ERROR    Card declined") for line in found)
    # --json: the route's answer as it is
    as_json = logsvc("ask", "--json", f"how many {SERVICE} errors", *where, cwd=tmp_path)
    assert json.loads(as_json.stdout)["kind"] == "metric"
    counted = logsvc("ask", f"how many {SERVICE} errors by level", *where, cwd=tmp_path)
    assert "level=error:" in counted.stdout and " in " in counted.stdout
    # A question the rules cannot read: what they can, on stderr, and exit status 2.
    refused = logsvc("ask", f"why is {SERVICE} slow", *where, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "not understood" in refused.stderr and "try: " in refused.stderr
