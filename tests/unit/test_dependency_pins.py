"""The Lambda dependencies layer pins the same versions the tests run with."""

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
    layer = pins(ROOT / "layers" / "deps" / "requirements.txt")
    constraints = pins(ROOT / "constraints.txt")
    assert layer, "no pins in layers/deps/requirements.txt"
    mismatched = {n: (v, constraints.get(n)) for n, v in layer.items() if constraints.get(n) != v}
    assert mismatched == {}
