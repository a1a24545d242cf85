"""`npx cdk synth` as a platform engineer runs it: layers bundled here, without Docker."""

import json
import os
import shutil
import subprocess

from logsvc_local.project import ROOT


def test_cdk_cli_synthesizes_with_layers_bundled_locally(tmp_path):
    assert shutil.which("npx"), "Node.js and npm are needed for the CDK CLI"
    # As a platform engineer's shell has it: no jsii silencing set (app.py sets its own).
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JSII_SILENCE")}
    environment |= {"CDK_DISABLE_CLI_TELEMETRY": "1", "DOCKER_HOST": "unix:///nonexistent"}
    done = subprocess.run(
        [
            *("npx", "--no-install", "cdk", "synth", "--quiet", "--ci"),
            *("-c", "d1_account_id=test-account", "-c", "d1_database_id=test-database"),
            *("--output", str(tmp_path)),
        ],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
        timeout=600,
    )
    assert b"end-of-life" not in done.stdout + done.stderr  # jsii's Node 20 banner
    manifest = json.loads((tmp_path / "Logsvc-Ingest.assets.json").read_text())
    staged = [
        tmp_path / asset["source"]["path"]
        for asset in manifest["files"].values()
        if asset["source"].get("packaging") == "zip"
    ]
    contents = {path: {p.relative_to(path).as_posix() for p in path.rglob("*")} for path in staged}
    core = next(files for files in contents.values() if "python/logsvc/routes.py" in files)
    assert "openapi.json" in core
    assert not any("__pycache__" in name for name in core)
    deps = next(files for files in contents.values() if "python/pydantic" in files)
    assert any(name.startswith("python/pydantic_core/") and "aarch64" in name for name in deps), (
        "the base layer must hold arm64 wheels"
    )
    assert any(name.startswith("python/orjson/") for name in deps)
    # The ingest function's layers: base, LogQL, sources; never the archive engine.
    assert any(
        "python/opentelemetry/proto" in name for files in contents.values() for name in files
    )
    assert not any(name.startswith("python/duckdb") for f in contents.values() for name in f)
    # Bytecode only for the runtime's own Python (none when it is not on this machine):
    # never this machine's, which Lambda could not use.
    if shutil.which("python3.14") is None:
        assert not [name for name in deps | core if name.endswith(".pyc")]
    assert not [name for name in deps if name.startswith("python/bin/")]
    handler = next(files for files in contents.values() if files == {"handler.py"})
    assert handler
