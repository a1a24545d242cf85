"""TraceItems to log entries, over shapes captured from workerd (tests/fixtures/trace_items:
fetch, exception, scheduled) and shapes built from the documented TraceItem fields."""

import json
from pathlib import Path

import pytest

from logsvc.sources.cloudflare_tail import console_message, event_kind, to_log_items

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trace_items"
NOW = 1_800_000_000_000


def load(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())


def test_a_fetch_gives_one_entry_per_console_call():
    (item,) = load("fetch_ok.json")
    entries = to_log_items([item], NOW, "checkout-worker")
    assert [(e["level"], e["message"]) for e in entries] == [
        ("DEBUG", "debug detail"),
        ("INFO", 'handled GET / {"user":"u1","items":[1,2]}'),
        ("INFO", "info line"),
        ("WARN", "slow upstream 1234"),
        ("ERROR", 'payment failed {"code":"CARD_DECLINED"}'),
    ]
    assert [e["timestamp"] for e in entries] == [log["timestamp"] for log in item["logs"]]
    assert {e["service_name"] for e in entries} == {"checkout-worker"}  # scriptName is null
    metadata = entries[0]["metadata"]
    assert {
        "outcome": "ok",
        "event_kind": "fetch",
        "request": {"method": "GET", "url": "http://localhost/"},
        "response_status": 200,
        "colo": "DFW",
        "country": "US",
        "truncated": False,
    }.items() <= metadata.items()
    assert "cpu_time_ms" in metadata and "wall_time_ms" in metadata


def test_an_exception_is_an_error_entry_with_its_stack():
    (item,) = load("fetch_exception.json")
    entries = to_log_items([item], NOW, "checkout-worker")
    assert [(e["level"], e["message"]) for e in entries] == [
        ("INFO", 'about to fail {"order":42}'),
        ("ERROR", "TypeError: cannot read properties of undefined (reading 'price')"),
    ]
    exception = entries[1]["metadata"]["exception"]
    assert exception["name"] == "TypeError"
    assert "producer.js" in exception["stack"]
    assert entries[1]["metadata"]["outcome"] == "exception"
    assert "response_status" not in entries[1]["metadata"]  # the Worker never answered


def test_a_scheduled_event_keeps_its_cron():
    (item,) = load("scheduled.json")
    (entry,) = to_log_items([item], NOW, "checkout-worker")
    assert (entry["level"], entry["message"]) == ("INFO", "cron ran */5 * * * *")
    assert entry["metadata"]["event_kind"] == "scheduled"
    assert entry["metadata"]["cron"] == "*/5 * * * *"


def test_outcomes_without_exceptions_are_entries_of_their_own():
    cpu, queue, canceled = load("documented_shapes.json")
    (entry,) = to_log_items([cpu], NOW)
    assert entry["service_name"] == "image-resizer"
    assert (entry["level"], entry["message"]) == (
        "ERROR",
        "fetch invocation exceeded its CPU time limit (exceededCpu)",
    )
    assert entry["timestamp"] == cpu["eventTimestamp"]
    assert entry["metadata"]["script_version"] == {
        "id": "8f3c1d2e-0000-4000-8000-000000000001",
        "tag": "v42",
    }
    assert (entry["metadata"]["colo"], entry["metadata"]["script_tags"]) == ("AMS", ["prod"])
    (processed,) = to_log_items([queue], NOW)
    assert processed["metadata"]["event_kind"] == "queue"
    assert processed["metadata"]["queue"] == "orders"
    assert processed["message"] == "processed 10 messages"
    (entry,) = to_log_items([canceled], NOW)
    assert (entry["level"], entry["metadata"]["event_kind"]) == ("WARN", "alarm")
    assert (entry["metadata"]["entrypoint"], entry["metadata"]["truncated"]) == ("Room", True)


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        (["a", "b"], "a b"),
        ([1, None, True], "1 null true"),
        ([{"k": [1]}], '{"k":[1]}'),
        ("bare", "bare"),
        ([], ""),
    ],
)
def test_console_arguments(arguments, text):
    assert console_message(arguments) == text


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ({"request": {}}, "fetch"),
        ({"cron": "* * * * *", "scheduledTime": 1}, "scheduled"),
        ({"queue": "q", "batchSize": 1}, "queue"),
        ({"scheduledTime": 1}, "alarm"),
        ({"mailFrom": "a@b"}, "email"),
        ({"rpcMethod": "go"}, "rpc"),
        (None, "unknown"),
    ],
)
def test_event_kinds(event, kind):
    assert event_kind(event) == kind


def test_script_names_are_sanitised_and_missing_times_fall_back():
    item = {
        "scriptName": "my worker.v2",
        "outcome": "ok",
        "event": None,
        "logs": [{"message": ["x"], "level": "log"}],
        "exceptions": [],
    }
    (entry,) = to_log_items([item], NOW)
    assert (entry["service_name"], entry["timestamp"]) == ("my-worker-v2", NOW)


def test_a_continuation_part_carries_console_calls_only():
    first = {
        "scriptName": "shop",
        "outcome": "exception",
        "eventTimestamp": 1000,
        "logs": [{"level": "log", "message": ["a"], "timestamp": 1001}],
        "exceptions": [{"name": "Error", "message": "boom", "timestamp": 1002}],
    }
    later = {**first, "exceptions": [], "continuation": True, "logs": [first["logs"][0]] * 2}
    assert [e["message"] for e in to_log_items([first], 5000)] == ["a", "Error: boom"]
    assert [e["message"] for e in to_log_items([later], 5000)] == ["a", "a"]
    canceled = {**later, "outcome": "canceled"}  # no outcome entry from a later part either
    assert [e["level"] for e in to_log_items([canceled], 5000)] == ["INFO", "INFO"]
