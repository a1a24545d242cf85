"""Each function carries the layers of the libraries its code imports, and no others: the
ingest, health, config, stream and writer functions do without DuckDB (60 MB of the 116 MB
one layer used to hold)."""

from __future__ import annotations

import pytest

from stacks.function_stack import FUNCTION_SPECS
from stacks.layers import BASE_LIBRARIES, LIBRARIES, library_names
from tests.infrastructure.test_stacks import resources
from tests.support.imports import distributions, normalise, reach
from tests.unit.test_dependency_pins import pins

ROOT = LIBRARIES.parents[1]
PACKAGE = ROOT / "layers" / "core" / "python"


def packages_of(library: str) -> set[str]:
    return set(pins(LIBRARIES / f"{library}.txt"))


def needed(function: str) -> set[str]:
    found = reach(ROOT / "functions" / function / "handler.py", PACKAGE)
    return distributions(set(found.libraries))


@pytest.mark.parametrize("function", sorted(FUNCTION_SPECS))
def test_a_function_has_every_library_it_may_import(function):
    spec = FUNCTION_SPECS[function]
    carried = set().union(*(packages_of(n) for n in (BASE_LIBRARIES, *spec.libraries)))
    missing = needed(function) - carried
    assert missing == set(), f"{function} imports {sorted(missing)} but its layers lack them"


@pytest.mark.parametrize("function", sorted(FUNCTION_SPECS))
def test_a_function_carries_no_layer_it_never_imports(function):
    wanted = needed(function)
    unused = [n for n in FUNCTION_SPECS[function].libraries if not packages_of(n) & wanted]
    assert unused == [], f"{function} never imports what the layers {unused} hold"


def test_the_http_functions_that_need_no_archive_engine_carry_none():
    without = {n for n, spec in FUNCTION_SPECS.items() if "archive" not in spec.libraries}
    assert without == {"ingest", "health", "config", "stream", "writer", "analyze"}
    assert "duckdb" not in set().union(*(needed(n) for n in without))


def test_the_layers_pin_each_package_once():
    seen: dict[str, str] = {}
    for library in library_names():
        for package in packages_of(library):
            assert package not in seen, f"{package} in {seen.get(package)}.txt and {library}.txt"
            seen[package] = library
    assert normalise("duckdb") in seen and seen["duckdb"] != BASE_LIBRARIES


def test_the_reading_follows_the_composition_root_builders_named():
    """The rule the tests above rest on: a builder of components counts only when named."""
    health = reach(ROOT / "functions" / "health" / "handler.py", PACKAGE)
    search = reach(ROOT / "functions" / "search" / "handler.py", PACKAGE)
    assert "archive_engine" in search.builders and "archive_engine" not in health.builders
    assert search.libraries["duckdb"].startswith("logsvc.")  # the module that imports it
    assert "logsvc.archive.duckdb_engine" in search.modules
    assert "logsvc.archive.duckdb_engine" not in health.modules


def test_each_function_stack_lists_its_layers(templates):
    for name, spec in FUNCTION_SPECS.items():
        template = templates[f"Logsvc-{name.title()}"]
        (function,) = resources(template, "AWS::Lambda::Function").values()
        layers = resources(template, "AWS::Lambda::LayerVersion")
        described = sorted(
            v["Description"].split(": ")[1].split()[0]
            for v in layers.values()
            if "third-party" in v["Description"]
        )
        assert described == sorted((BASE_LIBRARIES, *spec.libraries))
        assert len(function["Layers"]) == 1 + len(described) <= 5  # Lambda's most
