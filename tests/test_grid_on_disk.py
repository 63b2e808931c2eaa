"""03_analysis and 04_figures refuse tables of another grid than the one asked for (issue 21,
item 3; weedout/pipeline/coverage.py says why refuse rather than analyse a subset).

The case as the issue met it: a smoke run with 3 seeds, then `--seeds 2 --sparsities 0.5 --only
03_analysis,04_figures`, which showed n = 3 and the levels 50 and 90 without a word. Now it is
refused before any notebook starts, naming what is on disk and what was asked, and nothing in
the results or figures folder changes.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from weedout import experiment
from weedout.config import paths
from weedout.pipeline.coverage import GridMismatchError

TINY = dict(EPOCHS=1, CANDIDATES=4)  # smoke with less work: the grid is what matters here


def snapshot(root) -> dict:
    """Every file's bytes and mtime, but the lock's: a stage takes the folder's lock (which
    writes its pid into .lock) before it reads the tables it checks."""
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def three_seeds(tmp_path_factory):
    """A finished smoke run (3 seeds, levels 0.5 and 0.9) in its own folder."""
    root = tmp_path_factory.mktemp("grid")
    cfg = experiment.configure("smoke", SEEDS=3, RESULTS_DIR=str(root / "res"),
                               FIGURES_DIR=str(root / "fig"), **TINY)
    experiment.run_all(cfg)
    return root


def test_the_cli_refuses_another_grid_before_any_work(three_seeds):
    before = snapshot(three_seeds)
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    proc = subprocess.run([sys.executable, "-m", "weedout", "--preset", "smoke", "--seeds", "2",
                           "--sparsities", "0.5", "--epochs", "1", "--candidates", "4",
                           "--results-dir", "res", "--figures-dir", "fig",
                           "--only", "03_analysis,04_figures"],
                          cwd=three_seeds, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == (
        f"error: {three_seeds / 'res' / 'accuracy.csv'} holds another grid than the one asked "
        "for: SPARSITIES [0.5, 0.9] on disk, [0.5] asked; SEEDS [0, 1, 2] on disk, [0, 1] "
        "asked. 03_analysis works on exactly the grid asked for: run 01_search and 02_training "
        "with these settings first, or ask for the grid on disk\n")
    assert snapshot(three_seeds) == before


def _config(root, **params):
    return experiment.configure("smoke", RESULTS_DIR=str(root / "res"),
                                FIGURES_DIR=str(root / "fig"), **{**TINY, **params})


@pytest.mark.parametrize("params,words", [
    (dict(SEEDS=2), "SEEDS [0, 1, 2] on disk, [0, 1] asked"),
    (dict(SEEDS=[0, 1, 2, 3]), "SEEDS [0, 1, 2] on disk, [0, 1, 2, 3] asked"),
    (dict(SEEDS=3, SPARSITIES=[0.5, 0.7, 0.9]), "SPARSITIES [0.5, 0.9] on disk, [0.5, 0.7, 0.9] asked"),
    (dict(SEEDS=3, DATASETS=["mnist1d"], MODELS=["mlp"]),
     "DATASETS ['digits'] on disk, ['mnist1d'] asked"),
])
def test_the_stages_refuse_another_grid(three_seeds, params, words):
    """What a notebook calls: run_analysis and run_figures, each refusing before it writes."""
    cfg = _config(three_seeds, **params)
    before = snapshot(three_seeds)
    for stage in (experiment.run_analysis, experiment.run_figures):
        with pytest.raises(GridMismatchError, match="accuracy.csv holds another grid than the "
                                                     f"one asked for: .*{re.escape(words)}"):
            stage(cfg)
    assert snapshot(three_seeds) == before


def test_stats_of_another_seed_count_are_refused_by_the_figures(three_seeds, tmp_path):
    """01 and 02 rerun with 2 seeds (tables rebuilt from the records, nothing computed), 03
    skipped: 04 sees accuracy.csv of 2 seeds but stats.csv of 3, and refuses."""
    shutil.copytree(three_seeds, tmp_path, dirs_exist_ok=True)
    cfg = _config(tmp_path, SEEDS=2)
    experiment.run_search(cfg)
    experiment.run_training(cfg)
    before = snapshot(tmp_path)
    with pytest.raises(GridMismatchError, match=r"stats.csv holds another grid than the one "
                                                r"asked for: SEEDS n = 3 on disk, n = 2 asked"):
        experiment.run_figures(cfg)
    assert snapshot(tmp_path) == before
    experiment.run_analysis(cfg)  # the grid asked for, once 03 has run on it
    assert len(experiment.run_figures(cfg)) > 0


def test_the_grid_on_disk_is_analysed(three_seeds):
    cfg = _config(three_seeds, SEEDS=3)
    assert set(experiment.run_analysis(cfg).sparsity) == {0.5, 0.9}
