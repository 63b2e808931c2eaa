"""The report of issue 19 (weedout.report.designs; notebooks/study/11_designs): its comparison
of every method with a random control against the pipeline's own (methods.csv), and its
conclusions following the committed tables they read."""
import shutil

import numpy as np
import pandas as pd
import pytest

from weedout.config import paths
from weedout.report import designs

ROOT = paths.ROOT


def test_against_random_equals_the_pipelines_methods_table():
    """Two computations of every method against the same run's random control: the report's
    (accuracy.csv, paired by seed) and the analysis stage's (methods.csv)."""
    mine = designs.against_random(ROOT, "cpu_pai", "cpu_pai")
    theirs = pd.read_csv(ROOT / "results" / "cpu_pai" / "methods.csv")
    keys = ["dataset", "model", "sparsity", "method"]
    both = mine.merge(theirs[keys + ["verdict", "p_holm", "tost_p_holm", "diff_mean"]],
                      on=keys, suffixes=("", "_stage"))
    assert len(both) == len(mine) == len(theirs)
    assert (both.verdict == both.verdict_stage).all()
    np.testing.assert_allclose(both.p_holm, both.p_holm_stage, rtol=1e-12)
    np.testing.assert_allclose(both.tost_p_holm, both.tost_p_holm_stage, rtol=1e-12)
    np.testing.assert_allclose(both.diff_mean, 100 * both.diff_mean_stage, rtol=1e-12)


@pytest.fixture()
def root(tmp_path):
    """A copy of the committed results the paper's-grid conclusion reads, with `cpu` copied as
    its own rescaled twin (the same tables: the conclusion must then hold under both)."""
    for preset in ("cpu", "cpu_widths"):
        shutil.copytree(ROOT / "results" / preset, tmp_path / "results" / preset,
                        ignore=shutil.ignore_patterns("trials", "notebooks"))
    shutil.copytree(tmp_path / "results" / "cpu", tmp_path / "results" / "cpu_rescaled")
    return tmp_path


def _row(table, conclusion, design):
    hit = table[(table.conclusion == conclusion) & (table.design == design)]
    assert len(hit) == 1, (conclusion, design, table[["conclusion", "design"]])
    return hit.iloc[0]


def test_a_conclusion_read_under_both_initialisations(root):
    table = designs.conclusions(root)
    name = "weedout is never better than random (paper's grid)"
    assert _row(table, name, "init inherited").holds and _row(table, name, "init rescaled").holds
    answer = designs.designs_answer(root)
    assert "1 could be read under more than one design so far and 1 of those hold" in answer
    assert "`cpu_global_rescaled`" in answer and "`cpu`," not in answer


def test_with_every_run_committed_the_answer_has_nothing_pending():
    """Every run the report reads is committed (designs.missing is empty): the one-line answer
    neither says "so far" nor lists runs not yet made."""
    assert designs.missing(ROOT) == []
    answer = designs.designs_answer(ROOT)
    assert "so far" not in answer and "not run yet" not in answer and answer.endswith(".")


def test_a_changed_table_changes_the_conclusion(root):
    """One level of the rescaled twin made a 'weedout better' verdict: the conclusion no longer
    holds there, the summary says so, and the inherited run's row is untouched."""
    path = root / "results" / "cpu_rescaled" / "stats.csv"
    st = pd.read_csv(path)
    st.loc[3, "verdict"] = "weedout better"
    st.to_csv(path, index=False)
    table = designs.conclusions(root)
    name = "weedout is never better than random (paper's grid)"
    assert _row(table, name, "init inherited").holds
    row = _row(table, name, "init rescaled")
    assert not row.holds and " / 1 / " in row.evidence
    assert f"'{name}' holds under 1 of 2" in designs.designs_answer(root)


def test_a_fashion_design_reads_as_its_cpu_twin(tmp_path):
    """Issue 19, part 5: given the cpu runs' tables under the Fashion-MNIST runs' names, the
    Fashion-MNIST designs of a conclusion read exactly what the cpu designs read."""
    twins = {"cpu_pai": "fashion", "cpu_unstructured": "fashion_unstructured",
             "cpu_rescaled": "fashion_rescaled",
             "cpu_unstructured_rescaled": "fashion_unstructured_rescaled"}
    for cpu, fashion in twins.items():
        for name in (cpu, fashion):
            shutil.copytree(ROOT / "results" / cpu, tmp_path / "results" / name,
                            ignore=shutil.ignore_patterns("trials", "notebooks"))
    table = designs.conclusions(tmp_path)
    name = "unstructured random networks train worse than local ones"
    for init in ("inherited", "rescaled"):
        cpu, fashion = (_row(table, name, d)
                        for d in (f"init {init}", f"Fashion-MNIST, init {init}"))
        assert fashion.evidence == cpu.evidence and fashion.holds == cpu.holds
        assert fashion.run == f"`{twins[cpu.run.strip('`')]}`"
    assert "fashion_unstructured" not in designs.missing(tmp_path)
    assert "fashion_pai_global_rescaled" in designs.missing(tmp_path)


def test_the_split_table_is_the_first_layers_share_by_hand():
    """design_runs.split against a count from accuracy.csv's widths column ("kept1-kept2"):
    per network kept1 / (kept1 + kept2), then the mean over seeds, for every cell."""
    from weedout.report import design_runs
    preset = "cpu_global"
    table = design_runs.split(ROOT, preset)
    acc = pd.read_csv(ROOT / "results" / preset / "accuracy.csv")
    acc = acc[acc.sparsity > 0]
    assert len(table) == acc.groupby(["dataset", "model", "sparsity"]).ngroups
    for r in table.itertuples(index=False):
        for method in ("weedout", "random"):
            g = acc[(acc.dataset == r.dataset) & (acc.model == r.model) & (acc.method == method)
                    & (np.isclose(100 * acc.sparsity, float(r.sparsity.rstrip("%"))))]
            kept = np.array([[int(v) for v in w.split("-")] for w in g.widths])
            assert len(kept) == 10
            assert getattr(r, method) == f"{np.mean(kept[:, 0] / kept.sum(axis=1)):.2f}"


def test_a_pair_across_cpu_models_says_so(tmp_path):
    for preset, cpu in (("a", "AMD EPYC"), ("b", "AMD EPYC"), ("c", "Intel(R) Xeon(R)")):
        (tmp_path / "results" / preset).mkdir(parents=True)
        (tmp_path / "results" / preset / "run.json").write_text(f'{{"cpu": "{cpu}"}}')
    assert designs.machines(tmp_path, "a", "b") == ""
    assert designs.machines(tmp_path, "a", "c") == "; paired across machines (AMD EPYC / Intel(R) Xeon(R))"


def test_a_fashion_structure_run_is_paired_with_fashions_local_networks():
    """The structure report of a Fashion-MNIST run pairs it with `fashion`'s local networks
    (the cpu runs have no Fashion-MNIST cell), and its random Δ per level equals a paired
    difference computed by hand from the two accuracy.csv files."""
    from weedout.axes import registry, structure
    assert structure.local_preset({"config": {"datasets": ["fashion_mnist"]}}) == "fashion"
    assert structure.local_preset({"config": {"datasets": ["fashion_mnist"],
                                              "init": "rescaled"}}) == "fashion_rescaled"
    assert structure.local_preset({"config": {"datasets": ["digits", "mnist1d"]}}) == "cpu_pai"
    text = registry.get("structure").report(ROOT, "fashion_unstructured")
    assert "local networks from `fashion` (made on Intel" in text
    mine = pd.read_csv(ROOT / "results" / "fashion_unstructured" / "accuracy.csv")
    local = pd.read_csv(ROOT / "results" / "fashion" / "accuracy.csv")
    rows = [r for r in text.splitlines() if r.startswith("| fashion_mnist / mlp | ")
            and r.split("|")[2].strip().endswith("%")]
    assert len(rows) == 9
    for r in rows:
        level = float(r.split("|")[2].strip().rstrip("%")) / 100
        pick = lambda t: t[(t.model == "mlp") & (t.method == "random")  # noqa: E731
                           & np.isclose(t.sparsity, level)].set_index("seed").test_acc
        diff = 100 * (pick(mine) - pick(local)).mean()
        assert float(r.split("|")[4].split("(")[0]) == pytest.approx(diff, abs=0.051)


def test_a_structure_run_without_a_shared_cell_says_so(tmp_path):
    """A structure run whose cells the local run does not have gets a line, not a crash."""
    from weedout.axes import registry
    for preset in ("fashion_unstructured", "fashion"):
        shutil.copytree(ROOT / "results" / preset, tmp_path / "results" / preset,
                        ignore=shutil.ignore_patterns("trials", "notebooks"))
    acc = pd.read_csv(tmp_path / "results" / "fashion" / "accuracy.csv")
    acc[acc.model != "mlp"].to_csv(tmp_path / "results" / "fashion" / "accuracy.csv", index=False)
    assert registry.get("structure").report(tmp_path, "fashion_unstructured") == (
        "No cell of `fashion_unstructured` is in `fashion` to compare with.")


@pytest.mark.parametrize("preset", ["cpu_pai_global", "fashion_pai_global"])
def test_the_collapse_line_counts_by_hand(preset):
    """design_runs.collapses against a count from accuracy.csv's widths ("kept1-kept2") per
    network: a method-level collapses when the mean over seeds of a layer's kept nodes is under
    5% of the mean total; each is looked up in methods.csv for its verdict."""
    from weedout.report import design_runs
    acc = pd.read_csv(ROOT / "results" / preset / "accuracy.csv")
    verdicts = pd.read_csv(ROOT / "results" / preset / "methods.csv").set_index(
        ["dataset", "model", "sparsity", "method"]).verdict
    collapsed = worse_too = 0
    for key, verdict in verdicts.items():
        g = acc[(acc.dataset == key[0]) & (acc.model == key[1]) & np.isclose(acc.sparsity, key[2])
                & (acc.method == key[3])]
        kept = np.array([[int(v) for v in w.split("-")] for w in g.widths]).mean(axis=0)
        if kept.min() < 0.05 * kept.sum():
            collapsed += 1
            worse_too += verdict == "worse"
    assert collapsed > 0
    assert design_runs.collapses(ROOT, preset) == (
        "Layer collapse (a hidden layer left with under 5% of the kept nodes, mean over seeds): "
        f"{collapsed} of {len(verdicts)} method-levels, {worse_too} of them worse than this run's "
        f"random networks; {int((verdicts == 'worse').sum())} method-levels are worse in all.")


def test_the_rankings_table_on_its_diagonal_is_the_pipelines_methods_table():
    """designs.rankings, where scores and random control come from one run (cpu_pai,
    cpu_pai_global, fashion_pai, fashion_pai_global), against the verdicts the analysis stage
    wrote to that run's methods.csv for the saliency scores and their inverted twins."""
    table = designs.rankings(ROOT)
    grids = {**{(k, "cpu"): v for k, v in designs.RANKING.items()},
             **{(k, "fashion"): v for k, v in designs.FASHION_RANKING.items()}}
    seen = 0
    for (ranking, grid), preset in grids.items():
        m = designs.saliency(pd.read_csv(ROOT / "results" / preset / "methods.csv"))
        m = m[m.model == "mlp"]
        for ds, g in m.groupby("dataset"):
            row = table[(table["scores ranked"] == ranking) & (table.random == ranking)
                        & (table["dataset / model"] == f"{ds} / mlp")]
            assert len(row) == 1, (preset, ds)
            assert row["method-levels"].item() == len(g)
            for verdict in ("equivalent", "inconclusive", "better", "worse"):
                n = g.verdict.str.endswith(verdict).sum()  # "better" may read "weedout better"
                assert row[verdict].item() == n, (preset, ds, verdict)
            seen += 1
    assert seen == 6  # digits and MNIST-1D under two rankings, Fashion-MNIST under two
