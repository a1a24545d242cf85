"""Sampling: a service's DEBUG and INFO sample rates keep that share, WARN and above are all
kept, and stats count what was left out, exactly, on the direct and the buffered path."""

import time

import pytest

from logsvc import components
from logsvc.buffer.local import LocalBuffer
from logsvc_local.writer_loop import WriterLoop

LEVELS = {"DEBUG": 2000, "INFO": 2000, "WARN": 200, "ERROR": 50}


def ingest_everything(api):
    now = int(time.time() * 1000)
    logs = [
        {"service_name": "chatty", "level": level, "message": f"{level} {i}", "timestamp": now - i}
        for level, count in LEVELS.items()
        for i in range(count)
    ]
    for start in range(0, len(logs), 1000):
        response = api.post("/api/v1/logs/ingest/batch", {"logs": logs[start : start + 1000]})
        assert response.status == 201
        assert response.body["accepted"] == len(logs[start : start + 1000])


def check_the_shares(api):
    stats = api.get("/api/v1/logs/stats/chatty").body
    kept, left_out = stats["levels"], stats["sampled_out"]
    # Exact: every entry is either stored or counted as left out.
    assert kept["DEBUG"] + left_out["DEBUG"] == LEVELS["DEBUG"]
    assert kept["INFO"] + left_out["INFO"] == LEVELS["INFO"]
    assert (kept["WARN"], kept["ERROR"]) == (LEVELS["WARN"], LEVELS["ERROR"])
    # The shares asked for, within four standard deviations of a binomial draw.
    assert abs(kept["DEBUG"] - 200) < 4 * (2000 * 0.1 * 0.9) ** 0.5
    assert abs(kept["INFO"] - 1000) < 4 * (2000 * 0.5 * 0.5) ** 0.5
    return stats


def test_rates_keep_their_share_and_stats_count_the_rest(api):
    saved = api.put(
        "/api/v1/logs/config/chatty", {"debug_sample_rate": 0.1, "info_sample_rate": 0.5}
    )
    assert saved.status == 200
    assert (saved.body["debug_sample_rate"], saved.body["info_sample_rate"]) == (0.1, 0.5)
    ingest_everything(api)
    check_the_shares(api)
    untouched = api.get("/api/v1/logs/stats/quiet").body["sampled_out"]
    assert untouched == {"DEBUG": 0, "INFO": 0}


def test_the_writer_samples_buffered_entries_alike(api, tmp_path, monkeypatch):
    api.put("/api/v1/logs/config/chatty", {"debug_sample_rate": 0.1, "info_sample_rate": 0.5})
    monkeypatch.setenv("INGEST_BUFFER", (tmp_path / "buffer.db").as_uri())
    components.reset()
    ingest_everything(api)
    buffer = components.ingest_buffer()
    assert isinstance(buffer, LocalBuffer)
    loop = WriterLoop(buffer, components.log_writer(), batch_entries=10_000, flush_seconds=0)
    while buffer.stats()["pending"]:
        loop.flush_once()
    check_the_shares(api)


def test_the_same_ids_decide_the_same_way(api):
    api.put("/api/v1/logs/config/chatty", {"info_sample_rate": 0.5})
    entries = [{"service_name": "chatty", "level": "INFO", "message": f"m{i}"} for i in range(200)]
    headers = {"Idempotency-Key": "sampling-retry"}
    first = api.post("/api/v1/logs/ingest/batch", {"logs": entries}, headers=headers)
    stored = {i for i in first.body["ids"] if api.get(f"/api/v1/logs/logs/{i}").status == 200}
    assert 0 < len(stored) < 200
    again = api.post("/api/v1/logs/ingest/batch", {"logs": entries}, headers=headers)
    assert again.body["ids"] == first.body["ids"]
    assert api.get("/api/v1/logs/stats/chatty").body["sampled_out"]["INFO"] == 200 - len(stored)


def test_rate_zero_keeps_none_and_null_keeps_all_again(api):
    api.put("/api/v1/logs/config/chatty", {"debug_sample_rate": 0})
    one = {"service_name": "chatty", "level": "DEBUG", "message": "dropped"}
    assert api.post("/api/v1/logs/ingest", one).status == 201
    assert api.get("/api/v1/logs/stats/chatty").body["levels"]["DEBUG"] == 0
    api.put("/api/v1/logs/config/chatty", {"debug_sample_rate": None})
    components.reset()  # a new instance: rates are read again (else within 30 s)
    assert api.post("/api/v1/logs/ingest", {**one, "message": "kept"}).status == 201
    stats = api.get("/api/v1/logs/stats/chatty").body
    assert (stats["levels"]["DEBUG"], stats["sampled_out"]["DEBUG"]) == (1, 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"debug_sample_rate": 1.5}, "debug_sample_rate"),
        ({"info_sample_rate": -0.1}, "info_sample_rate"),
        ({"info_sample_rate": "half"}, "info_sample_rate"),
        ({"warn_sample_rate": 0.5}, "warn_sample_rate"),  # WARN and above are always kept
    ],
)
def test_bad_rates_are_400s_naming_the_field(api, body, field):
    response = api.put("/api/v1/logs/config/chatty", body)
    assert response.status == 400, response.body
    assert response.body["field"] == field
    assert api.get("/api/v1/logs/config/chatty").body["is_default"] is True
