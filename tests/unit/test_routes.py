"""The route table: matching as API Gateway does, and agreement with every function."""

import pytest

from logsvc.routes import FUNCTIONS, ROUTES, UNDOCUMENTED_PATHS, allowed_methods, match_route
from logsvc_local.project import load_handler


def test_paths_match_with_parameters_decoded():
    route, params = match_route("GET", "/api/v1/logs/logs/abc%2D1/full")
    assert (route.function, route.path, params) == (
        "search",
        "/api/v1/logs/logs/{id}/full",
        {"id": "abc-1"},
    )
    assert match_route("GET", "/api/v1/logs/config/svc")[0].function == "config"
    assert match_route("PUT", "/api/v1/logs/config/svc")[0].function == "config"


def test_unknown_paths_and_methods_do_not_match():
    assert match_route("GET", "/api/v1/logs/logs/a/b") is None
    assert match_route("DELETE", "/api/v1/logs/config/x") is None
    assert allowed_methods("/api/v1/logs/config/x") == ["GET", "PUT"]
    assert allowed_methods("/nope") == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_serves_exactly_its_routes(function):
    """The table and the handlers' decorators cannot drift apart."""
    app = load_handler(function).app
    served = {
        (method.upper(), path)
        for path, item in app.get_openapi_schema().paths.items()
        for method in ("get", "put", "post", "delete")
        if getattr(item, method) is not None
    }
    expected = {
        (r.method, r.path)
        for r in ROUTES
        if r.function == function and r.path not in UNDOCUMENTED_PATHS  # served, undocumented
    }
    assert served == expected
