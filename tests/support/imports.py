"""What a Lambda function's code may import, read from the source (no import is run).

From the handler, every ``import`` of the modules it reaches counts, in functions too (the
package imports heavy libraries where they are used, to keep cold starts short), except in
``logsvc.components``: there only the builders the function's code names
(``components.querier``), and the builders those call, count. So the search function
reaches DuckDB through ``components.archive_engine`` and the ingest function does not.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

COMPOSITION_ROOT = "logsvc.components"


@dataclass
class Reach:
    modules: set[str] = field(default_factory=set)  # the package's modules reached
    libraries: dict[str, str] = field(default_factory=dict)  # module imported -> its importer
    builders: set[str] = field(default_factory=set)  # components' builders named


def reach(handler: Path, package_root: Path) -> Reach:
    found = Reach()
    tree = ast.parse(handler.read_text())
    builders = _builders(package_root)
    named: set[str] = set()
    pending = [(name, "handler") for name in _imports(tree, "handler", False)]
    _names_of_components(tree, named)
    while True:
        while pending:
            name, importer = pending.pop()
            if name.startswith(f"{COMPOSITION_ROOT}."):  # from logsvc.components import x
                named.add(name.removeprefix(f"{COMPOSITION_ROOT}."))
            top = name.split(".")[0]
            if top != "logsvc":
                if top not in sys.stdlib_module_names and top != "__future__":
                    found.libraries.setdefault(name, importer)
                continue
            path = _module_file(package_root, name)
            if path is None or name in found.modules:
                continue
            found.modules.add(name)
            module = ast.parse(path.read_text())
            _names_of_components(module, named)
            if name == COMPOSITION_ROOT:
                body = [n for n in module.body if isinstance(n, (ast.Import, ast.ImportFrom))]
                imported = _imports(ast.Module(body=body, type_ignores=[]), name, False)
            else:
                imported = _imports(module, name, path.name == "__init__.py")
            pending += [(other, name) for other in imported]
            parts = name.split(".")
            pending += [(".".join(parts[:i]), name) for i in range(1, len(parts))]
        new = sorted(named & builders.keys() - found.builders)
        if not new:
            return found
        for builder in new:
            found.builders.add(builder)
            node = builders[builder]
            where = f"{COMPOSITION_ROOT}.{builder}"
            pending += [(other, where) for other in _imports(node, COMPOSITION_ROOT, False)]
            named |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def distributions(modules: set[str]) -> set[str]:
    """The installed distributions providing these modules, with what they require (extras
    left out), as normalised names. A module is looked up by its own path, so a namespace
    package (``google``, ``opentelemetry``) names only the distribution that holds it."""
    owners = _module_owners()
    found: set[str] = set()
    pending = []
    for module in modules:
        parts = module.split(".")
        for size in range(len(parts), 0, -1):
            if owners.get(".".join(parts[:size])):
                pending += owners[".".join(parts[:size])]
                break
        else:
            pending.append(parts[0])  # not installed here: its own name says what is missing
    while pending:
        name = normalise(pending.pop())
        if name in found:
            continue
        found.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" in requirement.replace("extra==", "extra =="):
                continue
            pending.append(_requirement_name(requirement))
    return found


@cache
def _module_owners() -> dict[str, list[str]]:
    """Module (and package) names -> the distributions whose files hold them."""
    owners: dict[str, set[str]] = defaultdict(set)
    for distribution in importlib.metadata.distributions():
        for file in distribution.files or []:
            if file.suffix not in (".py", ".so", ".pyd") or ".." in file.parts:
                continue
            parts = list(file.with_suffix("").parts)
            parts[-1] = parts[-1].split(".")[0]  # _re2.cpython-311-x86_64-linux-gnu
            if parts[-1] == "__init__":
                parts.pop()
            for size in range(1, len(parts) + 1):
                owners[".".join(parts[:size])].add(distribution.metadata["Name"])
    # A top-level namespace is held by every distribution under it: only exact names count.
    return {name: sorted(holders) for name, holders in owners.items()}


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _requirement_name(requirement: str) -> str:
    for stop in " ;<>=!~([":
        requirement = requirement.split(stop)[0]
    return requirement


def _module_file(root: Path, name: str) -> Path | None:
    path = root.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module an import statement in ``tree`` names (``from a import b`` names
    ``a`` and ``a.b``, which may be a module)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base = parts[: len(parts) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.add(source)
            names |= {f"{source}.{alias.name}" for alias in node.names}
    return names


def _builders(root: Path) -> dict[str, ast.FunctionDef]:
    path = _module_file(root, COMPOSITION_ROOT)
    assert path is not None
    module = ast.parse(path.read_text())
    return {node.name: node for node in module.body if isinstance(node, ast.FunctionDef)}


def _names_of_components(tree: ast.AST, named: set[str]) -> None:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "components"
        ):
            named.add(node.attr)
