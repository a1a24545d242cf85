"""Fixtures shared by every test layer: a migrated SQLite file, an archive, the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logsvc import components
from logsvc.sql import open_database
from logsvc.sql.migrations import apply_migrations
from logsvc_local.project import MIGRATIONS_DIR
from tests.support.api import Api
from tests.support.d1_bridge import OBJECTS, D1Bridge
from tests.support.d1_bridge import SECRET as BRIDGE_SECRET
from tests.support.d1_standin import TOKEN, D1StandIn

API_KEY = "test-api-key-0123456789"


def migrated_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    db = open_database(url, create=True)
    apply_migrations(db, MIGRATIONS_DIR)
    db.close()
    return url


@pytest.fixture
def d1(tmp_path: Path) -> Iterator[D1StandIn]:
    """A D1 REST stand-in over a migrated SQLite file."""
    migrated_sqlite(tmp_path / "d1.sqlite")
    with D1StandIn(str(tmp_path / "d1.sqlite")) as standin:
        yield standin


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite file, selected through DATABASE_URL."""
    url = migrated_sqlite(tmp_path / "logs.db")
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture(params=["sqlite", "d1", "d1-bridge"])
def any_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """SQLite, the D1 REST stand-in, and real D1 (local, in workerd) through the bridge
    Worker: the same SQL must pass on all three."""
    fixture = {"sqlite": "sqlite_url", "d1": "d1_url", "d1-bridge": "d1_bridge_url"}
    return request.getfixturevalue(fixture[request.param])


@pytest.fixture(scope="session")
def d1_bridge() -> Iterator[D1Bridge]:
    bridge = D1Bridge()
    yield bridge
    bridge.stop()


@pytest.fixture
def d1_bridge_url(d1_bridge: D1Bridge, monkeypatch: pytest.MonkeyPatch) -> str:
    """A freshly migrated local D1 database behind the bridge, selected through DATABASE_URL."""
    db = open_database(d1_bridge.database_url, bridge_secret=BRIDGE_SECRET)
    db.run_script("\n".join(f"DROP {kind} IF EXISTS {name};" for kind, name in OBJECTS))
    apply_migrations(db, MIGRATIONS_DIR)
    db.close()
    monkeypatch.setenv("DATABASE_URL", d1_bridge.database_url)
    monkeypatch.setenv("D1_BRIDGE_SECRET", BRIDGE_SECRET)
    return d1_bridge.database_url


@pytest.fixture
def d1_url(d1: D1StandIn, monkeypatch: pytest.MonkeyPatch) -> str:
    """The D1 REST stand-in, selected through DATABASE_URL."""
    monkeypatch.setenv("DATABASE_URL", d1.url)
    monkeypatch.setenv("D1_API_TOKEN", TOKEN)
    monkeypatch.setenv("D1_API_BASE_URL", d1.base_url)
    return d1.url


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's AWS in this process (us-east-1), with made-up credentials."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def _api(archive_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("ARCHIVE_URL", archive_dir.as_uri())
    monkeypatch.setenv("LOG_SERVICE_API_KEY", API_KEY)
    components.reset()
    yield Api(API_KEY)
    components.reset()


@pytest.fixture
def api(sqlite_url: str, archive_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API on a SQLite file and a local archive folder, handlers called in-process."""
    yield from _api(archive_dir, monkeypatch)


@pytest.fixture
def api_any_db(
    any_database: str, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    """The API on SQLite, then on D1 (REST stand-in)."""
    yield from _api(archive_dir, monkeypatch)


@pytest.fixture
def api_d1(d1_url: str, archive_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API on D1 (REST stand-in)."""
    yield from _api(archive_dir, monkeypatch)
