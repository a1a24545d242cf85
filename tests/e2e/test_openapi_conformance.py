"""schemathesis against the committed OpenAPI document, over HTTP to the local server:
no 5xx, and every answer's status, content type and body match the document."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from logsvc_local.project import OPENAPI_PATH
from tests.e2e.conftest import Server

# Replay posts to the URL in its body: generated URLs would send traffic off this machine.
# tests/e2e/test_replay.py covers its answers, good and bad, against servers on 127.0.0.1.
schema = schemathesis.openapi.from_path(OPENAPI_PATH).exclude(path="/api/v1/admin/replay")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_document(case, server: Server):
    case.call_and_validate(
        base_url=server.url,
        headers=server.headers,
        timeout=30,
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
        ],
    )
