"""Data rules of a log entry: levels, service names, messages, timestamps, metadata."""

import pytest
from pydantic import ValidationError

from logsvc.entries import MAX_INDEXED_MESSAGE_CHARS, LogEntry, LogInput
from logsvc.problems import first_problem


def valid(**changes):
    return {"service_name": "api-gateway", "level": "INFO", "message": "ok", **changes}


def problem(item) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        LogInput.model_validate(item)
    return first_problem(caught.value.errors())


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("debug", "DEBUG"),
        ("Info", "INFO"),
        ("WARN", "WARN"),
        ("warning", "WARN"),
        ("ERROR", "ERROR"),
        ("critical", "CRITICAL"),
        ("FATAL", "CRITICAL"),
        (" error ", "ERROR"),
    ],
)
def test_levels_are_case_insensitive_with_aliases(given, stored):
    assert LogInput.model_validate(valid(level=given)).level == stored


@pytest.mark.parametrize("level", ["VERBOSE", "", "TRACE", 3, None])
def test_unknown_levels_are_refused_naming_the_field(level):
    field, message = problem(valid(level=level))
    assert field == "level"
    assert "DEBUG, INFO, WARN" in message


@pytest.mark.parametrize("name", ["api-gateway", "svc_1", "A", "x" * 128])
def test_service_names_of_letters_digits_dashes_underscores(name):
    assert LogInput.model_validate(valid(service_name=name)).service_name == name


@pytest.mark.parametrize(
    "name", ["api gateway", "a/b", "a.b", "", "x" * 129, "'; DROP TABLE logs;--", "ü", 7]
)
def test_other_service_names_are_refused(name):
    assert problem(valid(service_name=name))[0] == "service_name"


def test_missing_message_and_wrong_types_name_their_field():
    item = valid()
    del item["message"]
    assert problem(item) == ("message", "message: is required")
    assert problem(valid(message=42)) == ("message", "message: must be a string")
    assert problem(valid(message="")) == ("message", "message: must not be empty")
    assert problem(valid(metadata=[1, 2])) == ("metadata", "metadata: must be a JSON object")
    assert problem(valid(metadata="x"))[0] == "metadata"


@pytest.mark.parametrize("timestamp", ["1700000000000", True, -1, 10**16, [1]])
def test_timestamps_must_be_unix_milliseconds(timestamp):
    assert problem(valid(timestamp=timestamp))[0] == "timestamp"


def test_fractional_milliseconds_are_dropped():
    assert LogInput.model_validate(valid(timestamp=1700000000000.9)).timestamp == 1700000000000


def test_unknown_fields_are_ignored_and_metadata_kept():
    item = LogInput.model_validate(valid(extra="x", metadata={"a": {"b": [1, None]}}))
    assert item.metadata == {"a": {"b": [1, None]}}


def test_index_keeps_1000_characters_archive_keeps_all():
    entry = LogEntry(id="x", service_name="s", level="INFO", message="é" * 5000, timestamp=1)
    assert entry.indexed_message == "é" * MAX_INDEXED_MESSAGE_CHARS
    assert entry.to_record()["message"] == "é" * 5000
