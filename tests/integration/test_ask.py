"""The ask route's evaluation set (tests/support/ask_questions.py) with the built-in rules:
each answer's LogQL and range, run through the Loki API, must return what the expected
query returns over the expected range; and the answer's own result must be what
/loki/api/v1/query_range (or /patterns) answers for the same query, start, end and step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from logsvc import components
from tests.conftest import API_KEY, migrated_sqlite
from tests.support.api import Api
from tests.support.ask_questions import CASES, NOW, Case, corpus

NS = 1_000_000


@pytest.fixture(scope="module")
def asked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict]]:
    """The corpus in a SQLite index, the admin key, and keys limited to some services."""
    folder = tmp_path_factory.mktemp("ask")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", migrated_sqlite(folder / "logs.db"))
        patch.setenv("ARCHIVE_URL", (folder / "archive").as_uri())
        patch.setenv("LOG_SERVICE_API_KEY", API_KEY)
        components.reset()
        api = Api(API_KEY)
        entries = corpus()
        for start in range(0, len(entries), 500):
            assert (
                api.post("/api/v1/logs/ingest/batch", {"logs": entries[start : start + 500]}).status
                == 201
            )
        keys = {}
        for services in {c.key_services for c in CASES if c.key_services}:
            body = {"name": "limited", "scopes": ["read"], "services": list(services)}
            keys[services] = api.post("/api/v1/admin/keys", body).body["key"]
        yield api, keys
        components.reset()


def ask(api: Api, case: Case, key: str = "default", **more: Any):
    body = {"question": case.question, **more}
    if case.time_zone:
        body["time_zone"] = case.time_zone
    if case.service:
        body["service"] = case.service
    return api.call("POST", "/api/v1/logs/ask", body=body, key=key)


def loki(
    api: Api,
    kind: str,
    query: str,
    start: int,
    end: int,
    step: str | None,
    key="default",
    limit=None,
):
    params = {"query": query, "start": str(start * NS), "end": str(end * NS)}
    if step:
        params["step"] = step
    if limit:
        params["limit"] = str(limit)
    path = "/loki/api/v1/patterns" if kind == "patterns" else "/loki/api/v1/query_range"
    answer = api.call("GET", path, query=params, key=key)
    assert answer.status == 200, (query, answer.body)
    data = answer.body["data"]
    if isinstance(data, dict):
        data.pop("stats", None)
    return data


def meaning(kind: str, data: Any) -> Any:
    """What a result says, whatever order its streams or series come in."""
    if kind == "patterns":
        return sorted((p["pattern"], sum(c for _, c in p["samples"])) for p in data)
    if data["resultType"] == "matrix":
        return sorted((sorted(s["metric"].items()), s["values"]) for s in data["result"])
    return sorted(
        (ts, line, s["stream"]["service_name"]) for s in data["result"] for ts, line in s["values"]
    )


@pytest.mark.parametrize("case", CASES, ids=[f"{c.shape}: {c.question}" for c in CASES])
def test_the_answer_means_what_the_question_asks(asked, case: Case, monkeypatch):
    api, keys = asked
    key = keys[case.key_services] if case.key_services else "default"
    monkeypatch.setattr("logsvc.clock.now_ms", lambda: NOW)
    answer = ask(api, case, key)
    assert answer.status == 200, answer.body
    got = answer.body
    assert got["translator"] == "words"
    assert (got["kind"], got["start"], got["end"], got.get("step")) == (
        case.kind,
        case.start,
        case.end,
        case.step,
    ), got["logql"]
    # What it means: the answer's query and the expected one return the same, in full.
    limit = 5000
    ours = loki(api, case.kind, got["logql"], got["start"], got["end"], got.get("step"), key, limit)
    wanted = loki(api, case.kind, case.logql, case.start, case.end, case.step, key, limit)
    assert meaning(case.kind, ours) == meaning(case.kind, wanted), got["logql"]
    assert meaning(case.kind, wanted), "the corpus holds nothing for this case: it proves nothing"
    # What it answered: the Loki API's own answer to the same request.
    pasted = loki(api, case.kind, got["logql"], got["start"], got["end"], got.get("step"), key)
    result = got["result"]
    if isinstance(result, dict):
        result.pop("stats", None)
    assert result == pasted
    assert got["explanation"].endswith(".") and len(got["explanation"]) < 300


def test_the_set_covers_every_shape_in_several_phrasings():
    shapes = Counter(case.shape for case in CASES)
    assert len(CASES) >= 60
    assert set(shapes) >= {
        "levels",
        "services",
        "times",
        "text",
        "fields",
        "counts",
        "rates",
        "patterns",
        "scope",
    }
    assert min(shapes.values()) >= 2, shapes
