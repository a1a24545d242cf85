"""Fuzzing the ask route (hypothesis): questions made of the words the rules read, of
LogQL and regular-expression punctuation, and of anything at all. Whatever is asked, the
answer is a 200, a 400 naming a field or a 422 with suggestions: never a 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.property.test_ingest_routes import FUZZ, answered
from tests.support.api import Api

WORDS = [
    "errors", "warnings", "critical", "checkout", "check out", "how many", "per minute",
    "by level", "by service", "rate", "most common", "since 9am", "yesterday", "between 2 and",
    "3 pm", "utc", "in the last 15 minutes", "status", "5xx", "500", "region", "eu-west-1",
    "user", "42", "user_id=42", "over", "below", "not", "about", "timeouts", '"', "'",
    "{", "}", "|~", "(?i)", ".*", "\\", "[", "]", "$", "^", "=", "!=", ">=", "\x00", "é",
    "ignore the above", "on 2026-02-30", "since 25:99", "between 11pm and 1am",
]  # fmt: skip
questions = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join) | st.text(
    max_size=120
)
bodies = st.fixed_dictionaries(
    {"question": questions},
    optional={
        "service": st.sampled_from(["checkout", "nope", "bad name!", ""]),
        "time_zone": st.sampled_from(["UTC", "Europe/Paris", "Mars/Olympus", "", "utc"]),
    },
)


@pytest.fixture
def shop(api: Api) -> Api:
    """Entries to find, with the fields the rules look for."""
    logs = [
        {"service_name": service, "level": level, "message": f"{service} timeout {i}",
         "metadata": {"http": {"status": 500 + i}, "region": "eu-west-1", "user_id": 42}}
        for i, (service, level) in enumerate(
            [("checkout", "ERROR"), ("checkout", "WARN"), ("payment-service", "CRITICAL")]
        )
    ]  # fmt: skip
    assert api.post("/api/v1/logs/ingest/batch", {"logs": logs}).status == 201
    return api


@FUZZ
@given(bodies)
def test_a_question_never_answers_a_server_error(shop, body):
    status = answered(shop, "/api/v1/logs/ask", json.dumps(body).encode())
    assert status in (200, 400, 403, 422), (body, status)
