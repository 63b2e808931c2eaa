"""Compute accounting (weedout.compute): FLOP counts against hand counts and against torch's
FlopCounterMode run over the real code paths, and the compute table's bookkeeping."""
import types

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from weedout.analysis import cost
from weedout.core import flops, masks, models, saliency, scoring, search
from weedout.core.train import Schedule, train_stack

TINY = [("mlp", (1, 4, 4)), ("cnn1d", (1, 16)), ("cnn", (1, 8, 8))]


def _flops(fn) -> int:
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


@pytest.mark.parametrize("arch, macs", [
    # 4 inputs -> 3 -> 2 -> 2 classes: 4*3 + 3*2 + 2*2
    (models.Arch("mlp", (1, 2, 2), (3, 2), 2), 4 * 3 + 3 * 2 + 2 * 2),
    # length 8, kernel 5, same padding, pool 2 per block: 2 filters x 1 x 5 x 8 positions, then
    # 3 x 2 x 5 x 4, then the classifier on 3 channels x 2 positions
    (models.Arch("cnn1d", (1, 8), (2, 3), 2), 2 * 1 * 5 * 8 + 3 * 2 * 5 * 4 + 2 * 3 * 2),
    # 4x4, kernel 3x3: 2 x 1 x 9 x 16, then 2 x 2 x 9 x 4, then 2 classes x 2 channels x 1 x 1
    (models.Arch("cnn", (1, 4, 4), (2, 2), 2), 2 * 1 * 9 * 16 + 2 * 2 * 9 * 4 + 2 * 2),
])
def test_forward_flops_equal_a_hand_count_and_flop_counter(arch, macs):
    assert models.count(arch)[1] == 2 * macs
    net = models.MaskedNet(arch)
    x = torch.randn(3, *arch.in_shape)
    assert _flops(lambda: net(x)) == 3 * 2 * macs   # the naive nn.Module, 3 examples
    first = 2 * (arch.widths[0] * 4 if arch.kind == "mlp" else
                 arch.widths[0] * {"cnn1d": 5 * 8, "cnn": 9 * 16}[arch.kind])
    assert flops.first_layer_flops(arch) == first


@pytest.mark.parametrize("kind, shape", TINY)
@pytest.mark.parametrize("M", [1, 2])
def test_training_flops_equal_flop_counter_over_train_stack(kind, shape, M):
    if M > 1 and kind != "mlp":
        # FlopCounterMode counts the backward of a grouped convolution (the stack of M conv
        # nets) as if it were ungrouped: measured M-1 extra conv passes per network. The
        # stacked matmuls of the MLP are counted exactly, so the stack is checked there.
        pytest.skip("FlopCounterMode overcounts grouped-convolution backward")
    arch = models.Arch(kind, shape, (8, 6), 3)
    params = models.stack([models.init_parent(arch, s) for s in range(M)])
    g = torch.Generator().manual_seed(0)
    n_train, n_test, epochs = 20, 7, 2
    data = types.SimpleNamespace(
        name="t", x_train=torch.randn(n_train, *shape, generator=g),
        y_train=torch.randint(0, 3, (n_train,), generator=g),
        x_test=torch.randn(n_test, *shape, generator=g),
        y_test=torch.randint(0, 3, (n_test,), generator=g))
    measured = _flops(lambda: train_stack(arch, params, data, list(range(M)),
                                          Schedule(epochs, 8, 0.1, 0.9, 0.0)))
    # an MLP stack of one runs as a stack of two (train._as_two: bit-identical to any larger
    # stack on every CPU); the second copy is real work, so FlopCounterMode counts it
    stacked = 2 if (M == 1 and kind == "mlp") else M
    assert measured == stacked * flops.training_flops(arch, epochs, n_train, n_test)


def _batch(arch, B=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, *arch.in_shape, generator=g),
            torch.randint(0, arch.n_classes, (B,), generator=g))


@pytest.mark.parametrize("kind, shape", TINY)
def test_search_cost_flops_equal_flop_counter_and_hand_counts(kind, shape):
    """What `search.run` records for every strategy, against FlopCounterMode run around the
    whole search (less the one uncounted evaluation of a saliency method's chosen mask), and
    against counts derived by hand from the architecture."""
    arch = models.Arch(kind, shape, (8, 6), 3)
    parent = models.init_parent(arch, 0)
    x, y = _batch(arch)
    B, F, F0 = x.shape[0], models.count(arch)[1], flops.first_layer_flops(arch)
    score = scoring.scorer(arch, parent, x, y)
    kept = arch.with_widths(masks.kept_widths(arch.widths, 0.5))
    # A scored candidate: one forward pass of the compact candidate, less its first layer (the
    # scorer computes the parent's once and gathers the kept channels from it).
    per_candidate = B * (models.count(kept)[1] - flops.first_layer_flops(kept))
    recorded = {}
    for name in search.STRATEGIES:
        budget = 9 if name == "evolution" else 7
        ctx = search.context(arch, parent, x, y, 0.5, budget, torch.Generator().manual_seed(1),
                             score)
        with FlopCounterMode(display=False) as fc:
            _, cost = search.run(search.STRATEGIES[name], ctx)
        evaluated = per_candidate if name.removesuffix("_inverted") in search.SALIENCY else 0
        assert cost["flops"] == fc.get_total_flops() - evaluated, name
        recorded[name] = cost["flops"]
    assert recorded["random_search"] == 7 * per_candidate
    assert recorded["evolution"] == 9 * per_candidate
    # SNIP: a forward pass of the parent, then the backward pass to the gates, which needs the
    # input gradients of every layer but the first and no weight gradient.
    assert recorded["snip"] == recorded["snip_inverted"] == B * (2 * F - F0)
    # SynFlow: the same on one all-ones example, once per round.
    assert recorded["synflow"] == saliency.SYNFLOW_ITERATIONS * (2 * F - F0)
    assert recorded["magnitude"] == 0           # reads the weights, no pass
    # GraSP (measured as it runs): 1 forward and 3 backward passes (a double backward counts
    # 2): more than a forward and a first backward, at most 7 forward passes' worth.
    assert B * (3 * F - F0) < recorded["grasp"] <= 7 * B * F


def test_counting_adds_up_and_ignores_none():
    cost = {"flops": 10}
    a = torch.ones(4, 3)
    with flops.counting(cost):
        a @ a.T
    assert cost["flops"] == 10 + 2 * 4 * 3 * 4
    with flops.counting(None):
        a @ a.T


def _record(method_rows, seconds=12.0, sparsity=0.5):
    return {"dataset": "d", "model": "mlp", "sparsity": sparsity, "seconds": seconds,
            "stacked": len(method_rows),
            "networks": [{"method": m, "seed": s, "train_flops": tf, "diverged_epoch": div,
                          "curves": {"test_acc": [0.1, acc]}}
                         for m, s, tf, acc, div in method_rows]}


def test_table_totals_search_plus_training_with_free_draws():
    import pandas as pd
    recs = [_record([("weedout", 0, 100, 0.8, None), ("random", 0, 100, 0.7, None),
                     ("snip", 0, 100, 0.6, 3)]),
            _record([("dense", 0, 400, 0.9, None)], seconds=2.0, sparsity=0.0)]
    searches = pd.DataFrame([
        {"dataset": "d", "model": "mlp", "sparsity": 0.5, "seed": 0, "method": "weedout",
         "forward": 10, "backward": 0, "flops": 50, "seconds": 1.5},
        {"dataset": "d", "model": "mlp", "sparsity": 0.5, "seed": 0, "method": "random",
         "forward": 0, "backward": 0, "flops": 0, "seconds": 0.0},
        {"dataset": "d", "model": "mlp", "sparsity": 0.5, "seed": 0, "method": "snip",
         "forward": 1, "backward": 1, "flops": 7, "seconds": 0.25}])
    t = cost.table(searches, recs).set_index("method")
    assert list(t.total_flops[["weedout", "random", "snip", "dense"]]) == [150, 100, 107, 400]
    assert t.train_seconds["weedout"] == t.train_seconds["snip"] == 4.0   # 12 s / 3 stacked
    assert t.total_seconds["weedout"] == 5.5 and t.total_seconds["dense"] == 2.0
    assert np.isnan(t.test_acc["snip"]) and t.test_acc["weedout"] == 0.8  # diverged: NaN
    s = cost.summary(t.reset_index()).set_index("method")
    assert s.search_share["weedout"] == pytest.approx(50 / 150)
    assert s.search_share["random"] == 0.0
    assert s.total_gflops["dense"] == pytest.approx(400e-9)


def test_table_of_records_without_flops_is_nan_not_a_crash():
    rec = _record([("weedout", 0, 100, 0.8, None)])
    del rec["seconds"], rec["stacked"]
    del rec["networks"][0]["train_flops"]
    t = cost.table(None, [rec])
    assert t.total_flops.isna().all() and t.train_seconds.isna().all()
