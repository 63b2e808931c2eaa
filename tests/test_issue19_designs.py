"""The design choices that decided conclusions before any network trained (issue 19), each with
its alternative built and checked against a hand computation:

- saliency comparators ranked across the layers (one node budget, a floor of one node per
  layer, ties by layer then index), SynFlow iterative and global;
- the non-uniform allocation at equal parameter count (within 1% where whole nodes allow it),
  and real ERK (Evci et al. 2020) for weight masks;
- node-level drop-and-grow: a grow step leaves the network's outputs unchanged, counts exact.
"""
import dataclasses
import math

import pandas as pd
import pytest
import torch

from weedout import experiment
from weedout.axes import registry
from weedout.core import allocation, masks, models, regrow, saliency

MLP = models.Arch("mlp", (1, 8, 8), (32, 16), 10)
CNN = models.Arch("cnn1d", (2, 8), (4, 3), 3)


# ---- global ranking ----------------------------------------------------------------------------

def test_global_ranking_keeps_the_budget_with_a_floor_per_layer():
    sal = [torch.tensor([0.1, 0.9, 0.8, 0.05]), torch.tensor([0.01, 0.02]),
           torch.tensor([0.7, 0.9, 0.1])]
    keep = saliency.keep_top_global(sal, 5)
    # floors: layer 0 -> node 1 (0.9), layer 1 -> node 1 (0.02), layer 2 -> node 1 (0.9);
    # then the two best of the rest over all layers: 0.8 (layer 0 node 2), 0.7 (layer 2 node 0)
    assert [k[0].tolist() for k in keep] == [[1, 2], [1], [0, 1]]
    assert sum(k.shape[1] for k in keep) == 5


def test_global_ranking_ties_go_to_the_earlier_layer_then_the_lower_index():
    sal = [torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0])]
    assert [k[0].tolist() for k in saliency.keep_top_global(sal, 3)] == [[0, 1], [0]]


def test_global_synflow_keeps_the_budget_and_prunes_whole_layers_no_further_than_one_node():
    parent = models.init_parent(MLP, 0)
    keep = saliency.synflow(MLP, parent, masks.kept_widths(MLP.widths, 0.9), total=5,
                            iterations=10)
    assert sum(k.shape[1] for k in keep) == 5 and all(k.shape[1] >= 1 for k in keep)


@pytest.fixture(scope="module")
def global_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("global")
    cfg = experiment.configure("smoke", SEEDS=2, SPARSITIES=[0.75], CANDIDATES=4, EPOCHS=1,
                               RESULTS_DIR=str(root / "res"), FIGURES_DIR=str(root / "fig"))
    cfg = dataclasses.replace(cfg, mlp_widths=(16, 12), structure="global",
                              comparators=("snip", "magnitude_inverted", "synflow"))
    registry.validate(cfg)  # comparators ranked across layers: allowed with global masks
    experiment.run_all(cfg)
    return cfg


def test_global_comparators_choose_within_the_budget_and_train(global_run):
    acc = pd.read_csv(global_run.results_path / "accuracy.csv")
    sparse = acc[acc.sparsity > 0]
    assert set(sparse.method) == {"weedout", "random", "snip", "magnitude_inverted", "synflow"}
    total = sum(masks.kept_widths((16, 12), 0.75))
    kept = sparse.widths.str.split("-").map(lambda w: [int(v) for v in w])
    assert (kept.map(sum) == total).all() and (kept.map(min) >= 1).all()
    # the globally ranked magnitude (inverted) is the least-L1 nodes of the network: by hand
    from weedout.core.seeds import parent_params
    arch = models.Arch("mlp", (1, 8, 8), (16, 12), 10)
    for seed in global_run.seeds:
        parent = parent_params(arch, "digits", "mlp", seed, "cpu")
        want = saliency.keep_top_global([-v for v in saliency.magnitude(arch, parent)], total)
        row = sparse[(sparse.method == "magnitude_inverted") & (sparse.seed == seed)]
        assert row.widths.item() == "-".join(str(k.shape[1]) for k in want)


# ---- equal parameters, ERK -----------------------------------------------------------------------

@pytest.mark.parametrize("s", [0.1, 0.3, 0.5, 0.7, 0.8, 0.9])
def test_equal_parameter_allocation_is_within_one_percent_for_the_mlp(s):
    arch = models.Arch("mlp", (1, 40), (256, 256), 10)
    local = allocation.params(arch, masks.kept_widths(arch.widths, s))
    kept = allocation.kept(arch, s, "nonuniform", equal_to="params")
    assert abs(allocation.params(arch, kept) - local) <= 0.01 * local


@pytest.mark.parametrize("s", [0.5, 0.8, 0.9])
def test_equal_parameter_allocation_is_the_closest_whole_node_total(s):
    """The 1-D CNN's channels are too coarse for 1% at high sparsity: the total chosen is the
    closest any total of whole channels gets (brute force over every total)."""
    arch = models.Arch("cnn1d", (1, 40), (32, 32), 10)
    density = allocation.erk_density(arch)
    local = allocation.params(arch, masks.kept_widths(arch.widths, s))
    best = min(abs(allocation.params(arch, allocation.allocate(arch.widths, t, density)) - local)
               for t in range(2, 65))
    kept = allocation.kept(arch, s, "nonuniform", equal_to="params")
    assert abs(allocation.params(arch, kept) - local) == best


def test_erk_weight_counts_by_hand():
    # MLP 64 -> 32 -> 16 -> 10 at 0.5: the local masks keep 16*64, 8*16, 10*8 = 1232 weights;
    # ERK shares them as 96 : 48 : 26 (out + in); the classifier's 188.4 exceeds its 160, so it
    # keeps all and 1072 are shared 96 : 48 -> 714.67, 357.33 -> 715, 357 (largest remainder)
    assert allocation.erk_weight_counts(MLP, 0.5) == [715, 357, 160]
    # 1-D CNN (2 channels, length 8) -> 4 -> 3 channels, kernel 5, 3 classes on 3 x 2 features
    # at 0.5: local 20 + 20 + 12 = 52 weights, shares 11 : 12 : 9 -> 17.875, 19.5, 14.625
    # -> 17, 19, 14 and the two largest remainders (0.875, 0.625) -> 18, 19, 15
    assert allocation.erk_weight_counts(CNN, 0.5) == [18, 19, 15]


# ---- drop and grow --------------------------------------------------------------------------------

def test_the_drop_fraction_decays_along_a_cosine():
    assert regrow.drop_fraction(0.3, 0, 30) == pytest.approx(0.3)
    assert regrow.drop_fraction(0.3, 15, 30) == pytest.approx(0.15)
    assert regrow.drop_fraction(0.3, 30, 30) == pytest.approx(0.0)


@pytest.mark.parametrize("arch", [MLP, CNN], ids=["mlp", "cnn1d"])
@pytest.mark.parametrize("how", ["set", "rigl"])
def test_a_grow_step_leaves_the_outputs_unchanged_and_the_counts_exact(arch, how):
    g = torch.Generator().manual_seed(0)
    parent = models.init_parent(arch, 1)
    keep = masks.sample(arch.widths, 0.5, 1, g)
    x = torch.randn(7, *arch.in_shape, generator=g)
    y = torch.randint(0, arch.n_classes, (7,), generator=g)
    n = regrow.counts(keep, arch.widths, 0.5)
    kept = regrow.drop(parent, keep, n)
    # dropped: the lowest L1 incoming rows among the kept
    for l, (k, left) in enumerate(zip(keep, kept)):
        l1 = parent[2 * l].abs().flatten(1).sum(1)
        gone = sorted(set(k[0].tolist()) - set(left[0].tolist()))
        stay = left[0].tolist()
        assert len(gone) == n[l] and (not gone or max(l1[gone]) <= min(l1[stay]))

    def out(params, k):
        carch, cparams = models.compact(arch, [p[None] for p in params], k)
        return models.forward(carch, cparams, x)

    before = out(parent, kept)
    new, grown = regrow.step(arch, parent, keep, 0.5, how, g, (x, y))
    assert [k.shape[1] for k in new] == [k.shape[1] for k in keep]  # exact counts per layer
    assert all(len(gr) == m for gr, m in zip(grown, n))
    after = out(parent, new)
    torch.testing.assert_close(after, before, rtol=0, atol=1e-6)


def test_drop_and_grow_runs_through_the_stages(tmp_path):
    cfg = experiment.configure("smoke", SEEDS=2, SPARSITIES=[0.5], CANDIDATES=4, EPOCHS=3,
                               RESULTS_DIR=str(tmp_path / "res"), FIGURES_DIR=str(tmp_path / "f"))
    cfg = dataclasses.replace(cfg, mlp_widths=(16, 12), search_every=1, regrow="rigl")
    experiment.run_all(cfg)
    moves = pd.read_csv(cfg.results_path / "researches.csv")
    assert set(moves.method) == {"weedout", "random"} and (moves.moved > 0).any()
    # the fraction swapped at the cut of epoch e: round(0.3/2 (1 + cos(pi e/3)) x 8) per layer
    for e, g in moves.groupby("epoch"):
        frac = regrow.drop_fraction(0.3, e, 3)
        assert (g.moved == sum(round(frac * k) for k in (8, 6))).all()
