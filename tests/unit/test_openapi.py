"""The committed OpenAPI document is the one the code generates: API changes show as diffs."""

import json

from logsvc.routes import ROUTES, UNDOCUMENTED_PATHS
from logsvc_local.openapi import render
from logsvc_local.project import OPENAPI_PATH


def test_committed_document_is_current():
    assert OPENAPI_PATH.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json is out of date: run `make openapi` and commit it"
    )


def test_every_documented_route_is_in_the_route_table():
    document = json.loads(render())
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in ROUTES if r.path not in UNDOCUMENTED_PATHS}
    assert document["paths"]["/health"]["get"]["security"] == []
    assert "401" in document["paths"]["/api/v1/logs/search"]["get"]["responses"]


def test_a_route_keeps_its_own_422_and_none_keeps_powertools_validation():
    """Validation errors are answered as 400, so Powertools' 422 is left out of every
    route; a route's own 422 (ask's "not understood", with its suggestions) is its
    contract and stays (schemathesis found it answered and undocumented)."""
    document = json.loads(render())
    asked = document["paths"]["/api/v1/logs/ask"]["post"]["responses"]["422"]
    assert asked["content"]["application/json"]["schema"]["$ref"].endswith("/NotUnderstoodResponse")
    assert "HTTPValidationError" not in json.dumps(document)
