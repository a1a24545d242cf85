"""Lambda layers built on this machine, without Docker: the shared package, and the pinned
third-party packages for arm64 (manylinux2014_aarch64, CPython of the runtime) as a few
layers, one per requirements file in layers/deps, so a function carries only the libraries
it imports (the ingest function has no DuckDB)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = "3.14"  # of RUNTIME: the dependencies layer's wheels must match it
ARCHITECTURE = lambda_.Architecture.ARM_64
OPENAPI_DOCUMENT = ROOT / "docs" / "openapi.json"  # shipped in the core layer
LIBRARIES = ROOT / "layers" / "deps"  # <name>.txt: the pins of the layer <name>
BASE_LIBRARIES = "base"  # every function's; the others are FunctionSpec.libraries
_NOT_SHIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
# BundlingOptions needs an image; it is never pulled because local bundling always succeeds.
_NO_DOCKER = cdk.DockerImage.from_registry("local-bundling-only")


@jsii.implements(cdk.ILocalBundling)
class _CopyCorePackage:
    """layers/core/python as /opt/python, and the OpenAPI document as /opt/openapi.json."""

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        shutil.copytree(
            ROOT / "layers" / "core" / "python",
            Path(output_dir) / "python",
            ignore=_NOT_SHIPPED,
            dirs_exist_ok=True,
        )
        shutil.copy(OPENAPI_DOCUMENT, Path(output_dir) / "openapi.json")
        compile_for_target(Path(output_dir) / "python")
        return True


@jsii.implements(cdk.ILocalBundling)
class _PipInstall:
    """pip installs the pinned requirements for Lambda's platform into /opt/python."""

    def __init__(self, requirements: Path, wheelhouse: str):
        self.requirements = requirements
        self.wheelhouse = wheelhouse

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--platform",
            "manylinux2014_aarch64",
            "--platform",  # DuckDB's wheels (glibc 2.28; Lambda's Amazon Linux 2023 has 2.34)
            "manylinux_2_28_aarch64",
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--only-binary=:all:",
            "--no-compile",  # bytecode of this machine's Python would be dead weight
            "--target",
            str(Path(output_dir) / "python"),
            "-r",
            str(self.requirements),
        ]
        if self.wheelhouse:
            command += ["--no-index", "--find-links", self.wheelhouse]
        subprocess.run(command, check=True)  # noqa: S603 - fixed arguments
        shutil.rmtree(Path(output_dir) / "python" / "bin", ignore_errors=True)  # console scripts
        compile_for_target(Path(output_dir) / "python")
        return True


def compile_for_target(folder: Path, version: str | None = None) -> bool:
    """Bytecode for the target runtime, when its interpreter is on this machine.

    /opt is read-only on Lambda, so a layer without matching bytecode is compiled from
    source at every cold start (measured here: importing the ingest handler takes 0.55 s
    compiling, 0.16 s from bytecode). Hash-based pycs ("unchecked-hash") stay valid although
    the asset zip resets every file's time. Without the interpreter the layer ships none.
    """
    interpreter = shutil.which(f"python{version}") if version else target_interpreter()
    if interpreter is None:
        return False
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(folder),
        ],
        check=True,
    )
    return True


def build_inputs_hash(*parts: str | Path) -> str:
    """What goes into a bundle, hashed: files (whole folders, caches left out) and words such
    as the target runtime and architecture. CDK hashes only an asset's source folder, so a
    changed OpenAPI document or a runtime bump would otherwise reuse the old upload."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
            for path in files:
                if "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                name = path.relative_to(part).as_posix() if part.is_dir() else path.name
                digest.update(name.encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
        else:
            digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def _target() -> str:
    """The runtime a bundle is for, and whether its bytecode can be built here."""
    bytecode = "bytecode" if target_interpreter() else "source"
    return f"{RUNTIME.name}/{ARCHITECTURE.name}/{bytecode}"


def target_interpreter() -> str | None:
    return shutil.which(f"python{PYTHON_VERSION}")


def check_bytecode(scope: Construct, required: bool) -> None:
    """Say, at synthesis, when the layers will ship without bytecode for the runtime."""
    if target_interpreter():
        return
    message = (
        f"python{PYTHON_VERSION} is not on this machine: the layers ship no bytecode for "
        f"{RUNTIME.name}, so every cold start compiles them (about 0.3-1 s; "
        "docs/PERFORMANCE.md). Synthesize where it is installed."
    )
    if required:
        raise ValueError(f"context layer_bytecode=required: {message}")
    cdk.Annotations.of(scope).add_warning_v2("logsvc:layer-bytecode", message)


def core_layer(scope: Construct) -> lambda_.LayerVersion:
    return lambda_.LayerVersion(
        scope,
        "CoreLayer",
        description="logsvc shared package and OpenAPI document",
        code=lambda_.Code.from_asset(
            str(ROOT / "layers" / "core"),
            bundling=cdk.BundlingOptions(image=_NO_DOCKER, local=_CopyCorePackage()),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            asset_hash=build_inputs_hash(
                ROOT / "layers" / "core" / "python", OPENAPI_DOCUMENT, _target()
            ),
        ),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
    )


def library_names() -> list[str]:
    return sorted(path.stem for path in LIBRARIES.glob("*.txt"))


def library_layer(scope: Construct, name: str, wheelhouse: str) -> lambda_.LayerVersion:
    """The layer of the packages pinned in layers/deps/<name>.txt."""
    requirements = LIBRARIES / f"{name}.txt"
    if not requirements.is_file():
        raise ValueError(f"no layer named {name!r}: {requirements} does not exist")
    return lambda_.LayerVersion(
        scope,
        f"{name.title()}Libraries",
        description=f"Pinned third-party packages: {name} (layers/deps/{name}.txt)",
        code=lambda_.Code.from_asset(
            str(LIBRARIES),
            bundling=cdk.BundlingOptions(
                image=_NO_DOCKER, local=_PipInstall(requirements, wheelhouse)
            ),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            asset_hash=build_inputs_hash(
                requirements,
                _target(),
                f"python{PYTHON_VERSION}",
                "manylinux2014_aarch64",
                "manylinux_2_28_aarch64",
            ),
        ),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
    )
