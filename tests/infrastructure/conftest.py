"""Synthesize the CDK app once per session (layers not bundled: that is test_synth's job)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
# Node 20 is past jsii's end of life; the check names the major versions to stay quiet for.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk

from logsvc_local.project import ROOT
from stacks.app_builder import build


def synthesize(outdir: Path, **context: Any) -> dict[str, dict]:
    """Every stack's template, by stack name, from the app built with cdk.json's context."""
    defaults = {
        **json.loads((ROOT / "cdk.json").read_text())["context"],
        # A deployment names its D1 database (synthesis refuses placeholders).
        "d1_account_id": "test-account",
        "d1_database_id": "test-database",
    }
    app = cdk.App(
        outdir=str(outdir), context={**defaults, "aws:cdk:bundling-stacks": [], **context}
    )
    stacks = build(app)
    assembly = app.synth()
    return {
        stack.stack_name: assembly.get_stack_by_name(stack.stack_name).template
        for stack in stacks.values()
    }


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def templates(synth_dir: Path) -> dict[str, dict]:
    return synthesize(synth_dir)
