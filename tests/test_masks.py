"""weedout.masks: exact-count node masks (the paper's local, uniform sparsity).

Oracles are independent of the code under test: expected counts from exact rational
arithmetic on the sparsity as written in decimal, uniformity from counting many seeded draws.
"""
import itertools
import math
from fractions import Fraction

import pytest
import torch

from weedout.core import masks

WIDTHS = (1, 2, 3, 4, 5, 7, 10, 20, 64, 100, 255, 256, 512)
SPARSITIES = (0.0, 0.05, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 1 / 3, 0.35, 0.45, 0.5, 0.55, 0.6,
              0.65, 0.7, 0.75, 0.8, 0.85, 0.875, 0.9, 0.95, 0.99, 0.999)


def expected_k(width: int, sparsity: float) -> int:
    """round-half-up((1 - s) * w), at least 1, computed exactly on the decimal the user wrote
    (Fraction(repr(s))): 0.15 means 15/100, not the binary float just below it."""
    x = (1 - Fraction(repr(sparsity))) * width
    return max(1, math.floor(x + Fraction(1, 2)))


@pytest.mark.parametrize("width", WIDTHS)
def test_kept_nodes_exact_round_half_up(width):
    for s in SPARSITIES:
        assert masks.kept_nodes(width, s) == expected_k(width, s), (width, s)


def test_rounding_edge_cases():
    # Exact halves round up, including those that are not exact in binary floating point.
    assert masks.kept_nodes(10, 0.15) == 9    # 8.5 (float gives 8.4999...)
    assert masks.kept_nodes(10, 0.25) == 8    # 7.5
    assert masks.kept_nodes(10, 0.35) == 7    # 6.5
    assert masks.kept_nodes(3, 0.5) == 2      # 1.5
    assert masks.kept_nodes(2, 0.75) == 1     # 0.5
    assert masks.kept_nodes(256, 0.9) == 26   # 25.6
    # Never below one node, however sparse.
    assert masks.kept_nodes(1, 0.99) == 1 and masks.kept_nodes(4, 0.875) == 1
    assert masks.kept_nodes(512, 0.999) == 1
    assert masks.kept_nodes(7, 0.0) == 7
    assert masks.kept_widths((10, 256, 3), 0.5) == (5, 128, 2)


@pytest.mark.parametrize("s", [1.0, 1.5, -0.1, -1e-12, float("nan"), float("inf")])
def test_kept_nodes_rejects_sparsity_outside_unit_interval(s):
    with pytest.raises(ValueError, match="sparsity"):
        masks.kept_nodes(10, s)


@pytest.mark.parametrize("widths,s", [((10, 7), 0.15), ((256, 256), 0.9), ((64, 3, 5), 0.5),
                                      ((1, 2), 0.75), ((20,), 0.0)])
def test_sample_exact_counts_sorted_unique(widths, s):
    keep = masks.sample(widths, s, 50, torch.Generator().manual_seed(0))
    assert len(keep) == len(widths)
    for k, w in zip(keep, widths):
        assert k.dtype == torch.long and k.shape == (50, expected_k(w, s))
        assert (k >= 0).all() and (k < w).all()
        assert (k[:, 1:] > k[:, :-1]).all()  # strictly increasing: sorted and no repeats
    binary = masks.to_binary(keep, widths)
    for b, k, w in zip(binary, keep, widths):
        assert b.shape == (50, w) and set(b.unique().tolist()) <= {0.0, 1.0}
        assert (b.sum(1) == k.shape[1]).all()
        assert torch.equal(b.gather(1, k), torch.ones_like(k, dtype=b.dtype))


def test_uniform_over_nodes_and_subsets():
    """Each node kept with frequency k/w, and every k-subset equally likely.

    n = 20000 seeded draws. A node's frequency has standard deviation sqrt(p(1-p)/n): 0.0032
    for p = 0.3; a subset's (p = 1/10) 0.0021. We allow 5 standard deviations, so a correct
    sampler fails with probability < 1e-5 for any seed, while a biased one (e.g. always
    favouring low indices by even 2 points) fails. The seed is fixed, so the test is deterministic.
    """
    n = 20000
    g = torch.Generator().manual_seed(1234)
    (keep,) = masks.sample((10,), 0.7, n, g)
    freq = masks.to_binary([keep], (10,))[0].mean(0)
    p = 3 / 10
    assert (freq - p).abs().max() < 5 * math.sqrt(p * (1 - p) / n)

    (keep,) = masks.sample((5,), 0.6, n, g)   # k = 2 of 5: C(5, 2) = 10 subsets
    counts = {c: 0 for c in itertools.combinations(range(5), 2)}
    for row in keep.tolist():
        counts[tuple(row)] += 1
    p = 1 / len(counts)
    sd = math.sqrt(p * (1 - p) / n)
    assert all(abs(c / n - p) < 5 * sd for c in counts.values()), counts


def test_layers_drawn_independently():
    # Two layers of equal width must not reuse the same subset (a shared permutation would).
    a, b = masks.sample((50, 50), 0.5, 200, torch.Generator().manual_seed(3))
    assert (a != b).any(1).float().mean() > 0.99


def test_reproducible_from_generator():
    draw = lambda seed: masks.sample((64, 32), 0.75, 20, torch.Generator().manual_seed(seed))
    assert all(torch.equal(x, y) for x, y in zip(draw(7), draw(7)))
    assert any(not torch.equal(x, y) for x, y in zip(draw(7), draw(8)))
    # Drawing in two calls from one generator = drawing the same stream further; not a replay.
    g = torch.Generator().manual_seed(7)
    first, second = masks.sample((64, 32), 0.75, 20, g), masks.sample((64, 32), 0.75, 20, g)
    assert not torch.equal(first[0], second[0])
    # The global RNG is untouched: masks depend only on the generator passed in.
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    draw(7)
    assert torch.equal(torch.rand(1), before)


def test_full_select_cat_lists_roundtrip():
    full = masks.full((4, 3), n=2)
    assert [k.tolist() for k in full] == [[[0, 1, 2, 3]] * 2, [[0, 1, 2]] * 2]
    keep = masks.sample((8, 6), 0.5, 5, torch.Generator().manual_seed(0))
    one = masks.select(keep, 2)
    assert [k.shape for k in one] == [(1, 4), (1, 3)]
    assert all(torch.equal(o[0], k[2]) for o, k in zip(one, keep))
    both = masks.cat([masks.select(keep, slice(0, 2)), masks.select(keep, slice(2, 5))])
    assert all(torch.equal(x, y) for x, y in zip(both, keep))
    back = masks.from_lists(masks.to_lists(keep))
    assert all(torch.equal(x, y) for x, y in zip(back, keep))
