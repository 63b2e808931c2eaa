"""weedout.headstart against hand computations on small tables written out here."""
import numpy as np
import pandas as pd
import pytest

from weedout.analysis import headstart


def test_search_gap_is_median_minus_winner_averaged_over_seeds():
    rows = []
    for seed, scores, best in ((0, [2.0, 1.0, 3.0], 1), (1, [1.5, 2.5, 0.5, 4.0], 2)):
        rows += [{"dataset": "d", "model": "mlp", "sparsity": 0.5, "seed": seed, "candidate": i,
                  "score": sc, "chosen": i == best} for i, sc in enumerate(scores)]
    got = headstart.search_gap(pd.DataFrame(rows)).iloc[0]
    assert got["median"] == pytest.approx((2.0 + 2.0) / 2)   # medians 2.0 and (1.5+2.5)/2
    assert got["winner"] == pytest.approx((1.0 + 0.5) / 2)
    assert got["gap"] == pytest.approx(((2.0 - 1.0) + (2.0 - 0.5)) / 2)


def test_gap_by_epoch_pairs_by_seed_in_points():
    rng = np.random.default_rng(0)
    rows = [{"dataset": "d", "model": "mlp", "sparsity": s, "method": m, "seed": seed,
             "epoch": e, "test_acc": float(rng.uniform())}
            for s in (0.0, 0.5) for m in (("dense",) if s == 0 else ("weedout", "random", "snip"))
            for seed in range(3) for e in range(4)]
    curves = pd.DataFrame(rows)
    got = headstart.gap_by_epoch(curves, [1, 3]).set_index(["epoch", "method"])["diff"]
    assert sorted(got.index) == [(1, "snip"), (1, "weedout"), (3, "snip"), (3, "weedout")]
    for e in (1, 3):
        for m in ("weedout", "snip"):
            a = curves[(curves.method == m) & (curves.epoch == e)].set_index("seed").test_acc
            r = curves[(curves.method == "random") & (curves.epoch == e)].set_index("seed").test_acc
            assert got[(e, m)] == pytest.approx(100 * (a - r).mean())
