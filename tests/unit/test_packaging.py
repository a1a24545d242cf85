"""The package as `pip install .` (not editable) lays it out: every module imports and the
console's files are there, so nothing works only because the checkout is beside it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIP = (sys.executable, "-m", "pip")
QUIET = ("--quiet", "--no-deps")
PACKAGE_ROOTS = {
    "logsvc": ROOT / "layers" / "core" / "python" / "logsvc",
    "logsvc_local": ROOT / "local" / "logsvc_local",
}

# Run inside the fresh environment: import every module the checkout has, then serve the
# console's page and script the way the health function does.
CHECK = """
import importlib, json, sys
modules = json.loads(sys.argv[1])
for name in modules:
    module = importlib.import_module(name)
    assert sys.prefix in module.__file__, (name, module.__file__)
from logsvc.api import console
page = console.page(None)
script = console.asset("console.js", None)
print(json.dumps({"imported": len(modules), "page": page.body[:200],
                  "script_bytes": len(script.body), "status": page.status_code}))
"""


def checkout_modules() -> list[str]:
    names = []
    for package, folder in PACKAGE_ROOTS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = (package, *path.relative_to(folder).with_suffix("").parts)
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_a_non_editable_install_imports_every_module_and_serves_the_console(tmp_path: Path):
    # Built from a copy: setuptools leaves a build/ folder beside the sources it builds.
    source = tmp_path / "source"
    (source / "layers" / "core").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "layers" / "core" / "python", source / "layers" / "core" / "python")
    shutil.copytree(ROOT / "local", source / "local")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [*PIP, "wheel", *QUIET, "--wheel-dir", str(wheels), str(source)],
        check=True,
        cwd=tmp_path,
        capture_output=True,
    )
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The wheel's files go into the fresh environment as pip would put them; its
    # dependencies are borrowed from the test's environment through a .pth line (a folder
    # added that way has its own .pth files ignored, so the editable checkout stays out).
    subprocess.run(
        [*PIP, "install", *QUIET, "--target", site, str(next(wheels.glob("logsvc-*.whl")))],
        check=True,
        capture_output=True,
    )
    Path(site, "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    modules = checkout_modules()
    result = subprocess.run(
        [python, "-c", CHECK, json.dumps(modules)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: nothing may be found beside it
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    assert answer["imported"] == len(modules) > 90
    assert answer["status"] == 200
    assert "<!doctype html>" in answer["page"].lower()
    assert answer["script_bytes"] > 10_000
