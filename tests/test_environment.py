"""environment.yml (conda) and pyproject.toml/.ci/setup (pip) ask for the same packages."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def _pip_section():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {_norm(r) for r in pip if not r.startswith("-")}


def test_every_pyproject_requirement_is_in_environment_yml():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_norm(r) for r in extra}
    missing = wanted - _pip_section()
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def test_torch_pins_match_ci_setup():
    setup = (ROOT / ".ci" / "setup").read_text()
    pins = set(re.findall(r'"((?:torch|torchvision|numpy|cython)[=<>][^"]+)"', setup))
    assert pins, "no torch pins found in .ci/setup"
    missing = {_norm(p) for p in pins} - _pip_section()
    assert not missing, f"environment.yml lacks .ci/setup's pins {sorted(missing)}"


def test_mmpose_pin_is_consistent():
    setup = (ROOT / ".ci" / "setup").read_text()
    assert '"mmpose==1.1.0"' in setup
    assert "mmpose==1.1.0" in (ROOT / "environment.yml").read_text()
