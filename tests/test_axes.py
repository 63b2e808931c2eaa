"""The axis protocol (weedout/axes): every way a run departs from the paper's grid is one module
behind one interface, and the stages, 03_analysis and the report loop over a run's active axes.

- nothing above the axes (pipeline, cluster, report, cli) reads an axis's settings itself;
- a plug-in registers a toy axis of its own (WEEDOUT_PLUGINS), the smoke grid runs through all
  four notebooks, and its table is written and its summary shown in 03_analysis;
- 03_analysis of a run shows the summaries of its own axes and no other.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from weedout import config
from weedout.axes import registry
from weedout.config import paths

ROOT = paths.ROOT


def _axis_fields() -> set[str]:
    return {f for a in registry.AXES for f in a.fields}


def test_every_axis_field_is_a_config_field_and_owned_once():
    names = [f for a in registry.AXES for f in a.fields]
    assert len(names) == len(set(names))
    assert set(names) <= set(config.Config.__dataclass_fields__)


@pytest.mark.parametrize("folder", ["pipeline", "cluster", "report"])
def test_nothing_above_the_axes_reads_their_settings(folder):
    """`cfg.structure`, `cfg.search_every`, ... appear only in the axes (and the config that
    defines and validates them): the stages ask the registry instead."""
    fields, found = _axis_fields(), []
    files = sorted((ROOT / "weedout" / folder).rglob("*.py"))
    if folder == "report":
        files.append(ROOT / "weedout" / "cli.py")
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in fields \
                    and isinstance(node.value, ast.Name) and node.value.id == "cfg":
                found.append(f"{f.relative_to(ROOT)}:{node.lineno} cfg.{node.attr}")
    assert found == []


def test_the_check_above_can_fail():
    tree = ast.parse("def f(cfg):\n    return cfg.search_every\n")
    hits = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    assert hits == ["search_every"] and "search_every" in _axis_fields()


TOY = '''
from weedout.axes import registry
from weedout.axes.base import Axis


class Toy(Axis):
    name = "toy"
    tables = {"toy.csv": "analysis"}
    title = "A toy axis from a plug-in"
    about = "Networks per method, counted from accuracy.csv."

    def active(self, cfg):
        return True

    def analysis_tables(self, cfg, read, stats):
        acc = read("accuracy.csv")
        return {"toy.csv": acc.groupby("method").size().rename("networks").reset_index()}

    def summary(self, cfg, read):
        return [("Networks per method", read("toy.csv"))]


registry.register(Toy())
'''


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """The smoke grid through all four notebooks, with a plug-in axis (a subprocess, as a user
    would run it: the kernels import the plug-in through WEEDOUT_PLUGINS and PYTHONPATH)."""
    tmp = tmp_path_factory.mktemp("toy")
    (tmp / "toy_axis_plugin.py").write_text(TOY)
    env = {**os.environ, "WEEDOUT_PLUGINS": "toy_axis_plugin",
           "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "weedout", "--preset", "smoke", "--results-dir",
                           str(tmp / "res"), "--figures-dir", str(tmp / "fig")], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return tmp / "res"


def _outputs(notebook: Path) -> str:
    nb = json.loads(notebook.read_text())
    return "\n".join(json.dumps(c.get("outputs", [])) for c in nb["cells"])


def test_a_plugin_axis_writes_its_table_and_shows_its_summary(toy_run):
    toy = pd.read_csv(toy_run / "toy.csv").set_index("method").networks
    acc = pd.read_csv(toy_run / "accuracy.csv")
    assert toy.to_dict() == acc.groupby("method").size().to_dict()  # oracle: counted anew
    shown = _outputs(toy_run / "notebooks" / "03_analysis.ipynb")
    assert "A toy axis from a plug-in" in shown and "Networks per method" in shown
    # the smoke run has none of the study's axes: their summaries are not shown
    for axis in ("methods", "variants", "widths", "search_every", "structure", "search_after"):
        assert registry.get(axis).title not in shown, axis


def test_analysis_shows_only_the_axes_a_run_has():
    """The same notebook executed on a run with comparators, controls and a widths axis would
    show those; here, the active axes of the configs are what 03 loops over."""
    smoke = config.PRESETS["smoke"]
    assert [a.name for a in registry.active(smoke)] == ["compute"]
    pai = config.PRESETS["cpu_pai"]
    assert {a.name for a in registry.active(pai)} == {"comparators", "controls", "methods",
                                                       "compute"}
    assert registry.trained_methods(pai) == (*pai.comparators, *pai.controls)


def test_analysis_of_the_cpu_run_shows_nothing_of_axes_it_lacks(tmp_path):
    """03_analysis executed (papermill, a real kernel) on a copy of the committed cpu run: no
    cell output or paragraph about comparators, search variants, widths or searching
    throughout training."""
    import shutil

    pm = pytest.importorskip("papermill")
    res = tmp_path / "results"
    shutil.copytree(paths.results_dir("cpu"), res,
                    ignore=shutil.ignore_patterns(".lock", "last_run.json", "trials", "notebooks"))
    out = tmp_path / "03_analysis.ipynb"
    pm.execute_notebook(str(paths.NOTEBOOKS / "03_analysis.ipynb"), str(out),
                        parameters={"PRESET": "cpu", "RESULTS_DIR": str(res),
                                    "FIGURES_DIR": str(tmp_path / "fig")},
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    nb = json.loads(out.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"]) + _outputs(out)
    for word in ("comparator", "variant", "widths.csv", "overparam", "throughout", "fixed twin",
                 "Every method against random", "Search budget"):
        assert word not in text, word
