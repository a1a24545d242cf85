"""Searching on metadata fields, what search refuses, and case folding for every script."""

import time

import pytest


@pytest.fixture
def api(api_any_db):
    now = int(time.time() * 1000)
    logs = [
        {
            "message": "db call failed",
            "metadata": {"error_code": "DB_TIMEOUT", "http": {"status": 503}},
        },
        {"message": "served", "metadata": {"error_code": "none", "http": {"status": 200}}},
        {"message": "ÉCHEC du paiement", "metadata": {"http": {"status": 500}, "user_id": "u1"}},
        {"message": "échec du panier", "metadata": {"path": "/Checkout/pay"}},
        {"message": "Straße gesperrt", "metadata": {"error_code": "db_timeout"}},
    ]
    body = {
        "logs": [
            {"service_name": "shop", "level": "ERROR", "timestamp": now - 1000 * i, **log}
            for i, log in enumerate(logs)
        ]
    }
    assert api_any_db.post("/api/v1/logs/ingest/batch", body).status == 201
    return api_any_db


def messages(api, **query) -> list[str]:
    response = api.get("/api/v1/logs/search", **query)
    assert response.status == 200, response.body
    return [entry["message"] for entry in response.body["logs"]]


def test_a_metadata_field_is_findable_with_a_filter(api):
    assert messages(api, filter="metadata.error_code=DB_TIMEOUT") == [
        "db call failed",
        "Straße gesperrt",
    ]
    assert messages(api, filter="metadata.http.status>=500") == [
        "db call failed",
        "ÉCHEC du paiement",
    ]
    assert messages(api, filter=["metadata.http.status>=500", "!metadata.user_id"]) == [
        "db call failed"
    ]
    assert messages(api, filter="metadata.path~=checkout") == ["échec du panier"]
    assert messages(api, filter="metadata.user_id") == ["ÉCHEC du paiement"]
    assert messages(api, filter="metadata.error_code!=db_timeout", q="e") == [
        "served",
        "ÉCHEC du paiement",
        "échec du panier",
    ]


def test_q_ignores_case_in_every_script(api):
    assert messages(api, q="échec") == ["ÉCHEC du paiement", "échec du panier"]
    assert messages(api, q="ÉCHEC DU P") == ["ÉCHEC du paiement", "échec du panier"]
    assert messages(api, q="STRASSE") == []  # lower-casing, not full case folding
    assert messages(api, q="straße") == ["Straße gesperrt"]


def test_a_filter_on_a_non_ascii_value_pages_like_any_other(api):
    first = api.get("/api/v1/logs/search", q="échec", limit=1)
    assert [e["message"] for e in first.body["logs"]] == ["ÉCHEC du paiement"]
    assert first.body["has_more"] is True
    second = api.get("/api/v1/logs/search", q="échec", limit=1, offset=1)
    assert [e["message"] for e in second.body["logs"]] == ["échec du panier"]
    assert second.body["has_more"] is False


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"error_code": "DB_TIMEOUT"}, "error_code", "filter=metadata.error_code=<value>"),
        ({"servce": "shop"}, "servce", "unknown query parameter"),
        # What other tools call them: the parameter meant, not a metadata filter.
        ({"service_name": "shop"}, "service_name", "did you mean service?"),
        ({"query": "timeout"}, "query", "did you mean q?"),
        ({"from": 1764115200000}, "from", "did you mean start_time?"),
        ({"start_time": 1764115200}, "start_time", "send 1764115200000"),
        ({"end_time": 978307199999}, "end_time", "before 2001"),
        ({"filter": "error_code=DB_TIMEOUT"}, "filter", "is not a filter"),
        ({"filter": "metadata.http.status>=high"}, "filter", "compares numbers"),
        ({"filter": ["metadata.a"] * 11}, "filter", "at most 10"),
    ],
)
def test_what_search_refuses_is_a_400_naming_it(api, query, field, says):
    response = api.get("/api/v1/logs/search", **query)
    assert response.status == 400
    assert response.body["field"] == field
    assert says in response.body["error"]


def test_time_zero_still_means_from_the_beginning(api):
    assert len(messages(api, start_time=0)) == 5


def test_every_route_refuses_parameters_it_does_not_take(api):
    response = api.get("/api/v1/logs/services", service="shop")
    assert (response.status, response.body["field"]) == (400, "service")
    assert "it takes none" in response.body["error"]
