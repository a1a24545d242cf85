"""POST /api/v1/logs/tail with TraceItems captured from workerd."""

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trace_items"


def items(*names):
    return [item for name in names for item in json.loads((FIXTURES / name).read_text())]


def test_trace_items_are_stored_as_tail_entries(api):
    response = api.call(
        "POST",
        "/api/v1/logs/tail",
        body=items("fetch_ok.json", "fetch_exception.json", "scheduled.json"),
        query={"fallback_service": "checkout-worker"},
    )
    assert response.status == 201
    assert (response.body["accepted"], response.body["rejected"]) == (8, 0)
    logs = api.get("/api/v1/logs/search", service="checkout-worker").body["logs"]
    assert len(logs) == 8
    assert {log["source_type"] for log in logs} == {"tail"}
    errors = [log for log in logs if log["level"] == "ERROR"]
    assert {log["message"].split(" ")[0] for log in errors} == {"payment", "TypeError:"}


def test_without_a_fallback_the_setting_names_the_service(api):
    api.call("POST", "/api/v1/logs/tail", body=items("scheduled.json"))
    assert api.get("/api/v1/logs/stats/unknown-worker").body["total"] == 1


def test_bad_bodies_are_400(api):
    for body in ({"not": "a list"}, ["not an object"], "x"):
        response = api.call("POST", "/api/v1/logs/tail", body=body)
        assert response.status == 400, body
    response = api.call(
        "POST", "/api/v1/logs/tail", body=[], query={"fallback_service": "bad name"}
    )
    assert (response.status, response.body["field"]) == (400, "fallback_service")
