"""Sparsity structure (Config.structure, weedout.structure): exact counts, the allocation rule
against an independent computation, the local path unchanged against the committed `cpu`
search, and a non-uniform run end to end."""
import dataclasses
import math
import random

import numpy as np
import pandas as pd
import pytest
import torch

from weedout import config, data, experiment
from weedout.analysis import comparison
from weedout.config import paths
from weedout.core import allocation, masks, models, reference, scoring, search, structures
from weedout.pipeline import workers

from smoke_runs import run_smoke, tiny

MLP = models.arch_for("mlp", (64,), 10, (256, 256), (32, 32))
CNN1D = models.arch_for("cnn1d", (1, 40), 10, (256, 256), (32, 32))


def hamilton(total: int, shares: list[float]) -> list[int]:
    """Largest-remainder apportionment, written independently of weedout (no caps needed)."""
    quota = np.asarray(shares, float) * total / sum(shares)
    seats = np.floor(quota).astype(int)
    order = sorted(range(len(quota)), key=lambda i: (-(quota[i] - seats[i]), i))
    for i in order[: total - seats.sum()]:
        seats[i] += 1
    return seats.tolist()


def test_erk_density_by_hand():
    # MLP 64 -> 256 -> 256 -> 10: 1/fan_in + 1/fan_out per hidden layer
    assert allocation.erk_density(MLP) == pytest.approx((1 / 64 + 1 / 256, 1 / 256 + 1 / 10))
    # 1-D CNN, kernel 5: fan-in 1x5 and 32x5; the last block feeds 10 classes x 10 positions
    assert allocation.erk_density(CNN1D) == pytest.approx((1 / 5 + 1 / 160, 1 / 160 + 1 / 100))


@pytest.mark.parametrize("case", range(200))
def test_allocation_is_exact_and_proportional(case):
    rng = random.Random(case)
    widths = tuple(rng.randint(1, 300) for _ in range(rng.randint(1, 4)))
    density = tuple(rng.uniform(0.01, 10) for _ in widths)
    total = rng.randint(len(widths), sum(widths))
    got = allocation.allocate(widths, total, density)
    assert sum(got) == total
    assert all(1 <= k <= w for k, w in zip(got, widths))
    shares = [w * d for w, d in zip(widths, density)]
    quota = [total * s / sum(shares) for s in shares]
    if all(1 <= q <= w for q, w in zip(quota, widths)):  # no cap or floor binds: pure Hamilton
        assert list(got) == hamilton(total, shares)


def test_nonuniform_keeps_the_local_total_and_local_is_unchanged():
    for arch in (MLP, CNN1D):
        for s in (0.1, 0.3, 0.5, 0.8, 0.9, 0.99):
            local = masks.kept_widths(arch.widths, s)
            assert allocation.kept(arch, s) == local
            assert sum(allocation.kept(arch, s, "nonuniform")) == sum(local)
            assert allocation.kept(arch, s, "nonuniform", (1.0, 1.0)) == \
                allocation.allocate(arch.widths, sum(local), (1.0, 1.0))
    # ERK keeps more of the layer next to the 10 classes in the MLP
    k1, k2 = allocation.kept(MLP, 0.8, "nonuniform")
    assert k2 > k1


def test_sampled_masks_have_the_structure_counts():
    kept = allocation.kept(MLP, 0.8, "nonuniform")
    keep = masks.sample(MLP.widths, 0.8, 50, torch.Generator().manual_seed(0), kept)
    assert tuple(k.shape[1] for k in keep) == kept
    for k, w in zip(keep, MLP.widths):
        assert all(len(set(row.tolist())) == row.numel() for row in k)  # no node twice
        assert int(k.max()) < w


def test_local_search_equals_the_committed_cpu_search():
    """The structure code path leaves `local` as it was: the cpu preset's searches recomputed
    here score the committed candidates and choose the committed winners."""
    committed = pd.read_csv(paths.ROOT / "results" / "cpu" / "search.csv")
    cfg = config.resolve("cpu", DATASETS=["digits"], SEEDS=[0], SPARSITIES=[0.5, 0.9])
    saved = {}
    workers.search_trials(cfg, [("digits", "mlp", s, 0) for s in cfg.sparsities],
                        lambda key, rec: saved.__setitem__(key, rec), None)
    for s in cfg.sparsities:
        rows = committed[(committed.dataset == "digits") & (committed.model == "mlp")
                         & np.isclose(committed.sparsity, s) & (committed.seed == 0)]
        rec = saved[("digits", "mlp", s, 0)]
        np.testing.assert_allclose(rec["scores"], rows.sort_values("candidate").score, rtol=1e-5)
        assert rec["best_index"] == int(rows[rows.chosen.astype(bool)].candidate.iloc[0])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("structure")
    out = {}
    for name in ("local", "nonuniform"):
        cfg = run_smoke(root, f"t_{name}", structure=name)
        out[name] = pd.read_csv(cfg.results_path / "accuracy.csv"), cfg
    return out


def test_nonuniform_networks_have_the_allocated_widths(runs):
    acc, cfg = runs["nonuniform"]
    arch = models.arch_for("mlp", (64,), 10, cfg.mlp_widths, cfg.cnn_channels)
    local, _ = runs["local"]
    for s in cfg.sparsities:
        want = "-".join(map(str, allocation.kept(arch, s, "nonuniform")))
        level = acc[(acc.sparsity == s) & acc.method.isin(["weedout", "random"])]
        assert set(level.widths) == {want}
        # the same hidden nodes in all as local: the same achieved node sparsity
        loc = local[(local.sparsity == s) & (local.method == "random")]
        assert level.node_sparsity.iloc[0] == pytest.approx(loc.node_sparsity.iloc[0])
    # dense networks do not depend on the structure
    d = [r[r.method == "dense"].sort_values("seed").test_acc.to_numpy() for r, _ in runs.values()]
    np.testing.assert_array_equal(d[0], d[1])


def test_compare_is_the_paired_difference(runs):
    local, nonuni = runs["local"][0], runs["nonuniform"][0]
    table = comparison.paired_runs(local, nonuni)
    assert len(table) == 2 * len(runs["local"][1].sparsities)
    row = table[(table.method == "random") & (table.sparsity == 0.5)].iloc[0]
    pick = lambda t: t[(t.method == "random") & (t.sparsity == 0.5)].set_index("seed").test_acc  # noqa: E731
    assert row.diff_mean == pytest.approx(100 * (pick(nonuni) - pick(local)).mean())
    assert row.kept_local == "32-32" and row.kept != "32-32"
    assert math.isfinite(row.p_holm)


@pytest.mark.parametrize("fields, match", [
    ({"structure": "tree"}, "structure='tree'"),
    ({"layer_density": (1.0, 2.0)}, "unless structure='nonuniform'"),
    ({"structure": "nonuniform", "layer_density": (1.0,)}, "one positive number per hidden layer"),
    ({"structure": "nonuniform", "layer_density": (1.0, -2.0)}, "one positive number"),
])
def test_bad_structure_is_named(monkeypatch, fields, match):
    monkeypatch.setitem(config.PRESETS, "bad", dataclasses.replace(config.PRESETS["smoke"],
                                                                  preset="bad", **fields))
    with pytest.raises(ValueError, match=match):
        experiment.configure("bad")


def test_structure_enters_the_digest_only_when_set():
    smoke = config.PRESETS["smoke"]
    assert dataclasses.replace(smoke, structure="local").digest() == smoke.digest()
    assert dataclasses.replace(smoke, structure="nonuniform").digest() != smoke.digest()


# -- global masks: one node budget for the network, the allocation drawn and searched --

@pytest.mark.parametrize("widths, total", [((16, 12), 10), ((16, 12), 2), ((16, 12), 28),
                                           ((5, 40, 3), 17)])
def test_global_masks_have_the_count_asked_for(widths, total):
    gates = masks.sample_global(widths, total, 200, torch.Generator().manual_seed(1))
    per_layer = torch.stack([g.sum(1) for g in gates], 1)          # [n, layers]
    assert (per_layer.sum(1) == total).all()
    assert (per_layer >= 1).all()
    assert all(((g == 0) | (g == 1)).all() for g in gates)
    if 2 * len(widths) < total < sum(widths) - 2:  # the allocation is drawn: it varies
        assert len({tuple(r.tolist()) for r in per_layer}) > 1
    keep = masks.from_gates(masks.select(gates, 3))
    assert [k.shape[1] for k in keep] == per_layer[3].tolist()
    assert all(torch.equal(a, b) for a, b in zip(masks.to_binary(keep, widths),
                                                 masks.select(gates, 3)))


@pytest.mark.parametrize("kind, shape", [("mlp", (64,)), ("cnn1d", (1, 40))])
def test_gated_batched_scores_equal_one_by_one_compact_scoring(kind, shape):
    arch, parent, g, x, y = tiny(kind, shape)
    gates = masks.sample_global(arch.widths, sum(arch.widths) // 2, 25, g)
    batched = scoring.gated_scorer(arch, parent, x, y, budget_bytes=1)(gates)  # chunks of 1..
    whole = scoring.gated_scorer(arch, parent, x, y)(gates)                      # ..and of all
    compact = scoring.scorer(arch, parent, x, y)
    one_by_one = torch.cat([compact(masks.from_gates(masks.select(gates, i))) for i in range(25)])
    assert len({tuple(k.shape[1] for k in masks.from_gates(masks.select(gates, i)))
                for i in range(25)}) > 1  # mixed shapes
    torch.testing.assert_close(batched, one_by_one, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(whole, one_by_one, rtol=1e-5, atol=1e-6)


def test_gated_training_equals_training_the_compacted_network():
    from weedout.core.train import Schedule, train_stack
    dset = data.load_dataset("digits", paths.DATA)
    arch = models.arch_for("mlp", dset.in_shape, dset.n_classes, (32, 24), (8, 8))
    parent = models.stack([models.init_parent(arch, s) for s in (0, 1)])
    gates = masks.sample_global(arch.widths, 20, 2, torch.Generator().manual_seed(0))
    sched = Schedule(2, 64, 0.05, 0.9, 5e-4)
    gated = train_stack(arch, parent, dset, [0, 1], sched, gates=gates)
    for m in range(2):
        keep = masks.from_gates(masks.select(gates, m))
        carch, cut = models.compact(arch, parent, keep, torch.tensor([m]))
        alone = train_stack(carch, cut, dset, [m], sched)
        for key in ("train_loss", "test_loss", "test_acc"):
            np.testing.assert_allclose(gated[key][:, m], alone[key][:, 0], rtol=1e-5, atol=1e-6)


def test_global_run_keeps_the_total_and_the_winner_is_the_search_minimum(tmp_path):
    cfg = run_smoke(tmp_path, "t_global", structure="global")
    acc = pd.read_csv(cfg.results_path / "accuracy.csv")
    search_csv = pd.read_csv(cfg.results_path / "search.csv")
    arch = models.arch_for("mlp", (64,), 10, cfg.mlp_widths, cfg.cnn_channels)
    sparse = acc[acc.sparsity > 0]
    for r in sparse.itertuples():
        assert sum(map(int, r.widths.split("-"))) == allocation.total(arch, r.sparsity)
    assert sparse.widths.nunique() > 2  # the allocations differ
    w = sparse[sparse.method == "weedout"].set_index(["sparsity", "seed"]).init_score
    best = search_csv.groupby(["sparsity", "seed"]).score.min()
    np.testing.assert_allclose(w.sort_index(), best.sort_index(), rtol=1e-5)


@pytest.mark.parametrize("name", ["global", "unstructured"])
@pytest.mark.parametrize("fields", [{"comparators": ("snip",)}, {"strategy": "evolution"},
                                    {"search_every": 1}, {"controls": ("scratch",)}])
def test_global_and_unstructured_refuse_what_they_do_not_support(monkeypatch, fields, name):
    monkeypatch.setitem(config.PRESETS, "bad", dataclasses.replace(
        config.PRESETS["smoke"], preset="bad", structure=name, **fields))
    if name == "global" and "comparators" in fields:  # ranked across the layers (issue 19)
        assert experiment.configure("bad").comparators == ("snip",)
        return
    with pytest.raises(ValueError, match=f"structure='{name}'"):
        experiment.configure("bad")


# -- unstructured masks: weight-level, at the parameter count of the level's node mask --

def test_unstructured_counts_are_the_compacted_node_mask_weights():
    arch = models.arch_for("mlp", (64,), 10, (64, 64), (8, 8))
    # 0.5 of 64-64 keeps 32-32: 64x32, 32x32 and 10x32 weights (by hand)
    assert masks.weight_counts(arch, 0.5) == [64 * 32, 32 * 32, 10 * 32]
    cnn = models.arch_for("cnn1d", (1, 40), 10, (64, 64), (8, 6))
    # kernel 5; 0.5 of 8-6 keeps 4-3; the classifier sees 3 channels x 10 positions
    assert masks.weight_counts(cnn, 0.5) == [4 * 1 * 5, 3 * 4 * 5, 10 * 3 * 10]
    shapes = masks.weight_shapes(arch)
    w = masks.sample_weights(shapes, masks.weight_counts(arch, 0.5), 30,
                             torch.Generator().manual_seed(0))
    for m, k, shape in zip(w, masks.weight_counts(arch, 0.5), shapes):
        assert m.shape == (30, *shape)
        assert (m.flatten(1).sum(1) == k).all() and ((m == 0) | (m == 1)).all()
    one = masks.select(w, 7)
    assert all(torch.equal(a, b) for a, b in zip(masks.unpack(masks.pack(one), shapes), one))


@pytest.mark.parametrize("kind, shape", [("mlp", (64,)), ("cnn1d", (1, 40))])
def test_weight_scores_equal_the_weights_multiplied_twin(kind, shape):
    arch, parent, g, x, y = tiny(kind, shape)
    w = masks.sample_weights(masks.weight_shapes(arch), masks.weight_counts(arch, 0.5), 12, g)
    got = scoring.weight_scorer(arch, parent, x, y, budget_bytes=1)(w)  # one by one in chunks
    for i in range(12):  # the twin: a plain nn network whose weights are multiplied by the mask
        twin = [p * w[j // 2][i] if j % 2 == 0 else p for j, p in enumerate(parent)]
        want = reference.score_one_by_one(arch, twin, masks.full(arch.widths), x, y)
        torch.testing.assert_close(got[i:i + 1], want, rtol=1e-5, atol=1e-6)


def test_unstructured_training_equals_torch_pruning_reparametrisation():
    from weedout.core.train import Schedule, train_stack
    dset = data.load_dataset("digits", paths.DATA)
    arch = models.arch_for("mlp", dset.in_shape, dset.n_classes, (32, 24), (8, 8))
    parents = [models.init_parent(arch, s) for s in (0, 1)]
    w = masks.sample_weights(masks.weight_shapes(arch), masks.weight_counts(arch, 0.7), 2,
                             torch.Generator().manual_seed(0))
    sched = Schedule(2, 64, 0.05, 0.9, 5e-4)
    ours = train_stack(arch, models.stack(parents), dset, [0, 1], sched, weight_masks=w)
    for m in range(2):
        torch_prune = reference.train_one(arch, parents[m], None, dset, m, sched,
                                          weight_masks=masks.select(w, m))
        for key in ("train_loss", "test_loss"):
            torch.testing.assert_close(ours[key][:, m], torch_prune[key][:, 0], rtol=0, atol=1e-4)
        for key, n in (("train_acc", 1437), ("test_acc", 360)):
            assert (ours[key][:, m] - torch_prune[key][:, 0]).abs().max() <= 1 / n + 1e-12


def test_unstructured_run_reports_nonzero_parameters_and_dense_flops(tmp_path):
    cfg = run_smoke(tmp_path, "t_unstructured", structure="unstructured")
    acc = pd.read_csv(cfg.results_path / "accuracy.csv")
    arch = models.arch_for("mlp", (64,), 10, cfg.mlp_widths, cfg.cnn_channels)
    dense = acc[acc.method == "dense"].iloc[0]
    for r in acc[acc.sparsity > 0].itertuples():
        biases = sum(arch.widths) + 10
        assert r.params == sum(masks.weight_counts(arch, r.sparsity)) + biases
        assert r.flops == dense.flops and r.widths == dense.widths   # dense kernels
    search_csv = pd.read_csv(cfg.results_path / "search.csv")
    w = acc[acc.method == "weedout"].set_index(["sparsity", "seed"]).init_score.sort_index()
    np.testing.assert_allclose(w, search_csv.groupby(["sparsity", "seed"]).score.min(), rtol=1e-5)
