"""The Loki-compatible API against a real server: a real Loki client pushing through
`logging`, a Promtail-shaped protobuf push, the requests Grafana's Loki data source sends
(with its parameters as it writes them), and Loki's tail over WebSocket."""

import base64
import json
import logging
import time
import uuid

import cramjam
import logging_loki
import pytest
import requests
from websockets.sync.client import connect

from logsvc.sources.loki_push import push_request_class

pytestmark = pytest.mark.e2e


def basic(server) -> dict[str, str]:
    """Grafana and Alloy send the key as the basic-auth password."""
    token = base64.b64encode(f"grafana:{server.api_key}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Scope-OrgID": "tenant-1"}


def loki(server, path: str, **params) -> requests.Response:
    return requests.get(
        f"{server.url}/loki/api/v1/{path}", params=params, headers=basic(server), timeout=30
    )


def wait_for(server, query: str, count: int) -> list:
    """The streams of a query once it finds ``count`` lines (the writer may flush later)."""
    deadline = time.monotonic() + 15
    while True:
        body = loki(server, "query_range", query=query, limit=1000).json()
        streams = body["data"]["result"]
        if sum(len(s["values"]) for s in streams) >= count or time.monotonic() > deadline:
            return streams
        time.sleep(0.2)


def test_python_logging_loki_pushes_through_the_logging_module(server):
    service = f"pyloki-{uuid.uuid4().hex[:6]}"
    handler = logging_loki.LokiHandler(
        url=f"{server.url}/loki/api/v1/push",
        tags={"application": "shop", "service": service},
        auth=("user", server.api_key),
        version="1",
    )
    logger = logging.getLogger(service)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.error("payment failed", extra={"tags": {"order": "o-17"}})
    logger.warning("stock low")
    streams = wait_for(server, f'{{service_name="{service}"}}', 2)
    found = {(s["stream"]["level"], v[1]) for s in streams for v in s["values"]}
    assert found == {("error", "payment failed"), ("warn", "stock low")}
    # Other tags are stream labels, as in Loki.
    tagged = wait_for(server, f'{{service_name="{service}", order="o-17"}}', 1)
    assert [v[1] for s in tagged for v in s["values"]] == ["payment failed"]


def test_a_promtail_protobuf_push_compressed_with_snappy(server):
    """What Promtail and Alloy send: snappy protobuf, job/env/host labels, structured
    metadata, nanosecond times (here one nanosecond apart), and a line that is not UTF-8."""
    service = f"agent-{uuid.uuid4().hex[:6]}"
    request = push_request_class()()
    stream = request.streams.add()
    # push.proto's strings, as bytes on the wire (the reading class takes them as bytes).
    stream.labels = f'{{job="{service}", env="prod", host="h1", level="error"}}'.encode()
    now_ns = time.time_ns()
    for i, line in enumerate([b"disk 0 full", b"disk 1 full", b"disk 2 full", b"bad \xff full"]):
        entry = stream.entries.add()
        entry.timestamp.seconds, entry.timestamp.nanos = divmod(now_ns + i, 1_000_000_000)
        entry.line = line
        pair = entry.structuredMetadata.add()
        pair.name, pair.value = b"trace_id", f"t{i}".encode()
    response = requests.post(
        f"{server.url}/loki/api/v1/push",
        data=bytes(cramjam.snappy.compress_raw(request.SerializeToString())),
        headers={**basic(server), "Content-Type": "application/x-protobuf"},
        timeout=30,
    )
    assert response.status_code == 204, response.text
    selector = f'{{job="{service}", env="prod", host="h1"}}'
    streams = wait_for(server, f'{selector} |= "full"', 4)
    values = [v for s in streams for v in s["values"]]
    # every nanosecond kept, newest first; the bad byte repaired, not the push lost
    assert values == [
        [str(now_ns + 3), "bad \ufffd full"],
        [str(now_ns + 2), "disk 2 full"],
        [str(now_ns + 1), "disk 1 full"],
        [str(now_ns), "disk 0 full"],
    ]
    assert {k: streams[0]["stream"][k] for k in ("job", "env", "host", "service_name")} == {
        "job": service,
        "env": "prod",
        "host": "h1",
        "service_name": service,
    }
    # structured metadata filters without a parser, and comes apart when categorised
    traced = loki(server, "query_range", query=f'{selector} | trace_id="t1"').json()
    assert [v[1] for s in traced["data"]["result"] for v in s["values"]] == ["disk 1 full"]
    categorised = requests.get(
        f"{server.url}/loki/api/v1/query_range",
        params={"query": selector, "limit": "1"},
        headers={**basic(server), "X-Loki-Response-Encoding-Flags": "categorize-labels"},
        timeout=30,
    ).json()["data"]["result"][0]
    assert "trace_id" not in categorised["stream"]
    assert categorised["values"][0][2] == {"structuredMetadata": {"trace_id": "t3"}}
    # [start, end) to the nanosecond
    window = loki(
        server, "query_range", query=selector, start=str(now_ns + 1), end=str(now_ns + 3)
    ).json()
    assert [v[0] for s in window["data"]["result"] for v in s["values"]] == [
        str(now_ns + 2),
        str(now_ns + 1),
    ]


def test_the_requests_grafana_sends(server):
    service = f"grafana-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    logs = [
        {
            "service_name": service,
            "level": ["ERROR", "INFO"][i % 2],
            "message": f"GET /orders/{i} took {i * 10}ms",
            "timestamp": now - i * 1000,
            "metadata": {"http": {"status": 500 + i % 2}},
        }
        for i in range(10)
    ]
    server.ingest(logs)
    selector = f'{{service_name="{service}"}}'
    wait_for(server, selector, 10)
    start, end = str((now - 3_600_000) * 1_000_000), str((now + 1000) * 1_000_000)

    # The data source's health check.
    health = loki(server, "query", query="vector(1)+vector(1)", time=end)
    assert health.status_code == 200
    result = health.json()["data"]
    assert result["resultType"] == "vector"
    (sample,) = result["result"]
    assert sample["metric"] == {} and sample["value"][1] == "2"

    # Explore: the logs query and its volume histogram, with Grafana's parameters.
    logs_query = loki(
        server,
        "query_range",
        query=selector,
        limit="1000",
        start=start,
        end=end,
        step="14400ms",
        direction="backward",
        supportingQueryType="",
    ).json()
    assert logs_query["status"] == "success"
    assert logs_query["data"]["resultType"] == "streams"
    values = [v for s in logs_query["data"]["result"] for v in s["values"]]
    assert len(values) == 10
    assert all(isinstance(ts, str) and ts.isdigit() and len(ts) == 19 for ts, _ in values)
    assert {s["stream"]["detected_level"] for s in logs_query["data"]["result"]} == {
        "error",
        "info",
    }
    # Grafana asks for labels by category: metadata arrives as structured metadata.
    categorized = requests.get(
        f"{server.url}/loki/api/v1/query_range",
        params={"query": selector, "limit": "1", "start": start, "end": end},
        headers={**basic(server), "X-Loki-Response-Encoding-Flags": "categorize-labels"},
        timeout=30,
    ).json()["data"]
    assert categorized["encodingFlags"] == ["categorize-labels"]
    ((stream),) = categorized["result"]
    assert set(stream["stream"]) == {"service_name", "level", "detected_level", "source_type"}
    ((_, _, categories),) = stream["values"]
    assert categories == {"structuredMetadata": {"http_status": "500"}}
    volume = loki(
        server,
        "query_range",
        query=f"sum by (level, detected_level) (count_over_time({selector} | drop __error__ [1m]))",
        start=start,
        end=end,
        step="60000ms",
    ).json()["data"]
    assert volume["resultType"] == "matrix"
    totals = {s["metric"]["level"]: sum(int(v) for _, v in s["values"]) for s in volume["result"]}
    assert totals == {"error": 5, "info": 5}
    (point,) = volume["result"][0]["values"][:1]
    assert isinstance(point[0], float | int) and isinstance(point[1], str)

    # The label browser.
    assert "service_name" in loki(server, "labels", start=start, end=end).json()["data"]
    names = loki(server, "label/service_name/values", start=start, end=end).json()["data"]
    assert service in names
    series = loki(server, "series", **{"match[]": selector}, start=start, end=end).json()
    assert {s["level"] for s in series["data"]} == {"error", "info"}

    # Drilldown: stats, volume, patterns, fields, labels (no envelope where Loki has none).
    stats = loki(server, "index/stats", query=selector, start=start, end=end).json()
    assert stats["entries"] == 10 and stats["streams"] == 2 and stats["bytes"] > 0
    volume = loki(
        server, "index/volume", query=selector, start=start, end=end, aggregateBy="series"
    ).json()
    assert volume["data"]["resultType"] == "vector"
    patterns = loki(server, "patterns", query=selector, start=start, end=end, step="60s").json()
    assert patterns["data"][0]["pattern"] == "GET <_> took <_>"  # the miner masks paths
    assert sum(count for _, count in patterns["data"][0]["samples"]) == 10
    fields = loki(server, "detected_fields", query=selector, start=start, end=end).json()
    # structured metadata: no parser found it (Loki answers null)
    assert {"label": "http_status", "type": "int", "cardinality": 2, "parsers": None} in (
        fields["fields"]
    )
    values = loki(
        server, "detected_field/http_status/values", query=selector, start=start, end=end
    ).json()
    assert len(values["values"]) == 2
    labels = loki(server, "detected_labels", query=selector, start=start, end=end).json()
    assert {"label": "service_name", "cardinality": 1} in labels["detectedLabels"]
    assert loki(server, "status/buildinfo").json()["version"].startswith("3.")

    # A metric and a pipeline the subset takes, and what it refuses.
    errors = loki(
        server,
        "query_range",
        query=f"{selector} | json | http_status >= 501 | line_format "
        '"{{.http_status}} {{__line__}}"',
        start=start,
        end=end,
    ).json()["data"]["result"]
    assert {v[1].split()[0] for s in errors for v in s["values"]} == {"501"}
    refused = loki(server, "query_range", query=f"quantile_over_time(0.9, {selector} [1m])")
    assert refused.status_code == 400
    assert "quantile_over_time" in refused.json()["message"]
    too_many = loki(server, "query_range", query=selector, limit="5001")
    assert too_many.status_code == 400 and "max entries limit" in too_many.json()["message"]
    unauthenticated = requests.get(f"{server.url}/loki/api/v1/labels", timeout=10)
    assert unauthenticated.status_code == 401 and "message" in unauthenticated.json()


def test_loki_tail_sends_the_backfill_then_new_lines_in_lokis_frame(server):
    service = f"tail-{uuid.uuid4().hex[:6]}"

    def post(message: str, level: str = "INFO") -> None:
        requests.post(
            f"{server.url}/api/v1/logs/ingest",
            json={"service_name": service, "level": level, "message": message},
            headers=server.headers,
            timeout=30,
        )

    post("before", "ERROR")
    wait_for(server, f'{{service_name="{service}"}}', 1)
    url = server.url.replace("http://", "ws://") + "/loki/api/v1/tail"
    query = f'{{service_name="{service}"}} |= "e"'
    with connect(
        f"{url}?query={requests.utils.quote(query)}&limit=10", additional_headers=basic(server)
    ) as socket:
        first = json.loads(socket.recv(timeout=10))
        assert [v[1] for s in first["streams"] for v in s["values"]] == ["before"]
        time.sleep(2.1)  # the writer sees new subscribers within 2 s
        for message in ("after", "xyz", "later"):  # the line filter keeps lines with an e
            post(message)
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            frame = json.loads(socket.recv(timeout=10))
            seen += [v[1] for s in frame["streams"] for v in s["values"]]
            assert set(frame) <= {"streams", "dropped_entries"}
        assert seen == ["after", "later"]


def test_loki_tails_backfill_is_the_newest_lines_oldest_first(server):
    service = f"tail-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    server.ingest(
        [
            {"service_name": service, "level": "INFO", "message": m, "timestamp": now - age}
            for m, age in (("one", 3000), ("two", 2000), ("three", 1000))
        ]
    )
    wait_for(server, f'{{service_name="{service}"}}', 3)
    url = server.url.replace("http://", "ws://") + "/loki/api/v1/tail"
    query = requests.utils.quote(f'{{service_name="{service}"}}')
    with connect(f"{url}?query={query}&limit=2", additional_headers=basic(server)) as socket:
        first = json.loads(socket.recv(timeout=10))
    assert [v[1] for s in first["streams"] for v in s["values"]] == ["two", "three"]
