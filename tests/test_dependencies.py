"""environment.yml (conda) and pyproject.toml (pip) list the same packages with the same lower
bounds, so that a conda user and a pip user test the same thing and neither list drifts."""
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")


def lower_bounds(specs) -> dict[str, str | None]:
    """name -> the version after '>=' (None without one), names normalised as pip does."""
    out = {}
    for spec in specs:
        req = Requirement(spec)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name not in out, f"{name} is listed twice"
        out[name] = next((s.version for s in req.specifier if s.operator == ">="), None)
    return out


def pyproject() -> tuple[dict, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    merged = {}  # the main list and every extra (test and lab share jupyterlab, ipywidgets)
    for group in [project["dependencies"], *project.get("optional-dependencies", {}).values()]:
        for name, bound in lower_bounds(group).items():
            assert merged.get(name, bound) == bound, f"{name}: two lower bounds in pyproject.toml"
            merged[name] = bound
    python = re.fullmatch(r">=\s*([\d.]+)", project["requires-python"]).group(1)
    return merged, python


def environment() -> tuple[dict, str]:
    deps = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = [p for d in deps if isinstance(d, dict) for p in d.get("pip", [])]
    python = lower_bounds([d for d in conda if d.startswith("python")])["python"]
    rest = [d for d in conda if not d.startswith("python") and d != "pip"] + pip
    return lower_bounds(rest), python


def test_same_packages_and_lower_bounds():
    pip_side, pip_python = pyproject()
    conda_side, conda_python = environment()
    only_pip = sorted(set(pip_side) - set(conda_side))
    only_conda = sorted(set(conda_side) - set(pip_side))
    assert not only_pip, f"in pyproject.toml but not environment.yml: {only_pip}"
    assert not only_conda, f"in environment.yml but not pyproject.toml: {only_conda}"
    differ = {n: (pip_side[n], conda_side[n]) for n in pip_side if pip_side[n] != conda_side[n]}
    assert not differ, f"lower bounds differ (pyproject.toml, environment.yml): {differ}"
    assert pip_python == conda_python, (pip_python, conda_python)


def test_every_dependency_has_a_lower_bound():
    deps, _ = pyproject()
    assert not [n for n, v in deps.items() if v is None]
