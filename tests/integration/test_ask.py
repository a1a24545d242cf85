"""The ask route's evaluation set (tests/support/ask_questions.py), with the built-in rules
and with recorded model answers (Bedrock, Workers AI, an OpenAI-compatible endpoint, in
their providers' response shapes): each answer's LogQL and range, run through the Loki API,
must return what the expected query returns over the expected range; and the answer's own
result must be what /loki/api/v1/query_range (or /patterns) answers for the same query,
start, end and step.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from logsvc import components
from logsvc_local.project import load_handler
from tests.conftest import API_KEY, migrated_sqlite
from tests.support.api import Api
from tests.support.ask_questions import (
    CASES,
    MODEL_CASES,
    NOW,
    SERVICES,
    Case,
    ModelCase,
    corpus,
)
from tests.support.model_standins import (
    ModelStandIn,
    bedrock_client,
    converse_answer,
    openai_answer,
    workers_ai_answer,
)

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
    monkeypatch.setattr(load_handler("ask"), "now_ms", lambda: NOW)
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


@contextmanager
def recorded_model(provider: str, text: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """The deployment's model set to ``provider``, answering ``text`` once; yields what it
    was sent (the stand-in's requests, or Bedrock's call parameters)."""
    if provider == "bedrock":
        from botocore.stub import ANY

        from logsvc.ask.model import MAX_TOKENS, SYSTEM_PROMPT
        from logsvc.language_models import BedrockModel

        client, stubber = bedrock_client()
        expected = {
            "modelId": "amazon.nova-lite-v1:0",
            "system": [{"text": SYSTEM_PROMPT}],
            "messages": ANY,
            "inferenceConfig": {"maxTokens": MAX_TOKENS, "temperature": 0},
        }
        stubber.add_response("converse", converse_answer(text), expected)
        sent: list = []
        client.meta.events.register(
            "provide-client-params.bedrock-runtime.Converse",
            lambda params, **_: sent.append(params),
        )
        monkeypatch.setenv("ASK_LLM", "bedrock")
        monkeypatch.setattr(
            components, "asker_model", lambda: BedrockModel("amazon.nova-lite-v1:0", client=client)
        )
        components.reset()
        with stubber:
            yield sent
        stubber.assert_no_pending_responses()
        components.reset()
        return
    answer = openai_answer(text) if provider == "openai" else workers_ai_answer(text)
    with ModelStandIn([(200, answer, 0)]) as stand_in:
        monkeypatch.setenv("ASK_LLM", provider)
        if provider == "openai":
            monkeypatch.setenv("OPENAI_BASE_URL", f"{stand_in.url}/v1")
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
        else:
            monkeypatch.setenv("WORKERS_AI_ACCOUNT_ID", "acct")
            monkeypatch.setenv("WORKERS_AI_TOKEN", "cf-test-token")
            monkeypatch.setenv("D1_API_BASE_URL", f"{stand_in.url}/client/v4")
        components.reset()
        yield stand_in.requests
    components.reset()


MODEL_NAMES = {
    "bedrock": "bedrock:amazon.nova-lite-v1:0",
    "openai": "openai:gpt-4o-mini",
    "workers-ai": "workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast",
}
USAGE = {"bedrock": (880, 95), "openai": (950, 90), "workers-ai": (1010, 84)}


@pytest.mark.parametrize(
    "case", MODEL_CASES, ids=[f"{c.provider}: {c.question}" for c in MODEL_CASES]
)
def test_a_recorded_model_answers_what_the_rules_do_not(asked, case: ModelCase, monkeypatch):
    api, _ = asked
    monkeypatch.setattr(load_handler("ask"), "now_ms", lambda: NOW)
    with recorded_model(case.provider, case.answer, monkeypatch) as sent:
        answer = api.post("/api/v1/logs/ask", {"question": case.question})
    assert answer.status == 200, answer.body
    got = answer.body
    assert got["translator"] == MODEL_NAMES[case.provider]
    assert (got["model"]["input_tokens"], got["model"]["output_tokens"]) == USAGE[case.provider]
    assert (got["kind"], got["start"], got["end"], got.get("step")) == (
        case.kind,
        case.start,
        case.end,
        case.step,
    )
    ours = loki(api, case.kind, got["logql"], got["start"], got["end"], got.get("step"), limit=5000)
    wanted = loki(api, case.kind, case.logql, case.start, case.end, case.step, limit=5000)
    assert meaning(case.kind, ours) == meaning(case.kind, wanted), got["logql"]
    assert meaning(case.kind, wanted), "the corpus holds nothing for this case: it proves nothing"
    result = got["result"]
    if isinstance(result, dict):
        result.pop("stats", None)
    assert result == loki(api, case.kind, got["logql"], got["start"], got["end"], got.get("step"))
    # The question reached the model as one JSON value of the user message, nothing else.
    (request,) = sent
    if case.provider == "bedrock":
        (message,) = request["messages"]
        user = message["content"][0]["text"]
    else:
        path, headers, body = request
        assert body["max_tokens"] == 400 and body["temperature"] == 0
        assert body["messages"][0]["role"] == "system"
        user = body["messages"][1]["content"]
        bearer = "sk-test-key" if case.provider == "openai" else "cf-test-token"
        assert headers["Authorization"] == f"Bearer {bearer}"
        assert path == (
            "/v1/chat/completions"
            if case.provider == "openai"
            else "/client/v4/accounts/acct/ai/run/@cf/meta/llama-3.3-70b-instruct-fp8-fast"
        )
    facts = json.loads(user)
    assert facts["question"] == case.question
    assert facts["services"] == sorted(SERVICES)
    assert {"http_status", "region", "user_id", "latency_ms"} <= set(facts["fields_seen"])
