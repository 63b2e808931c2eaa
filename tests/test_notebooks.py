"""The four notebooks, run headlessly with papermill through the CLI on the smoke preset.

Asserts on the files they write (the results contract users script against), with tolerances
on the numbers. nbval (`pytest --nbval-lax notebooks/`) separately runs the committed notebooks
with their defaults.
"""
import json

import pandas as pd
import pytest

from weedout import cli
from weedout.analysis import stats

SEEDS, SPARSITIES, CANDIDATES, EPOCHS = 2, [0.5, 0.9], 8, 3


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    res, fig = root / "results", root / "figures"
    argv = ["--preset", "smoke", "--results-dir", str(res), "--figures-dir", str(fig)]
    assert cli.main(argv) == 0
    return res, fig, argv


def test_tables_follow_the_contract(run):
    res, _, _ = run
    acc = pd.read_csv(res / "accuracy.csv")
    assert {"dataset", "model", "sparsity", "method", "seed", "test_acc", "params", "flops",
            "param_sparsity", "flop_sparsity"} <= set(acc.columns)
    # one dense per seed + weedout and random per sparsity and seed
    assert len(acc) == SEEDS * (1 + 2 * len(SPARSITIES))
    assert set(acc.method) == {"dense", "weedout", "random"}
    assert acc.test_acc.between(0, 1).all()
    dense = acc[acc.method == "dense"]
    assert (dense.sparsity == 0).all() and dense.test_acc.min() > 0.7
    sparse = acc[acc.method != "dense"]
    assert (sparse.params < dense.params.iloc[0]).all()
    curves = pd.read_csv(res / "curves.csv")
    assert len(curves) == len(acc) * (EPOCHS + 1)
    assert {"epoch", "train_loss", "train_acc", "test_acc"} <= set(curves.columns)
    search = pd.read_csv(res / "search.csv")
    assert len(search) == SEEDS * len(SPARSITIES) * CANDIDATES
    winners = search[search.chosen]
    assert len(winners) == SEEDS * len(SPARSITIES)
    # the winner is the minimum of its search, and training saw the same mask (same init loss)
    best = search.groupby(["sparsity", "seed"]).score.min().reset_index()
    merged = winners.merge(best, on=["sparsity", "seed"], suffixes=("", "_min"))
    assert (merged.score == merged.score_min).all()
    trained = acc[acc.method == "weedout"].merge(winners, on=["dataset", "model", "sparsity", "seed"])
    assert trained.init_score.values == pytest.approx(trained.score.values, abs=1e-5)
    st = pd.read_csv(res / "stats.csv")
    assert list(st.columns) == list(stats.COLUMNS) and len(st) == len(SPARSITIES)
    assert set(st.verdict) <= {"equivalent", "weedout better", "weedout worse", "inconclusive"}


def test_figures_and_notebooks_written(run):
    res, fig, _ = run
    for name in ("accuracy_vs_sparsity", "learning_curves", "search"):
        assert (fig / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (fig / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    assert "| Dataset" in (fig / "main_table.md").read_text()
    assert "\\begin{tabular}" in (fig / "main_table.tex").read_text()
    for nb in ("01_search", "02_training", "03_analysis", "04_figures"):
        executed = json.loads((res / "notebooks" / f"{nb}.ipynb").read_text())
        tags = [c["metadata"].get("tags", []) for c in executed["cells"]]
        assert ["injected-parameters"] in tags


def test_rerun_does_no_work(run):
    res, _, argv = run
    before = pd.read_csv(res / "accuracy.csv")
    evidence = (res / "run.json").read_bytes()
    assert cli.main(argv + ["--only", "01_search,02_training"]) == 0
    last = json.loads((res / "last_run.json").read_text())
    assert last["stages"]["search"]["trials_computed"] == 0
    assert last["stages"]["training"]["trials_computed"] == 0
    assert not last["stages"]["search"]["changed"] and not last["stages"]["training"]["changed"]
    assert last["command"]["argv"][-1] == "01_search,02_training"
    pd.testing.assert_frame_equal(before, pd.read_csv(res / "accuracy.csv"))
    # the re-run changed no table, so the evidence of the run that made them stays as it was
    assert (res / "run.json").read_bytes() == evidence


def test_bad_parameter_fails_before_any_work(run, capsys):
    res, _, argv = run
    mtimes = {p: p.stat().st_mtime_ns for p in res.rglob("*") if p.is_file()}
    assert cli.main(argv + ["--sparsities", "0.5,1.2"]) == 2
    err = capsys.readouterr().err
    assert "SPARSITIES" in err and "1.2" in err and "(0, 1)" in err
    assert mtimes == {p: p.stat().st_mtime_ns for p in res.rglob("*") if p.is_file()}
