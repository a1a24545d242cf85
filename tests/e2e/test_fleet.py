"""The fleet scenario over real HTTP (bench/fleet.py, shortened): single-entry requests from
many clients against `logsvc serve` on an emulated D1 with Cloudflare's account limit, the
server killed with SIGKILL and restarted mid-load. Figures are the benchmark's business;
this checks the promises: nothing refused, nothing acknowledged lost, nothing stored twice,
D1 requests within the limit."""

from bench.fleet import run


def test_single_entry_traffic_survives_kill_9_within_the_d1_limit():
    figures = run(clients=6, seconds=6, kill_at=2.5)
    assert figures["killed_and_restarted_at_s"] is not None
    assert figures["requests_acknowledged"] > 100
    assert figures["refused"] == 0
    assert figures["acknowledged_missing"] == 0
    assert figures["stored_twice"] == 0
    assert figures["d1_refused_for_the_limit"] == 0
    assert figures["d1_requests"] < figures["requests_acknowledged"] / 10
