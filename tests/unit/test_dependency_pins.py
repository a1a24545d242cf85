"""The Lambda layers pin the same versions the tests run with."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict[str, str]:
    result = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            result[name.lower().replace("_", "-")] = version
    return result


def test_layer_pins_match_the_development_constraints():
    layer: dict[str, str] = {}
    for path in sorted((ROOT / "layers" / "deps").glob("*.txt")):
        assert pins(path), f"no pins in {path.relative_to(ROOT)}"
        layer |= pins(path)
    constraints = pins(ROOT / "constraints.txt")
    mismatched = {n: (v, constraints.get(n)) for n, v in layer.items() if constraints.get(n) != v}
    assert mismatched == {}
