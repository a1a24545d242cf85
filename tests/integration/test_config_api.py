"""Per-service configuration through the config function."""

import pytest

ORIGINAL_EXAMPLE = {
    "ttl_days": 90,
    "retention_policy": "extended",
    "alert_on_errors": True,
    "max_logs_per_day": 1000000,
}


def test_a_service_without_config_reads_as_its_defaults(api_any_db, monkeypatch):
    config = api_any_db.get("/api/v1/logs/config/my-service").body
    assert config == {
        "service_name": "my-service",
        "ttl_days": None,
        "retention_policy": None,
        "alert_on_errors": False,
        "max_logs_per_day": None,
        "archive_ttl_days": None,
        "debug_sample_rate": None,
        "info_sample_rate": None,
        "created_at": None,
        "updated_at": None,
        "effective_ttl_days": 7,  # the index's hot window; the archive keeps 365 days
        "effective_archive_ttl_days": 365,
        "is_default": True,
    }
    assert api_any_db.get("/api/v1/logs/configs").body == {"configs": []}


def test_default_ttl_comes_from_the_setting(api, monkeypatch):
    from logsvc import components

    monkeypatch.setenv("DEFAULT_TTL_DAYS", "14")
    components.reset()
    assert api.get("/api/v1/logs/config/x").body["effective_ttl_days"] == 14


def test_put_the_original_example_then_read_it_back(api_any_db):
    response = api_any_db.put("/api/v1/logs/config/my-service", ORIGINAL_EXAMPLE)
    assert response.status == 200
    assert {k: response.body[k] for k in ORIGINAL_EXAMPLE} == ORIGINAL_EXAMPLE
    assert response.body["is_default"] is False
    assert response.body["created_at"] == response.body["updated_at"]
    assert api_any_db.get("/api/v1/logs/config/my-service").body == response.body
    assert api_any_db.get("/api/v1/logs/configs").body["configs"] == [response.body]


def test_partial_updates_keep_other_fields_and_null_resets(api_any_db):
    api_any_db.put("/api/v1/logs/config/svc", ORIGINAL_EXAMPLE)
    updated = api_any_db.put("/api/v1/logs/config/svc", {"alert_on_errors": False}).body
    assert (updated["ttl_days"], updated["alert_on_errors"]) == (90, False)
    reset = api_any_db.put("/api/v1/logs/config/svc", {"ttl_days": None}).body
    assert (reset["ttl_days"], reset["effective_ttl_days"]) == (None, 90)  # extended policy
    minimal = api_any_db.put("/api/v1/logs/config/svc", {"retention_policy": "minimal"}).body
    assert minimal["effective_ttl_days"] == 7


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ttl_days": 0}, "ttl_days"),
        ({"ttl_days": 3651}, "ttl_days"),
        ({"ttl_days": "90"}, "ttl_days"),
        ({"ttl_days": 1.5}, "ttl_days"),
        ({"retention_policy": "forever"}, "retention_policy"),
        ({"alert_on_errors": "yes"}, "alert_on_errors"),
        ({"max_logs_per_day": 0}, "max_logs_per_day"),
        ({"ttl_day": 30}, "ttl_day"),
        ([], "body"),
    ],
)
def test_invalid_config_is_400_naming_the_field_and_changes_nothing(api, body, field):
    api.put("/api/v1/logs/config/svc", ORIGINAL_EXAMPLE)
    response = api.put("/api/v1/logs/config/svc", body)
    assert response.status == 400
    assert response.body["field"] == field
    current = api.get("/api/v1/logs/config/svc").body
    assert {k: current[k] for k in ORIGINAL_EXAMPLE} == ORIGINAL_EXAMPLE


def test_bad_service_names_in_the_path_are_400(api):
    assert api.get("/api/v1/logs/config/a%20b").status == 400
    response = api.put("/api/v1/logs/config/x'%3BDROP", {"ttl_days": 5})
    assert (response.status, response.body["field"]) == (400, "service")
