"""A hostile reader against a real server: each attack the Loki issue measured answers
within 2 s (or is refused), /health answers within 1 s all the while, the server's peak
memory grows by less than 64 MB over the whole attack, and an ingest with a catastrophic
tail open answers within 1 s (docs/SECURITY.md promises these)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cramjam
import pytest
import requests
from websockets.sync.client import connect

from tests.e2e.conftest import running_server
from tests.support.protobuf import empty_loki_entries

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
CATASTROPHIC = "(.*.*)*x"


def _memory(pid: int, field: str) -> int:
    """VmRSS or VmHWM (peak) of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    with running_server(
        tmp_path_factory.mktemp("attacked"), settings={"LOKI_QUERY_TIMEOUT_MS": "2000"}
    ) as server:
        now = int(time.time() * 1000)
        logs = [
            {
                "service_name": f"s{i % 5}",
                "level": "INFO",
                "message": "a" * 28 + "!" if i % 2 else f"order {i} paid salary=98000",
                "timestamp": now - i * 10,
                "metadata": {"n": i},
            }
            for i in range(20_000)
        ]
        for start in range(0, len(logs), 1000):
            server.ingest(logs[start : start + 1000])
        nested = "[" * 990 + "]" * 990
        server.ingest([{"service_name": "s0", "level": "INFO", "message": nested}])
        yield server


def _get(server, path: str, **params) -> requests.Response:
    return requests.get(
        f"{server.url}/loki/api/v1/{path}", params=params, headers=server.headers, timeout=30
    )


ATTACKS = {
    "catastrophic line regex": lambda s: _get(
        s, "query_range", query='{service_name="s1"} |~ "(a+)+$"', limit="5000"
    ),
    "catastrophic selector, query_range": lambda s: _get(
        s, "query_range", query=f'{{service_name=~"{CATASTROPHIC}"}}'
    ),
    "catastrophic selector, metric": lambda s: _get(
        s, "query", query=f'count_over_time({{service_name=~"{CATASTROPHIC}"}}[1h])'
    ),
    "catastrophic selector, series": lambda s: _get(
        s, "series", **{"match[]": f'{{service_name=~"{CATASTROPHIC}"}}'}
    ),
    "catastrophic selector, label values": lambda s: _get(
        s, "label/level/values", query=f'{{service_name=~"{CATASTROPHIC}"}}'
    ),
    "catastrophic selector, volume": lambda s: _get(
        s, "index/volume", query=f'{{service_name=~"{CATASTROPHIC}"}}'
    ),
    "catastrophic selector, stats": lambda s: _get(
        s, "index/stats", query=f'{{service_name=~"{CATASTROPHIC}"}}'
    ),
    "catastrophic selector, detected labels": lambda s: _get(
        s, "detected_labels", query=f'{{service_name=~"{CATASTROPHIC}"}}'
    ),
    "catastrophic selector, patterns": lambda s: _get(
        s, "patterns", query=f'{{service_name=~"{CATASTROPHIC}"}}'
    ),
    "catastrophic selector, detected fields": lambda s: _get(
        s, "detected_fields", query=f'{{service_name=~"{CATASTROPHIC}"}}'
    ),
    "text probe across tenants": lambda s: _get(
        s, "query_range", query=f'{{service_name=~"a{CATASTROPHIC}"}} |= "salary=98000"'
    ),
    "forward query, limit 1": lambda s: _get(
        s, "query_range", query='{service_name=~"s.*"}', direction="forward", limit="1"
    ),
    "series over every entry": lambda s: _get(s, "series", **{"match[]": '{service_name=~"s.*"}'}),
    "volume over every entry": lambda s: _get(
        s, "index/volume_range", query='{service_name=~"s.*"}', step="1"
    ),
    "json over a line nested 990 deep": lambda s: _get(
        s, "query_range", query='{service_name="s0"} | json', limit="5000"
    ),
    "overflow": lambda s: _get(s, "query", query="vector(1e308) * 10"),
    "distinct long regexes": lambda s: [
        _get(s, "query", query=f'count_over_time({{service_name=~"s{i}{"x?" * 200}"}}[1m])')
        for i in range(300)
    ][-1],
    "push of 8 million empty entries": lambda s: requests.post(
        f"{s.url}/loki/api/v1/push",
        data=bytes(cramjam.snappy.compress_raw(empty_loki_entries(8_000_000))),
        headers={**s.headers, "Content-Type": "application/x-protobuf"},
        timeout=30,
    ),
    "push of 5000 stream labels": lambda s: requests.post(
        f"{s.url}/loki/api/v1/push",
        json={
            "streams": [
                {
                    "stream": {f"l{i}": "v" * 60 for i in range(5000)},
                    "values": [[str(time.time_ns()), "x"]],
                }
            ]
        },
        headers=s.headers,
        timeout=30,
    ),
}


def test_attacks_answer_in_time_while_health_answers_and_memory_holds(target):
    # Warm every path once (imports, the grammar, caches), then measure from here: stats
    # counts from time summaries, whose first count loads numpy (15 MB).
    warm = ("overflow", "forward query, limit 1", "catastrophic selector, volume")
    for attack in (*warm, "catastrophic selector, stats"):
        ATTACKS[attack](target)
    Path(f"/proc/{target.pid}/clear_refs").write_text("5")  # the peak restarts from now
    before = _memory(target.pid, "VmRSS")
    slowest_health, stop = [0.0], threading.Event()

    def watch_health() -> None:
        while not stop.is_set():
            started = time.monotonic()
            assert requests.get(f"{target.url}/health", timeout=10).status_code in (200, 503)
            slowest_health[0] = max(slowest_health[0], time.monotonic() - started)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_health, daemon=True)
    watcher.start()
    timings = {}
    try:
        for name, attack in ATTACKS.items():
            started = time.monotonic()
            answer = attack(target)
            timings[name] = (time.monotonic() - started, answer.status_code)
            assert answer.status_code < 500 or answer.status_code == 504, (name, answer.text)
    finally:
        stop.set()
        watcher.join(timeout=10)
    growth = _memory(target.pid, "VmHWM") - before
    print("\n" + json.dumps({k: [round(t, 3), s] for k, (t, s) in timings.items()}, indent=1))
    print(f"slowest /health {slowest_health[0]:.3f} s; peak memory growth {growth / MB:.1f} MB")
    per_request = {
        name: seconds / (300 if name == "distinct long regexes" else 1)
        for name, (seconds, _) in timings.items()
    }
    assert max(per_request.values()) < 2, timings
    assert slowest_health[0] < 1
    assert growth < 64 * MB


def test_an_ingest_with_a_catastrophic_tail_open_answers_within_a_second(target):
    url = target.url.replace("http://", "ws://") + "/loki/api/v1/tail"
    query = requests.utils.quote('{service_name="t"} |~ "(.*.*)*x"')
    with connect(f"{url}?query={query}", additional_headers=target.headers) as socket:
        time.sleep(2.1)  # the writer sees new subscribers within 2 s
        started = time.monotonic()
        answer = requests.post(
            f"{target.url}/api/v1/logs/ingest",
            json={"service_name": "t", "level": "INFO", "message": "a" * 16},
            headers=target.headers,
            timeout=30,
        )
        assert answer.status_code == 201
        assert time.monotonic() - started < 1
        socket.close()
