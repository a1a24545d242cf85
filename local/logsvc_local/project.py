"""Where the project's pieces are on disk, and the local data directory's layout."""

from __future__ import annotations

import importlib.util
import os
import secrets
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
MIGRATIONS_DIR = ROOT / "migrations"
OPENAPI_PATH = ROOT / "docs" / "openapi.json"


@cache
def load_handler(function: str) -> ModuleType:
    """Import functions/<function>/handler.py as Lambda would, under a unique module name."""
    path = FUNCTIONS_DIR / function / "handler.py"
    spec = importlib.util.spec_from_file_location(f"logsvc_functions.{function}.handler", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no handler at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def local_environment(data_dir: Path) -> dict[str, str]:
    """The settings a local server runs with; values already in the environment win.

    With D1 as the index, ingest goes through a buffer file in the data directory (each
    D1 request counts against Cloudflare's account-wide limit); with a SQLite file the
    direct buffer hands each request to the writer at once (logsvc.topology), unless
    INGEST_BUFFER says otherwise."""
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'logs.db'}"
    default_buffer = "off" if database_url.startswith("sqlite:") else buffer_url(data_dir)
    return {
        "DATABASE_URL": database_url,
        "INGEST_BUFFER": os.environ.get("INGEST_BUFFER") or default_buffer,
        "ARCHIVE_URL": os.environ.get("ARCHIVE_URL") or (data_dir / "archive").as_uri(),
        "OPENAPI_DOCUMENT": os.environ.get("OPENAPI_DOCUMENT") or str(OPENAPI_PATH),
        "LOG_SERVICE_API_KEY": os.environ.get("LOG_SERVICE_API_KEY") or local_api_key(data_dir),
        # CloudWatch metrics (EMF lines on stdout) mean nothing without CloudWatch.
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED") or "true",
    }


def buffer_url(data_dir: Path) -> str:
    return (data_dir / "buffer.db").as_uri()


def local_api_key(data_dir: Path) -> str:
    """The key kept in the data directory, generated on first use (readable by its owner only)."""
    path = data_dir / "api_key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def configure(data_dir: Path, *, create: bool = False) -> dict[str, str]:
    """The local settings for this data directory, in the environment; reset components."""
    if create:
        data_dir.mkdir(parents=True, exist_ok=True)
    environment = local_environment(data_dir.resolve())
    os.environ.update(environment)
    from logsvc import components

    components.reset()
    return environment
