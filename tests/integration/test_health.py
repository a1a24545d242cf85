"""GET /health: no key needed, 503 when the database cannot be reached."""

from logsvc import VERSION, components
from logsvc_local.project import OPENAPI_PATH


def test_healthy(api_any_db):
    response = api_any_db.call("GET", "/health", key=None)
    assert response.status == 200
    assert response.body["status"] == "healthy"
    assert response.body["db"] == "connected"
    assert (response.body["service"], response.body["version"]) == ("logsService", VERSION)


def test_sqlite_file_missing_is_503_disconnected(api, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'no-such-dir' / 'logs.db'}")
    components.reset()
    response = api.call("GET", "/health", key=None)
    assert response.status == 503
    assert (response.body["status"], response.body["db"]) == ("unhealthy", "disconnected")


def test_d1_failing_is_503_disconnected(api_d1, d1):
    d1.fail_next(500, "Internal error", times=10)
    response = api_d1.call("GET", "/health", key=None)
    assert (response.status, response.body["db"]) == (503, "disconnected")


def test_openapi_document_is_served(api, monkeypatch):
    monkeypatch.setenv("OPENAPI_DOCUMENT", str(OPENAPI_PATH))
    components.reset()
    response = api.call("GET", "/openapi.json", key=None)
    assert response.status == 200
    assert "/api/v1/logs/search" in response.body["paths"]


def test_openapi_document_not_bundled_is_404(api):
    assert api.call("GET", "/openapi.json", key=None).status == 404


def test_a_broken_archive_makes_health_say_so(api, archive_dir):
    archive_dir.parent.mkdir(parents=True, exist_ok=True)
    archive_dir.write_text("a file where the archive folder should be")
    answer = api.call("GET", "/health", key=None)
    assert answer.status == 503
    assert (answer.body["db"], answer.body["archive"]) == ("connected", "disconnected")
    archive_dir.unlink()
    components.reset()
    healthy = api.call("GET", "/health", key=None)
    assert (healthy.status, healthy.body["archive"]) == (200, "connected")
