"""Searching throughout training (Config.search_every, weedout.throughout): weights written back
into the parent and cut again are the weights trained, a network cut every epoch that never
moves equals one trained in one go when no momentum crosses the cuts, the re-search only moves
nodes for a better score, and the effect table is the paired difference."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from weedout import config, experiment
from weedout.core import masks, models, segments

from smoke_runs import run_smoke


@pytest.mark.parametrize("kind, shape", [("mlp", (64,)), ("cnn1d", (1, 40)), ("cnn", (1, 8, 8))])
def test_scatter_is_the_inverse_of_compact(kind, shape):
    arch = models.arch_for(kind, shape, 10, (16, 12), (8, 6))
    full = models.stack([models.init_parent(arch, s) for s in range(3)])
    keep = masks.sample(arch.widths, 0.5, 3, torch.Generator().manual_seed(0))
    _, cut = models.compact(arch, full, keep, torch.arange(3))
    trained = [torch.randn_like(c) for c in cut]
    back = models.scatter(arch, full, trained, keep)
    _, again = models.compact(arch, back, keep, torch.arange(3))
    for a, b in zip(again, trained):
        assert torch.equal(a, b)
    # every weight the networks do not use is the parent's own (randn never repeats a value)
    changed = sum(int((b != f).sum()) for b, f in zip(back, full))
    assert changed == sum(t.numel() for t in trained)


def test_boundaries():
    assert segments.boundaries(0, 5, 30) == [(a, a + 5) for a in range(0, 30, 5)]
    assert segments.boundaries(3, 5, 30)[-1] == (28, 30)
    assert segments.boundaries(0, 2, 3) == [(0, 2), (2, 3)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("throughout")
    # no momentum: then nothing but the masks distinguishes a cut run from an uncut one
    return {"static": run_smoke(tmp, "t_static", momentum=0.0),
            "every": run_smoke(tmp, "t_every", momentum=0.0, search_every=1)}


def read(cfg, name):
    return pd.read_csv(cfg.results_path / name)


def test_fixed_twins_equal_the_uncut_run_without_momentum(runs):
    keys = ["sparsity", "seed", "epoch"]
    static, every = read(runs["static"], "curves.csv"), read(runs["every"], "curves.csv")
    for method in ("weedout", "random"):
        a = static[static.method == method].sort_values(keys)
        b = every[every.method == f"{method}_fixed"].sort_values(keys)
        np.testing.assert_array_equal(a.test_acc.to_numpy(), b.test_acc.to_numpy())
        np.testing.assert_allclose(a.train_loss.to_numpy(), b.train_loss.to_numpy(), rtol=0,
                                   atol=1e-12)


def test_researches_move_nodes_only_for_a_better_score(runs):
    r = read(runs["every"], "researches.csv")
    cfg = runs["every"]
    # smoke: 3 epochs, a search after epochs 1 and 2, for weedout and random of every seed
    assert len(r) == 2 * 2 * len(cfg.sparsities) * len(cfg.seeds)
    w, rnd = r[r.method == "weedout"], r[r.method == "random"]
    assert ((w.moved > 0) == (w.score_new < w.score_current)).all()
    assert (rnd.moved > 0).all()  # a fresh uniform draw keeps some of 32 of 64 nodes, not all


def test_effect_is_the_paired_difference_to_the_fixed_twin(runs):
    acc, eff = read(runs["every"], "accuracy.csv"), read(runs["every"], "throughout.csv")
    for method in ("weedout", "random"):
        row = eff[(eff.method == method) & (eff.sparsity == 0.5)].iloc[0]
        pick = lambda m: acc[(acc.method == m) & (acc.sparsity == 0.5)].set_index("seed").test_acc  # noqa: E731
        assert row.diff_mean == pytest.approx(100 * (pick(method) - pick(f"{method}_fixed")).mean())
    summary = experiment.summary(runs["every"], "search_every")[0][1]
    assert set(summary.method) == {"weedout", "random"}
    assert experiment.summary(runs["static"], "search_every") is None
    assert (runs["every"].figures_path / "throughout.png").exists()


@pytest.mark.parametrize("fields, match", [
    ({"search_every": 3}, "search_every=3"),                       # smoke trains 3 epochs
    ({"search_every": -1}, "search_every=-1"),
    ({"search_every": 1, "search_after": 2}, "search_every=1"),    # no cut left after epoch 2
    ({"search_every": 1, "controls": ("scratch",)}, "fixed twins"),
])
def test_bad_search_every_is_named(monkeypatch, fields, match):
    monkeypatch.setitem(config.PRESETS, "bad", dataclasses.replace(config.PRESETS["smoke"],
                                                                  preset="bad", **fields))
    with pytest.raises(ValueError, match=match):
        experiment.configure("bad")
