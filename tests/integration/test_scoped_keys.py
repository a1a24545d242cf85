"""Scoped API keys: scopes, service limits, revocation and rotation, through the handlers."""

from __future__ import annotations

import pytest

from logsvc import components
from tests.support.api import Api


def new_key(api: Api, scopes: list[str], services: list[str] | None = None) -> str:
    body = {"name": "test", "scopes": scopes, **({"services": services} if services else {})}
    answer = api.post("/api/v1/admin/keys", body)
    assert answer.status == 201, answer.body
    return answer.body["key"]


def entry(service: str = "checkout", message: str = "hello") -> dict:
    return {"service_name": service, "level": "INFO", "message": message}


def test_created_key_is_shown_once_and_stored_hashed(api: Api):
    key = new_key(api, ["ingest"])
    rows = components.database().query("SELECT * FROM api_keys")
    assert len(rows) == 1
    secret = key.split("_", 2)[2]
    assert secret not in str(rows[0]) and key not in str(rows[0])
    listed = api.get("/api/v1/admin/keys").body["keys"]
    assert [k["scopes"] for k in listed] == [["ingest"]]
    assert all("key" not in k for k in listed)


def test_ingest_only_key_cannot_read_or_configure(api: Api):
    key = new_key(api, ["ingest"])
    ingest = api.call("POST", "/api/v1/logs/ingest", body=entry(), key=key)
    assert ingest.status == 201
    for method, path, body in [
        ("GET", "/api/v1/logs/search", None),
        ("GET", f"/api/v1/logs/logs/{ingest.body['id']}", None),
        ("GET", "/api/v1/logs/services", None),
        ("GET", "/api/v1/logs/stats/checkout", None),
        ("PUT", "/api/v1/logs/config/checkout", {"ttl_days": 1}),
        ("GET", "/api/v1/admin/keys", None),
        ("POST", "/api/v1/admin/keys", {"name": "x", "scopes": ["admin"]}),
    ]:
        answer = api.call(method, path, body=body, key=key)
        assert answer.status == 403, (method, path, answer.body)
        assert answer.body["field"] == "Authorization"
    assert api.get("/api/v1/logs/config/checkout").body["ttl_days"] != 1


def test_read_key_cannot_ingest(api: Api):
    key = new_key(api, ["read"])
    assert api.call("POST", "/api/v1/logs/ingest", body=entry(), key=key).status == 403
    assert api.call("GET", "/api/v1/logs/search", key=key).status == 200


def test_key_limited_to_one_service_cannot_write_anothers_logs(api: Api):
    key = new_key(api, ["ingest"], services=["checkout"])
    refused = api.call("POST", "/api/v1/logs/ingest", body=entry("billing"), key=key)
    assert refused.status == 403
    assert refused.body["field"] == "service_name"
    batch = api.call(
        "POST",
        "/api/v1/logs/ingest/batch",
        body={"logs": [entry("checkout", "a"), entry("billing", "b"), entry("checkout", "c")]},
        key=key,
    )
    assert batch.status == 201
    assert batch.body["accepted"] == 2
    assert [(e["index"], e["field"]) for e in batch.body["errors"]] == [(1, "service_name")]
    services = api.get("/api/v1/logs/services").body["services"]
    assert [s["service_name"] for s in services] == ["checkout"]


def test_key_limited_to_a_service_reads_only_that_service(api: Api):
    ids = {
        service: api.post("/api/v1/logs/ingest", entry(service)).body["id"]
        for service in ("checkout", "billing")
    }
    key = new_key(api, ["read"], services=["checkout"])
    found = api.call("GET", "/api/v1/logs/search", key=key).body["logs"]
    assert {log["service_name"] for log in found} == {"checkout"}
    assert api.call("GET", f"/api/v1/logs/logs/{ids['checkout']}", key=key).status == 200
    # Another service's entry looks exactly like a missing one.
    assert api.call("GET", f"/api/v1/logs/logs/{ids['billing']}", key=key).status == 404
    assert api.call("GET", f"/api/v1/logs/logs/{ids['billing']}/full", key=key).status == 404
    other = api.call("GET", "/api/v1/logs/search", query={"service": "billing"}, key=key)
    assert (other.status, other.body["field"]) == (403, "service")
    for path in ("stats", "recent", "analysis", "patterns"):
        assert api.call("GET", f"/api/v1/logs/{path}/billing", key=key).status == 403, path
        assert api.call("GET", f"/api/v1/logs/{path}/checkout", key=key).status == 200, path
    listed = api.call("GET", "/api/v1/logs/services", key=key).body["services"]
    assert [s["service_name"] for s in listed] == ["checkout"]


def test_key_for_two_services_must_name_one_to_search(api: Api):
    key = new_key(api, ["read"], services=["checkout", "billing"])
    answer = api.call("GET", "/api/v1/logs/search", key=key)
    assert (answer.status, answer.body["field"]) == (403, "service")
    named = api.call("GET", "/api/v1/logs/search", query={"service": "billing"}, key=key)
    assert named.status == 200


def test_restricted_admin_key_configures_its_services_but_not_keys(api: Api):
    key = new_key(api, ["admin"], services=["checkout"])
    put = api.call("PUT", "/api/v1/logs/config/checkout", body={"ttl_days": 3}, key=key)
    assert put.status == 200
    other = api.call("PUT", "/api/v1/logs/config/billing", body={"ttl_days": 3}, key=key)
    assert other.status == 403
    assert api.call("GET", "/api/v1/admin/keys", key=key).status == 403


def test_revoked_key_is_refused(api: Api):
    key = new_key(api, ["ingest"])
    key_id = key.split("_")[1]
    assert api.call("POST", "/api/v1/logs/ingest", body=entry(), key=key).status == 201
    revoked = api.call("DELETE", f"/api/v1/admin/keys/{key_id}")
    assert revoked.status == 200 and revoked.body["revoked_at"] is not None
    answer = api.call("POST", "/api/v1/logs/ingest", body=entry(), key=key)
    assert (answer.status, answer.body["error"]) == (401, "invalid API key")
    assert api.call("DELETE", f"/api/v1/admin/keys/{key_id}").status == 404


@pytest.mark.parametrize(
    "token",
    ["lsk_0123456789abcdef_" + "x" * 43, "lsk_nothex", "", "Bearer", "' OR 1=1 --"],
)
def test_malformed_or_unknown_keys_get_401(api: Api, token: str):
    new_key(api, ["admin"])
    answer = api.call("GET", "/api/v1/logs/services", key=token)
    assert answer.status == 401
    assert answer.body["field"] == "Authorization"


def test_tampered_secret_is_refused(api: Api):
    key = new_key(api, ["read"])
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert api.call("GET", "/api/v1/logs/services", key=tampered).status == 401


def test_previous_bootstrap_key_works_while_rotating(api: Api, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOG_SERVICE_API_KEY", "new-key-" + "n" * 32)
    monkeypatch.setenv("LOG_SERVICE_API_KEY_PREVIOUS", api.api_key)
    components.reset()
    for key in ("new-key-" + "n" * 32, api.api_key):
        assert api.call("GET", "/api/v1/logs/services", key=key).status == 200
    monkeypatch.delenv("LOG_SERVICE_API_KEY_PREVIOUS")
    components.reset()
    assert api.call("GET", "/api/v1/logs/services", key=api.api_key).status == 401


def test_bad_key_requests_get_400_naming_the_field(api: Api):
    cases = [
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["root"]}, "scopes"),
        ({"name": "x", "scopes": ["read"], "services": ["bad name!"]}, "services"),
        ({"name": "x", "scopes": ["read"], "extra": 1}, "extra"),
    ]
    for body, field in cases:
        answer = api.post("/api/v1/admin/keys", body)
        assert answer.status == 400, body
        assert answer.body["field"].startswith(field), (body, answer.body)
    assert api.call("DELETE", "/api/v1/admin/keys/not-an-id").status == 400
    assert components.database().query("SELECT COUNT(*) AS n FROM api_keys")[0]["n"] == 0


def test_made_up_key_ids_cost_no_read_and_no_memory(api: Api):
    """Each instance holds the active keys (one read every 30 s): a made-up key id, however
    many arrive, reads nothing (issue 29: random ids spent the D1 budget) and is not kept."""
    from logsvc.keys import Keys
    from logsvc.store.api_keys import ApiKeyStore

    reads = []

    class Counting(ApiKeyStore):
        def active_all(self):
            reads.append(1)
            return super().active_all()

        def active(self, key_id):
            reads.append(key_id)
            return super().active(key_id)

    from logsvc import components

    keys = Keys(Counting(components.database()), id_secret="bootstrap-secret")
    full, _ = keys.create("ci", ["read"], None, 0)
    assert keys.authenticate(full) is not None  # made here: found at once (one read)
    reads.clear()
    for number in range(1000):
        assert keys.authenticate(f"lsk_{number:016x}_{'s' * 40}") is None
    assert reads == []
    assert len(keys._held) == 1
    # A key made on another instance (same deployment secret) works at once: its id says
    # it is ours, so the holding is read again (at most once a second).
    other = Keys(ApiKeyStore(components.database()), id_secret="bootstrap-secret")
    second, _ = other.create("other", ["ingest"], None, 0)
    keys._read_at -= Keys.RELOAD_SECONDS  # a second later
    assert keys.authenticate(second) is not None
    assert reads == [1]
    # A key made elsewhere without the secret (before key ids carried it) is found once
    # the holding is next read, and costs nothing meanwhile.
    plain = Keys(ApiKeyStore(components.database()))
    third, _ = plain.create("old", ["read"], None, 0)
    keys._read_at -= 31
    assert keys.authenticate(third) is not None
