"""LogQL conformance through the HTTP API of a real server: every query of the project's
corpus (tests/support/logql_cases.py, one group per construct of Loki's grammar) is sent
to /loki/api/v1/query_range over seeded logs, and answered as Loki answers it: a streams or
matrix answer for what Loki accepts, a 400 naming the problem for what it refuses.

The figures the docs quote (docs/LOKI.md) come from this run: see the summary test."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest
import requests

from tests.support.logql_cases import CASES, LOG, METRIC, UNSUPPORTED

pytestmark = pytest.mark.e2e

CONSTRUCTS = {
    "selector",
    "line filter",
    "parser",
    "label filter",
    "format",
    "range aggregation",
    "unwrap",
    "vector aggregation",
    "binary",
    "label_replace",
    "vector",
    "variants",
}


def _seed(server) -> str:
    """A service of its own with JSON, logfmt, plain, coloured and packed lines, metadata
    (structured metadata) and, through Loki push, the labels an agent sends."""
    service = f"conf-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    lines = [
        (
            "ERROR",
            json.dumps(
                {
                    "status": 503,
                    "latency": "1.5s",
                    "size": "2KB",
                    "path": "/api/orders",
                    "user": {"id": "u1"},
                    "items": ["a", "b"],
                    "ip": "10.0.0.7",
                }
            ),
        ),
        (
            "INFO",
            json.dumps({"status": 200, "latency": "120ms", "path": "/health", "ip": "192.168.1.4"}),
        ),
        ("WARN", 'level=warn status=404 latency=250ms path=/api/cart method=GET msg="not found"'),
        ("INFO", "level=info status=200 latency=80ms path=/api/cart method=POST msg=ok"),
        ("ERROR", "GET /api/orders 500 1.2s from 10.0.0.3"),
        ("ERROR", "\x1b[31mERROR\x1b[0m disk full on /var"),
        ("INFO", json.dumps({"_entry": "packed line", "pod": "p-1"})),
    ]
    logs = [
        {
            "service_name": service,
            "level": level,
            "message": message,
            "timestamp": now - 60_000 * (i + 1),
            "metadata": {"region": "eu", "trace_id": f"t{i}", "status": 500 + i},
        }
        for i, (level, message) in enumerate(lines)
    ]
    server.ingest(logs)
    push = {
        "streams": [
            {
                "stream": {"service_name": service, "job": "api", "env": "prod", "level": "error"},
                "values": [
                    [str((now - 30_000) * 1_000_000), "level=error status=502 msg=upstream"]
                ],
            }
        ]
    }
    response = requests.post(
        f"{server.url}/loki/api/v1/push", json=push, headers=server.headers, timeout=30
    )
    assert response.status_code == 204, response.text
    return f'service_name="{service}"'


@pytest.fixture(scope="module")
def answers(server) -> dict[str, tuple[int, dict]]:
    """Each corpus query's answer (status, body), asked once."""
    selector = _seed(server)
    end = int(time.time() * 1000) + 60_000
    found = {}
    with requests.Session() as session:
        for _, query, _ in CASES:
            response = session.get(
                f"{server.url}/loki/api/v1/query_range",
                params={
                    "query": query.replace("SEL", selector),
                    "start": str((end - 3_600_000) * 1_000_000),
                    "end": str(end * 1_000_000),
                    "step": "60",
                    "limit": "100",
                },
                headers=server.headers,
                timeout=30,
            )
            found[query] = (response.status_code, response.json())
    return found


def _pipeline_error(status: int, body: dict) -> bool:
    """Loki refuses a metric whose series carry __error__ (a line `| json` could not read):
    its answer for such data, not a refusal of the query."""
    return status == 400 and "pipeline error" in body.get("message", "")


@pytest.mark.parametrize(
    ("construct", "query", "expected"), CASES, ids=[f"{c}:{q[:60]}" for c, q, _ in CASES]
)
def test_each_query_is_answered_as_loki_answers_it(answers, construct, query, expected):
    status, body = answers[query]
    assert status < 500, body
    if expected == LOG:
        assert status == 200, body
        assert body["data"]["resultType"] == "streams"
    elif expected == METRIC:
        if _pipeline_error(status, body):
            return
        assert status == 200, body
        assert body["data"]["resultType"] == "matrix"
    else:
        wanted = expected.removeprefix("refused: ")
        assert status == 400, body
        assert wanted in body["message"], body


def test_the_corpus_covers_every_construct_and_clears_the_bar(answers, capsys):
    kinds = Counter()
    for construct, query, expected in CASES:
        status, body = answers[query]
        valid = expected in (LOG, METRIC) or query in UNSUPPORTED
        answered = status == 200 or _pipeline_error(status, body)
        kinds[(construct, "valid" if valid else "invalid", answered)] += 1
    assert len(CASES) >= 300
    for construct in CONSTRUCTS:
        assert kinds[(construct, "valid", True)] > 0, construct
    assert all(kinds[(c, "invalid", False)] > 0 for c in CONSTRUCTS - {"variants"})
    valid = sum(n for (_, kind, _), n in kinds.items() if kind == "valid")
    answered = sum(n for (_, kind, ok), n in kinds.items() if kind == "valid" and ok)
    refused = sum(n for (_, kind, ok), n in kinds.items() if kind == "invalid" and not ok)
    invalid = sum(n for (_, kind, _), n in kinds.items() if kind == "invalid")
    assert answered / valid >= 0.9
    assert refused == invalid
    # Queries over data answer with data, not only with the right shape.
    with_data = [
        q
        for _, q, e in CASES
        if e == METRIC and answers[q][0] == 200 and answers[q][1]["data"]["result"]
    ]
    assert len(with_data) >= 0.6 * sum(1 for _, _, e in CASES if e == METRIC)
    with capsys.disabled():
        print(
            f"\nLogQL conformance: {len(CASES)} queries; valid {answered}/{valid} answered "
            f"({answered / valid:.1%}); invalid {refused}/{invalid} refused with a 400; "
            f"{len(with_data)} metric queries returned data"
        )
