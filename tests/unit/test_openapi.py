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
