"""Oracle tests of the node-level pruning-at-initialisation scores (weedout.saliency): every
saliency equals an independent computation on a tiny network.

The independent side is MaskedNet, the textbook module whose mask buffers multiply each hidden
layer's output exactly where the engine's gates do: a node's gate is its mask value.

- SNIP: |dL/dgate| == |central finite difference of L in that node's mask around 1|;
- GraSP: d/dgate 1/2||grad_theta L||^2 == its central finite difference, the gradient norm
  taken from MaskedNet's own autograd over its parameters;
- magnitude: the L1 norm of each node's incoming weights, summed by hand;
- SynFlow: conservation of flow (bias-free: each layer's scores sum to R, the same for every
  layer) and R == the |weights| MaskedNet's output sum on an all-ones input.

Tolerances: float64 everywhere; a central difference with step 1e-4 has truncation error
~h^2 * L''' ~ 1e-8 on these O(1) losses, so derivatives are compared at atol 1e-6.
"""
import pytest
import torch

from weedout.core import masks, models, saliency, scoring, search

ARCHS = {"mlp": models.Arch("mlp", (1, 6, 6), (7, 5), 4),
         "cnn1d": models.Arch("cnn1d", (1, 12), (5, 4), 3),
         "cnn": models.Arch("cnn", (2, 8, 8), (5, 4), 3)}
H, ATOL = 1e-4, 1e-6


def _setup(kind, seed=0):
    arch = ARCHS[kind]
    parent = [p.double() for p in models.init_parent(arch, seed)]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, *arch.in_shape, generator=g, dtype=torch.float64)
    y = torch.randint(arch.n_classes, (32,), generator=g)
    return arch, parent, x, y


def _net(arch, params, gates):
    net = models.load_params(models.MaskedNet(arch).double(), params)
    return net.set_masks([g.double() for g in gates])


def _loss(arch, params, x, y, gates):
    return torch.nn.functional.cross_entropy(_net(arch, params, gates)(x), y)


def _flow(arch, params, x, y, gates):
    net = _net(arch, params, gates)
    loss = torch.nn.functional.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    return 0.5 * sum(float((g * g).sum()) for g in grads)


def _finite_difference(f, arch):
    """Central difference of f(gates) in every gate around all-ones: one tensor per layer."""
    out = []
    for l, w in enumerate(arch.widths):
        d = torch.zeros(w, dtype=torch.float64)
        for i in range(w):
            up = [torch.ones(n, dtype=torch.float64) for n in arch.widths]
            down = [torch.ones(n, dtype=torch.float64) for n in arch.widths]
            up[l][i], down[l][i] = 1 + H, 1 - H
            d[i] = (f(up) - f(down)) / (2 * H)
        out.append(d)
    return out


@pytest.mark.parametrize("kind", sorted(ARCHS))
def test_snip_is_the_loss_derivative_in_the_node_gate(kind):
    arch, parent, x, y = _setup(kind)
    got = saliency.snip(arch, parent, x, y)
    want = _finite_difference(lambda gates: float(_loss(arch, parent, x, y, gates).detach()), arch)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b.abs(), rtol=0, atol=ATOL)
    assert any(float(a.abs().max()) > 100 * ATOL for a in got)  # not a test of zeros


@pytest.mark.parametrize("kind", sorted(ARCHS))
def test_grasp_is_the_gradient_flow_derivative_in_the_node_gate(kind):
    arch, parent, x, y = _setup(kind, seed=1)
    got = saliency.grasp(arch, parent, x, y)
    want = _finite_difference(lambda gates: _flow(arch, parent, x, y, gates), arch)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=ATOL)
    assert any(float(a.abs().max()) > 100 * ATOL for a in got)


@pytest.mark.parametrize("kind", sorted(ARCHS))
def test_magnitude_by_hand(kind):
    arch, parent, _, _ = _setup(kind)
    got = saliency.magnitude(arch, parent)
    for l, w in enumerate(arch.widths):
        W = parent[2 * l]
        by_hand = [sum(abs(float(v)) for v in W[i].reshape(-1)) for i in range(w)]
        torch.testing.assert_close(got[l], torch.tensor(by_hand, dtype=torch.float64))


@pytest.mark.parametrize("kind", sorted(ARCHS))
def test_synflow_conserves_flow_across_layers(kind):
    arch, parent, _, _ = _setup(kind)
    no_bias = [p if i % 2 == 0 else torch.zeros_like(p) for i, p in enumerate(parent)]
    scores, R = saliency.synflow_scores(arch, no_bias, [torch.ones(w) for w in arch.widths])
    for s in scores:  # R is linear in each layer's gates: Euler's theorem, layer by layer
        assert float(s.sum()) == pytest.approx(R, rel=1e-10)
        assert bool((s >= 0).all())
    net = _net(arch, [p.abs() for p in parent], [torch.ones(w) for w in arch.widths])
    ones = torch.ones(1, *arch.in_shape, dtype=torch.float64)
    _, R_with_bias = saliency.synflow_scores(arch, parent, [torch.ones(w) for w in arch.widths])
    assert R_with_bias == pytest.approx(float(net(ones).sum()), rel=1e-12)


@pytest.mark.parametrize("kind", sorted(ARCHS))
def test_iterative_synflow_keeps_exact_counts_and_reaches_one_shot_with_one_round(kind):
    arch, parent, _, _ = _setup(kind)
    kept = masks.kept_widths(arch.widths, 0.6)
    keep = saliency.synflow(arch, parent, kept, iterations=20)
    assert [tuple(k.shape) for k in keep] == [(1, k) for k in kept]
    one, _ = saliency.synflow_scores(arch, parent, [torch.ones(w) for w in arch.widths])
    one_shot = saliency.keep_top(one, kept)
    assert all(torch.equal(a, b) for a, b in zip(saliency.synflow(arch, parent, kept, iterations=1),
                                                 one_shot))


def test_keep_top_takes_the_largest_and_breaks_ties_by_index():
    sal = [torch.tensor([0.5, 2.0, 2.0, -1.0, 3.0])]
    assert saliency.keep_top(sal, (3,))[0].tolist() == [[1, 2, 4]]
    assert saliency.keep_top(sal, (2,))[0].tolist() == [[1, 4]]   # tie 1 vs 2: lower index
    alive = [torch.tensor([True, True, False, True, False])]
    assert saliency.keep_top(sal, (2,), alive)[0].tolist() == [[0, 1]]
    assert saliency.keep_top([-s for s in sal], (2,))[0].tolist() == [[0, 3]]  # inverted


def _context(kind, sparsity=0.5, seed=0):
    arch, parent, x, y = _setup(kind, seed)
    parent, x = [p.float() for p in parent], x.float()
    score = scoring.scorer(arch, parent, x, y)
    g = torch.Generator().manual_seed(seed)
    return search.context(arch, parent, x, y, sparsity, 10, g, score)


@pytest.mark.parametrize("kind", sorted(ARCHS))
@pytest.mark.parametrize("name", [n for n in sorted(search.STRATEGIES)
                                  if n.removesuffix("_inverted") in search.SALIENCY])
def test_every_saliency_strategy_keeps_exact_counts_and_records_its_cost(kind, name):
    ctx = _context(kind)
    found, cost = search.run(search.STRATEGIES[name], ctx)
    assert [tuple(k.shape) for k in found.best] == [(1, k) for k in ctx.kept]
    assert all(torch.equal(k, k.sort(dim=1).values) and k.unique().numel() == k.numel()
               for k in found.best)
    # the trace is the chosen mask's own score, evaluated outside the cost
    assert found.scores == [float(ctx.evaluate(found.best)[0])] and found.best_index == 0
    base = name.removesuffix("_inverted")
    passes = {"magnitude": (0, 0), "snip": (1, 1), "grasp": (1, 3),
              "synflow": (saliency.SYNFLOW_ITERATIONS,) * 2}[base]
    assert (cost["forward"], cost["backward"]) == passes and cost["seconds"] >= 0


@pytest.mark.parametrize("base", ["magnitude", "snip", "grasp"])
def test_inverted_keeps_the_least_salient_nodes(base):
    ctx = _context("mlp")
    sal = (saliency.magnitude(ctx.arch, ctx.parent) if base == "magnitude"
           else getattr(saliency, base)(ctx.arch, ctx.parent, ctx.x, ctx.y))
    inv, _ = search.run(search.STRATEGIES[base + "_inverted"], ctx)
    for s, k, keep in zip(sal, ctx.kept, inv.best):
        lowest = sorted(range(len(s)), key=lambda i: (float(s[i]), i))[:k]
        assert keep[0].tolist() == sorted(lowest)


def test_random_search_costs_one_forward_per_candidate():
    ctx = _context("cnn")
    found, cost = search.run(search.STRATEGIES["random_search"], ctx)
    assert cost["forward"] == len(found.scores) == 10 and cost["backward"] == 0
