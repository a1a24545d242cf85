"""Build every stack of the service into a CDK app (used by app.py and the tests)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from logsvc.routes import FUNCTIONS as HTTP_FUNCTIONS
from logsvc.routes import STREAM_FUNCTION
from stacks.api_stack import ApiStack
from stacks.capabilities import DrainsIngestBuffer
from stacks.core_stack import CoreStack
from stacks.function_stack import FUNCTION_SPECS, FunctionStack
from stacks.layers import ROOT, check_bytecode
from stacks.settings import DeploymentSettings


def build(app: cdk.App) -> dict[str, cdk.Stack]:
    """Core, one stack per function found in the functions folder, then the API."""
    settings = DeploymentSettings.from_context(app.node)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    prefix = settings.stack_prefix
    core = CoreStack(
        app,
        f"{prefix}-Core",
        settings=settings,
        description="logsvc: archive bucket, secrets, alarm topic",
    )
    # On a stack: the CLI prints a stack's warnings, not the app's.
    check_bytecode(core, required=settings.layer_bytecode == "required")
    stacks: dict[str, cdk.Stack] = {"core": core}
    live_tail = ingest_buffer = None
    for name in sorted(deployed_functions(settings), key=STACK_ORDER.index):
        stack = FunctionStack(
            app,
            f"{prefix}-{name.title()}",
            name=name,
            spec=FUNCTION_SPECS[name],
            core=core,
            settings=settings,
            live_tail=live_tail,
            ingest_buffer=ingest_buffer,
            description=f"logsvc: the {name} function",
        )
        live_tail = live_tail or stack.live_tail
        ingest_buffer = ingest_buffer or stack.ingest_buffer
        stacks[name] = stack
    function_arns = {name: stacks[name].function.function_arn for name in HTTP_FUNCTIONS}
    stacks["api"] = ApiStack(
        app,
        f"{prefix}-Api",
        core=core,
        function_arns=function_arns,
        settings=settings,
        description="logsvc: REST API, WAF, dashboard",
    )
    return stacks


# The order stacks are built (and `cdk deploy --all` deploys them): Core first; then the
# stacks that own what others use (the live-tail WebSocket API, the ingest stream); the API
# last, since it points at every HTTP function.
STACK_ORDER: tuple[str, ...] = (
    STREAM_FUNCTION,
    "writer",
    "ingest",
    "search",
    "ask",
    "config",
    "health",
    "cleanup",
    "analyze",
)


def deployed_functions(settings: DeploymentSettings) -> list[str]:
    """Every function with code in the functions folder; each must have a FunctionSpec."""
    folder = Path(ROOT, settings.functions_dir)
    names = sorted(p.name for p in folder.iterdir() if (p / "handler.py").is_file())
    unknown = [name for name in names if name not in FUNCTION_SPECS or name not in STACK_ORDER]
    if unknown:
        raise ValueError(
            f"functions without a FunctionSpec (stacks/function_stack.py) or a place in "
            f"STACK_ORDER (stacks/app_builder.py): {unknown}"
        )
    if settings.buffered_ingest == "false":  # the writer drains a buffer that is not there
        names = [name for name in names if not FUNCTION_SPECS[name].has(DrainsIngestBuffer)]
    return names
