"""Re-running 03/04 on committed results changes no file, and a missing earlier stage is one
line that names the notebook to run.

The committed results are copied first: the test proves byte-identity on the copies and never
writes under results/ or figures/.
"""
import json
import shutil

import pandas as pd
import pytest

from weedout import experiment
from weedout.config import paths
from weedout.pipeline.records import MissingStageError

COMMITTED = ("cpu", "cpu_evolution")
TABLES = ("search.csv", "accuracy.csv", "curves.csv", "stats.csv", "run.json", "config.json")


def copy_of(preset, tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    for name in TABLES:
        shutil.copy2(paths.results_dir(preset) / name, res / name)
    return res


def files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("preset", COMMITTED)
def test_reanalysis_of_committed_results_changes_no_file(preset, tmp_path):
    res = copy_of(preset, tmp_path)
    cfg = experiment.configure(preset, RESULTS_DIR=str(res), FIGURES_DIR=str(tmp_path / "fig"))
    before = files(res)
    experiment.run_analysis(cfg)
    after = files(res)
    # the same stats.csv, and run.json still the evidence of the run that made it; the
    # re-analysis's own timing is in last_run.json (not committed) and .lock (not committed)
    assert {k: v for k, v in after.items() if k not in ("last_run.json", ".lock")} == before
    last = json.loads(after["last_run.json"])["stages"]["analysis"]
    assert last["changed"] is False and last["seconds"] >= 0


def test_redrawn_figures_are_byte_identical(tmp_path):
    res = copy_of("cpu", tmp_path)
    fig = tmp_path / "figures"
    cfg = experiment.configure("cpu", RESULTS_DIR=str(res), FIGURES_DIR=str(fig))
    experiment.run_figures(cfg)
    first, evidence = files(fig), (res / "run.json").read_bytes()
    for table in ("main_table.md", "main_table.tex"):  # text: the same as committed
        assert first[table] == (paths.figures_dir("cpu") / table).read_bytes()
    experiment.run_figures(cfg)
    assert files(fig) == first and (res / "run.json").read_bytes() == evidence
    assert json.loads((res / "last_run.json").read_text())["stages"]["figures"]["changed"] is False


def test_a_changed_table_is_recorded_in_run_json(tmp_path):
    res = copy_of("cpu", tmp_path)
    cfg = experiment.configure("cpu", RESULTS_DIR=str(res), FIGURES_DIR=str(tmp_path / "fig"))
    acc = pd.read_csv(res / "accuracy.csv", dtype={"config_digest": str})
    acc.loc[0, "test_acc"] = 0.5  # new numbers: a new stats.csv, and run.json must say so
    acc.to_csv(res / "accuracy.csv", index=False)
    old = json.loads((res / "run.json").read_text())["stages"]["analysis"]
    experiment.run_analysis(cfg)
    new = json.loads((res / "run.json").read_text())["stages"]["analysis"]
    assert new["finished"] != old["finished"]  # committed on 2026-11-27
    assert json.loads((res / "last_run.json").read_text())["stages"]["analysis"]["changed"]


# ---- a missing earlier stage -------------------------------------------------------------------

@pytest.mark.parametrize("stage, notebook", [
    (experiment.run_training, "notebooks/01_search"),
    (experiment.run_analysis, "notebooks/02_training"),
    (experiment.run_figures, "notebooks/03_analysis"),
])
def test_missing_stage_is_one_line_naming_the_notebook(stage, notebook, tmp_path):
    cfg = experiment.configure("smoke", RESULTS_DIR=str(tmp_path / "r"),
                               FIGURES_DIR=str(tmp_path / "f"))
    with pytest.raises(MissingStageError) as err:
        stage(cfg)
    assert isinstance(err.value, FileNotFoundError)  # what callers caught before
    shown = err.value._render_traceback_()  # what IPython prints instead of the traceback
    assert len(shown) == 1 and "\n" not in shown[0]
    assert f"run {notebook} first" in shown[0]


def test_missing_stage_points_to_results_that_exist(tmp_path, monkeypatch):
    """On a fresh clone smoke has no results but the committed presets do: the line says so."""
    monkeypatch.setattr(paths, "results_dir", lambda preset: tmp_path / preset)
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "stats.csv").write_text("x\n")
    cfg = experiment.configure("smoke")
    with pytest.raises(MissingStageError) as err:
        experiment.run_figures(cfg)
    line = err.value._render_traceback_()[0]
    assert "run notebooks/03_analysis first" in line and "PRESET = 'cpu'" in line
    assert "WEEDOUT_PRESET" in line and "cpu_evolution" not in line


def test_notebook_run_alone_ends_in_that_one_line(tmp_path):
    """03_analysis on an empty results folder, executed in a real kernel (papermill)."""
    pm = pytest.importorskip("papermill")
    out = tmp_path / "03_analysis.ipynb"
    with pytest.raises(pm.PapermillExecutionError):
        pm.execute_notebook(str(paths.NOTEBOOKS / "03_analysis.ipynb"), str(out),
                            parameters={"RESULTS_DIR": str(tmp_path / "empty"),
                                        "FIGURES_DIR": str(tmp_path / "fig")},
                            kernel_name="python3", progress_bar=False, cwd=str(paths.NOTEBOOKS))
    errors = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])
              if o["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "MissingStageError"
    assert len(errors[0]["traceback"]) == 1, errors[0]["traceback"]
    assert "accuracy.csv is missing: run notebooks/02_training first" in errors[0]["traceback"][0]


# The runs beyond the paper carry more tables (methods, widths, pools, throughout, ...): the
# whole committed folder is copied, so every table 03 writes is checked.
AXES = ("cpu_search_after", "cpu_widths", "cpu_structure", "cpu_global", "cpu_unstructured",
        "cpu_throughout")


@pytest.mark.parametrize("preset", AXES)
def test_reanalysis_of_the_axes_runs_changes_no_file(preset, tmp_path):
    res = tmp_path / "results"
    shutil.copytree(paths.results_dir(preset), res,  # what git tracks there
                    ignore=shutil.ignore_patterns(".lock", "last_run.json", "trials", "notebooks"))
    cfg = experiment.configure(preset, RESULTS_DIR=str(res), FIGURES_DIR=str(tmp_path / "fig"))
    before = files(res)
    experiment.run_analysis(cfg)
    after = files(res)
    assert {k: v for k, v in after.items() if k not in ("last_run.json", ".lock")} == before
