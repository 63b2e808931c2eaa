"""Comparators and controls through the four stages: the methods beside weedout get the same
parents, seeds and random controls, their statistics agree with the main table's where they
overlap, and the controls start from the weights they claim to."""
import dataclasses
import math
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from weedout import config, experiment
from weedout.analysis import comparison, stats
from weedout.core import masks, models
from weedout.pipeline import record_tables, workers
from weedout.core.seeds import derive_seed
from weedout.pipeline.records import Store
from weedout.axes import registry
from weedout.axes.base import Level


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pai")
    cfg = config.resolve("smoke", SEEDS=3, SPARSITIES=[0.5, 0.75], CANDIDATES=4, EPOCHS=2,
                         RESULTS_DIR=str(root / "res"), FIGURES_DIR=str(root / "fig"))
    cfg = dataclasses.replace(cfg, mlp_widths=(16, 12), comparators=("snip", "magnitude_inverted"),
                              controls=("scratch", "rescaled"))
    return cfg, experiment.run_all(cfg)


def test_every_method_is_trained_on_every_seed_and_level(run):
    cfg, acc = run
    sparse = acc[acc.sparsity > 0]
    want = {"weedout", "random", "snip", "magnitude_inverted", "scratch", "rescaled"}
    assert set(sparse.method) == want
    assert (sparse.groupby(["sparsity", "method"]).seed.nunique() == len(cfg.seeds)).all()
    # every network of a level has the level's exact widths, whatever chose its nodes
    assert sparse.groupby("sparsity").widths.nunique().eq(1).all()


def test_comparator_networks_start_where_their_search_left_them(run):
    cfg, acc = run
    store = Store(cfg.results_path, cfg.digest())
    for row in acc[acc.method.isin(cfg.comparators)].itertuples():
        rec = store.load("search", record_tables.search_key(row.dataset, row.model, row.sparsity,
                                                          row.seed))
        assert row.init_score == pytest.approx(rec["comparators"][row.method]["score"], abs=1e-5)


def test_controls_start_from_the_weights_they_claim(run):
    cfg, _ = run
    dset, arch = workers.setup(cfg, "digits", "mlp")
    s, seed = 0.75, 1
    rec = Store(cfg.results_path, cfg.digest()).load(
        "search", record_tables.search_key("digits", "mlp", s, seed))
    keep = masks.from_lists(rec["random"])
    nets = [("random", seed, keep), ("rescaled", seed, keep), ("scratch", seed, keep)]
    parent = models.stack([workers.parent_params(arch, "digits", "mlp", seed, "cpu")])
    carch, params = models.compact(arch, parent, masks.cat([keep] * 3), torch.zeros(3, dtype=torch.long))
    level = Level(cfg, "digits", "mlp", s, None, arch, nets, [seed] * 3, parent, None, None)
    registry.get("controls").initialise(cfg, level, SimpleNamespace(params=params, arch=carch))
    fresh = models.init_parent(carch, derive_seed(seed, "scratch", "digits", "mlp", s))
    for i, p in enumerate(params):
        torch.testing.assert_close(p[2], fresh[i], rtol=0, atol=0)
    # rescaled = random x sqrt(parent fan-in / sparse fan-in), layer by layer; and that is the
    # default-init bound 1/sqrt(fan_in) of a network built at the sparse widths
    fan_in = [math.prod(arch.in_shape), *carch.widths]
    parent_fan_in = [math.prod(arch.in_shape), *arch.widths]
    for i, p in enumerate(params):
        layer = i // 2
        torch.testing.assert_close(p[1], p[0] * math.sqrt(parent_fan_in[layer] / fan_in[layer]))
        assert float(p[1].abs().max()) <= 1 / math.sqrt(fan_in[layer]) * (1 + 1e-6)
        assert float(fresh[i].abs().max()) <= 1 / math.sqrt(fan_in[layer]) * (1 + 1e-6)


def test_methods_table_agrees_with_the_main_statistics_for_weedout(run):
    """Oracle: comparison.compare_methods and stats.compute_stats, two separate code paths,
    give weedout vs random the same differences, Holm p-values and verdicts."""
    cfg, acc = run
    main = pd.read_csv(cfg.results_path / "stats.csv").set_index(["dataset", "model", "sparsity"])
    methods = pd.read_csv(cfg.results_path / "methods.csv")
    w = methods[methods.method == "weedout"].set_index(["dataset", "model", "sparsity"])
    for col in ("diff_mean", "p_value", "p_holm", "tost_p", "tost_p_holm"):
        pd.testing.assert_series_equal(w[col], main.loc[w.index, col], check_names=False)
    assert list(w.verdict) == [v.replace("weedout ", "") for v in main.loc[w.index, "verdict"]]
    assert set(methods.method) == {"weedout", "snip", "magnitude_inverted", "scratch", "rescaled"}
    cost = methods.set_index("method")
    assert (cost.loc["snip", "forward"] == 1).all() and (cost.loc["weedout", "forward"] == 4).all()
    assert cost.loc["scratch", "forward"].isna().all()  # a control searches nothing


def test_other_methods_leave_the_main_statistics_unchanged(run):
    cfg, acc = run
    only = acc[acc.method.isin(["dense", "weedout", "random"])]
    pd.testing.assert_frame_equal(stats.compute_stats(acc), stats.compute_stats(only))


def test_figure_and_row_blocks_are_written(run):
    cfg, _ = run
    for name in ("methods_vs_sparsity.png", "methods_vs_sparsity.pdf", "methods_table.md",
                 "methods_table.tex", "main_table.md"):
        assert (cfg.figures_path / name).exists(), name
    md = (cfg.figures_path / "methods_table.md").read_text()
    assert md.count("| snip |") == 2 and md.count("| rescaled |") == 2  # one row per level


def test_summary_counts_every_level_once(run):
    cfg, _ = run
    methods = pd.read_csv(cfg.results_path / "methods.csv")
    s = comparison.summary(methods)
    counts = s[["equivalent", "inconclusive", "better", "worse"]].sum(axis=1)
    assert (counts == s.levels).all() and (s.levels == 2).all()


@pytest.mark.parametrize("field, value, match", [
    ("comparators", ("snipp",), "comparators='snipp'"),
    ("comparators", ("random_search",), "comparators='random_search'"),  # the strategy itself
    ("comparators", ("snip", "snip"), "not repeat"),
    ("controls", ("scratchy",), "controls='scratchy'"),
])
def test_bad_comparators_and_controls_are_named(monkeypatch, field, value, match):
    monkeypatch.setitem(config.PRESETS, "bad", dataclasses.replace(config.PRESETS["smoke"],
                                                                    **{field: value}))
    with pytest.raises(ValueError, match=match):
        experiment.configure("bad")


def test_readme_block_follows_the_methods_table(run, tmp_path):
    """Oracle: the README's mean Δ for a method equals the mean over levels of the paired
    differences computed here from accuracy.csv; its verdict counts add up to the levels."""
    import shutil
    cfg, acc = run
    assert registry.get("methods").report(tmp_path, "cpu_pai").startswith("No committed `cpu_pai` run yet")
    (tmp_path / "results" / "cpu_pai").mkdir(parents=True)
    for name in ("methods.csv", "run.json"):
        shutil.copy(cfg.results_path / name, tmp_path / "results" / "cpu_pai" / name)
    lines = registry.get("methods").report(tmp_path, "cpu_pai").splitlines()
    row = next(ln for ln in lines if "| snip |" in ln).split("|")
    a = acc.set_index(["sparsity", "seed", "method"]).test_acc.unstack("method")
    a = a[a.index.get_level_values("sparsity") > 0]
    want = (a["snip"] - a["random"]).groupby(level="sparsity").mean().mean()
    assert row[7].strip() == f"{100 * want:+.2f}"
    assert sum(int(row[i]) for i in (3, 4, 5, 6)) == 2
