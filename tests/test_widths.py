"""Parent width as a grid axis (Config.widths, weedout.overparam): naming, parents of the
asked size, factor 1 bit-identical to a run without the axis, and the two views of the grid
checked against hand computations over accuracy.csv."""
import numpy as np
import pandas as pd
import pytest

from weedout import config, experiment
from weedout.axes import widths

LEVELS = [0.5, 0.75]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The smoke preset with parents of 32, 64 (the preset's own) and 128 nodes per layer, and
    the smoke preset without the axis; levels 0.5 and 0.75 carve 16-16 from both 32 and 64."""
    root = tmp_path_factory.mktemp("widths")
    out = {}
    for name, widths in (("axis", [0.5, 1, 2]), ("plain", None)):
        cfg = experiment.configure("smoke", WIDTHS=widths, SPARSITIES=LEVELS,
                                   RESULTS_DIR=str(root / name / "results"),
                                   FIGURES_DIR=str(root / name / "figures"))
        experiment.run_all(cfg)
        out[name] = cfg
    return out


def read(cfg, name):
    return pd.read_csv(cfg.results_path / name)


def test_names_round_trip_and_factor_one_is_the_plain_model():
    for model, factor in (("mlp", 2.0), ("cnn1d", 0.125), ("mlp", 1.5)):
        assert config.parent_of(config.width_model(model, factor)) == (model, factor)
    assert config.width_model("mlp", 1) == "mlp"
    assert config.parent_widths((256, 256), 0.125) == (32, 32)
    with pytest.raises(ValueError, match="WIDTHS=0.3"):
        config.parent_widths((32, 64), 0.3)


def test_widths_select_cells_only_and_keep_the_digest(runs):
    # a factor is in its cell's name, so the digest (and every record of factor 1) is shared
    assert runs["axis"].digest() == runs["plain"].digest()
    assert config.cells(runs["axis"]) == [("digits", "mlp-x0.5"), ("digits", "mlp"),
                                          ("digits", "mlp-x2")]


def test_parents_have_the_asked_widths_and_parameter_counts(runs):
    acc = read(runs["axis"], "accuracy.csv")
    dense = acc[acc.method == "dense"].drop_duplicates("model").set_index("model")
    for model, w in (("mlp-x0.5", 32), ("mlp", 64), ("mlp-x2", 128)):
        assert dense.loc[model, "widths"] == f"{w}-{w}"
        assert dense.loc[model, "parent"] == f"{w}-{w}"
        assert dense.loc[model, "params"] == (64 * w + w) + (w * w + w) + (w * 10 + 10)  # by hand
    kept = acc[(acc.method == "random") & (acc.model == "mlp-x2") & (acc.sparsity == 0.75)]
    assert set(kept.widths) == {"32-32"}


def test_factor_one_equals_the_run_without_the_axis(runs):
    keys = ["model", "sparsity", "method", "seed"]
    cols = keys + ["test_acc", "test_loss", "init_score", "widths"]
    axis = read(runs["axis"], "accuracy.csv")
    axis = axis[axis.model == "mlp"][cols].sort_values(keys, ignore_index=True)
    plain = read(runs["plain"], "accuracy.csv")[cols].sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(axis, plain)


def test_every_table_has_width_columns_only_with_the_axis(runs):
    for name in ("search.csv", "accuracy.csv", "curves.csv", "compute.csv", "stats.csv",
                 "cost.csv" if (runs["axis"].results_path / "cost.csv").exists() else "stats.csv"):
        assert {"width", "parent"} <= set(read(runs["axis"], name).columns), name
        assert not {"width", "parent"} & set(read(runs["plain"], name).columns), name


def test_widths_table_equals_a_hand_computation(runs):
    cfg = runs["axis"]
    acc, table = read(cfg, "accuracy.csv"), read(cfg, "widths.csv")
    for model, s in (("mlp-x2", 0.75), ("mlp-x0.5", 0.5)):
        lvl = acc[acc.model == model]
        dense = lvl[lvl.method == "dense"].set_index("seed").test_acc
        rnd = lvl[(lvl.method == "random") & (lvl.sparsity == s)].set_index("seed").test_acc
        row = table[(table.width == config.parent_of(model)[1]) & (table.sparsity == s)].iloc[0]
        assert row.drop_random == pytest.approx(100 * (dense - rnd).mean())
        assert row.random == pytest.approx(100 * rnd.mean())
        assert row.kept == lvl[(lvl.method == "random") & (lvl.sparsity == s)].widths.iloc[0]


def test_pool_tests_pair_the_same_final_network_by_seed(runs):
    cfg = runs["axis"]
    acc, pools = read(cfg, "accuracy.csv"), read(cfg, "pools.csv")
    # 16-16 from 32 (at 0.5) and 64 (at 0.75); 32-32 from 64 (0.5) and 128 (0.75)
    assert sorted(set(pools.kept)) == ["16-16", "32-32"]
    row = pools[(pools.kept == "16-16") & (pools.method == "weedout")].iloc[0]
    assert (row.small_parent, row.large_parent) == ("32-32", "64-64")

    def by_seed(model, s):
        g = acc[(acc.model == model) & (acc.sparsity == s) & (acc.method == "weedout")]
        return g.set_index("seed").test_acc

    d = 100 * (by_seed("mlp", 0.75) - by_seed("mlp-x0.5", 0.5))
    assert row.diff_mean == pytest.approx(d.mean())
    assert row.n_pairs == len(d)
    assert np.isfinite(row.p_holm) and row.p_holm >= row.p_value


def test_summary_and_figure(runs):
    cfg = runs["axis"]
    assert experiment.summary(runs["plain"], "widths") is None
    assert experiment.summary(cfg, "widths")[0][1].equals(
        widths.summary(pd.read_csv(cfg.results_path / "widths.csv"), 0.8))
    summary = widths.summary(pd.read_csv(cfg.results_path / "widths.csv"), level=0.75)
    assert list(summary.width) == [0.5, 1.0, 2.0]
    assert (summary.drop_ge_15 == (summary.drop_random >= 15)).all()
    assert (cfg.figures_path / "overparam.png").exists()
    assert not (runs["plain"].figures_path / "overparam.png").exists()
