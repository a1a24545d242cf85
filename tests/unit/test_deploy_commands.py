"""docs/DEPLOY.md's commands run as written up to the first call to a cloud: wrangler is the
one pinned in workers/package.json, never whatever npx would fetch."""

from __future__ import annotations

import json
import re
import subprocess

from logsvc_local.project import ROOT

DEPLOY = (ROOT / "docs" / "DEPLOY.md").read_text()


def test_no_command_block_runs_a_bare_wrangler():
    blocks = re.findall(r"```bash\n(.*?)```", DEPLOY, re.DOTALL)
    assert blocks
    for block in blocks:
        moved_in = False  # a block that changes into workers/ finds the pin from there
        for line in block.splitlines():
            moved_in = moved_in or "cd workers" in line
            assert "npx wrangler" not in line or moved_in, line


def test_the_documented_wrangler_runs_the_pinned_version():
    (export,) = re.findall(r'export WRANGLER="([^"]+)"', DEPLOY)
    done = subprocess.run(
        ["bash", "-c", f"{export} --version"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    pinned = json.loads((ROOT / "workers" / "package.json").read_text())["devDependencies"][
        "wrangler"
    ]
    assert done.stdout.strip().endswith(pinned.lstrip("^~="))
