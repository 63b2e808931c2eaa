"""Pruning-at-initialisation scores applied to whole nodes: the field's comparators for Weedout.

Every score gives one saliency per hidden node (a unit of the MLP, a channel of a CNN) of the
untrained parent; a method keeps the k_l most salient nodes of every layer, the same exact
counts as the random control (`keep_top`). A node is scored through a *gate*: a multiplier on
its output (after ReLU and pooling), 1 in the parent, 0 when the node is removed
(`models.forward(..., gates=...)`). Higher saliency = keep.

    magnitude  L1 norm of the node's incoming weights (filter pruning, Li et al. 2017)
    snip       |dL/dgate| on the scoring batch: the first-order estimate of the loss change when
               the node is removed (connection sensitivity, Lee et al. 2019, at node level)
    grasp      d/dgate of the gradient flow 1/2 ||grad_theta L||^2 (Wang et al. 2020): GraSP's
               score -theta * Hg with the gates as the pruned quantities. GraSP removes the
               highest -gate * (Hg)_gate, i.e. keeps the nodes whose removal would reduce the
               gradient flow most. (No softmax temperature: the loss is the search's own.)
    synflow    gate * dR/dgate with R = sum of the outputs of the network with |weights| on an
               all-ones input (data-free, Tanaka et al. 2020), pruned iteratively: `iterations`
               rounds, the kept count shrinking geometrically to k_l, scores recomputed on the
               survivors each round (float64: R is a product of sums over the layers)

The inverted variants keep the *least* salient nodes (Frankle et al. 2021's sanity check): if
inverting a score does not hurt, the score carries no information about which nodes matter.
Costs are counted in passes of one network over the scoring batch (SynFlow's input is one
all-ones example): forward, and backward where a double backward counts 2; and in FLOPs
(`weedout.core.flops`).
"""
from __future__ import annotations

import torch

from . import flops, models
from .models import Arch

SYNFLOW_ITERATIONS = 100  # Tanaka et al.'s default schedule length


def keep_top(saliency: list[torch.Tensor], kept: tuple[int, ...],
             alive: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """Per layer, the sorted indices [1, k] of the k most salient nodes (among `alive` ones when
    given). Ties go to the lower index (a stable sort), so the choice is deterministic."""
    out = []
    for l, (sal, k) in enumerate(zip(saliency, kept)):
        sal = sal.detach().double().cpu()
        if alive is not None:
            sal = sal.masked_fill(~alive[l].cpu(), -torch.inf)
        order = torch.argsort(-sal, stable=True)
        out.append(order[:k].sort().values[None])
    return out


def keep_top_global(saliency: list[torch.Tensor], total: int,
                    alive: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """The `total` most salient nodes of the whole network (among `alive` ones when given) as
    sorted indices [1, k_l] per layer, at least one per layer: every layer's most salient node
    first, then the rest by one ranking over all layers. Ties go to the earlier layer, then the
    lower index (a stable sort of the layers' saliencies, concatenated in order)."""
    sal = [s.detach().double().cpu() for s in saliency]
    if alive is not None:
        sal = [s.masked_fill(~a.cpu(), -torch.inf) for s, a in zip(sal, alive)]
    offsets = [0]
    for s in sal[:-1]:
        offsets.append(offsets[-1] + len(s))
    priority = torch.cat(sal)
    for o, s in zip(offsets, sal):  # the floor: each layer's best (the first of equal ones)
        priority[o + int(torch.argmax(s))] = torch.inf
    chosen = torch.argsort(-priority, stable=True)[:total].sort().values
    return [chosen[(chosen >= o) & (chosen < o + len(s))][None] - o for o, s in zip(offsets, sal)]


def _ones_gates(arch: Arch, device, dtype=torch.float32) -> list[torch.Tensor]:
    return [torch.ones(1, w, device=device, dtype=dtype, requires_grad=True) for w in arch.widths]


def _loss(arch: Arch, params: list, x, y, gates) -> torch.Tensor:
    return models.cross_entropy(models.forward(arch, params, x, gates=gates)[0], y).mean()


def magnitude(arch: Arch, parent: list[torch.Tensor]) -> list[torch.Tensor]:
    """L1 norm of each node's incoming weights (its row of W_l; a conv filter; no bias)."""
    return [parent[2 * l].abs().flatten(1).sum(1) for l in range(len(arch.widths))]


def snip(arch: Arch, parent: list[torch.Tensor], x, y, cost: dict | None = None) -> list[torch.Tensor]:
    """|dL/dgate| at gate = 1, L = mean cross-entropy on the scoring batch."""
    gates = _ones_gates(arch, x.device, parent[0].dtype)
    with torch.enable_grad():
        loss = _loss(arch, [p[None] for p in parent], x, y, gates)
        grads = torch.autograd.grad(loss, gates)
    _count(cost, forward=1, backward=1, flops=flops.gate_gradient_flops(arch, x.shape[0]))
    return [g[0].abs() for g in grads]


def gradient_flow(arch: Arch, params: list[torch.Tensor], x, y, gates) -> torch.Tensor:
    """1/2 ||dL/dtheta||^2 over every weight and bias, with graph (a function of the gates)."""
    theta = [p[None].detach().requires_grad_(True) for p in params]
    loss = _loss(arch, theta, x, y, gates)
    g = torch.autograd.grad(loss, theta, create_graph=True)
    return 0.5 * sum((gi * gi).sum() for gi in g)


def grasp(arch: Arch, parent: list[torch.Tensor], x, y, cost: dict | None = None) -> list[torch.Tensor]:
    """gate * (H g)_gate = d/dgate 1/2 ||grad_theta L||^2 at gate = 1 (see the module doc)."""
    gates = _ones_gates(arch, x.device, parent[0].dtype)
    with torch.enable_grad(), flops.counting(cost):  # FLOPs measured: no short formula
        flow = gradient_flow(arch, parent, x, y, gates)
        grads = torch.autograd.grad(flow, gates)
    _count(cost, forward=1, backward=3)  # the gradient, then its double backward
    return [g[0] for g in grads]


def _linearized(parent: list[torch.Tensor]) -> list[torch.Tensor]:
    """SynFlow's network: |weights| and |biases|, float64, stacked for models.forward."""
    return [p.detach().double().abs()[None] for p in parent]


def synflow_scores(arch: Arch, parent: list[torch.Tensor], gates: list[torch.Tensor],
                   linearized: list[torch.Tensor] | None = None):
    """(scores gate * dR/dgate per layer, R) of the |weights| network on an all-ones input."""
    params = linearized if linearized is not None else _linearized(parent)
    gates = [g.detach().double().reshape(1, -1).requires_grad_(True) for g in gates]
    ones = torch.ones(1, *arch.in_shape, dtype=torch.float64, device=params[0].device)
    with torch.enable_grad():
        R = models.forward(arch, params, ones, gates=gates).sum()
        grads = torch.autograd.grad(R, gates)
    return [(g * d)[0].detach() for g, d in zip(gates, grads)], float(R.detach())


def synflow(arch: Arch, parent: list[torch.Tensor], kept: tuple[int, ...], invert: bool = False,
            iterations: int = SYNFLOW_ITERATIONS, cost: dict | None = None,
            total: int | None = None) -> list[torch.Tensor]:
    """Iterative SynFlow at node level: returns the kept indices (not a saliency), [1, k_l] per
    layer. Round t keeps round(W_l * (k_l / W_l)^(t / iterations)) nodes of layer l; with a
    global budget `total` (Tanaka et al.'s own, global form), round(W * (total / W)^(t /
    iterations)) nodes of the whole network, ranked across layers (`keep_top_global`)."""
    linearized = _linearized(parent)
    alive = [torch.ones(w, dtype=torch.bool) for w in arch.widths]
    keep = None
    threads = torch.get_num_threads()
    # One thread: a float64 matmul with one input column is ~50x slower on 2 threads than on one
    # on a CPU (measured: 11 ms vs 0.12 ms for 256x64), and one example has nothing to split.
    torch.set_num_threads(1)
    try:
        for t in range(1, iterations + 1):
            scores, _ = synflow_scores(arch, parent, [a.to(linearized[0].device) for a in alive],
                                       linearized)
            ranked = [-s if invert else s for s in scores]
            if total is None:
                counts = tuple(max(k, round(w * (k / w) ** (t / iterations)))
                               for w, k in zip(arch.widths, kept))
                keep = keep_top(ranked, counts, alive)
            else:
                W = sum(arch.widths)
                keep = keep_top_global(ranked, max(total, round(W * (total / W) ** (t / iterations))),
                                       alive)
            alive = [torch.zeros(w, dtype=torch.bool).index_fill_(0, k[0], True)
                     for w, k in zip(arch.widths, keep)]
    finally:
        torch.set_num_threads(threads)
    _count(cost, forward=iterations, backward=iterations,
           flops=iterations * flops.gate_gradient_flops(arch, 1))  # one all-ones example
    return keep


def _count(cost: dict | None, forward: int = 0, backward: int = 0, flops: int = 0) -> None:
    if cost is not None:
        cost["forward"] = cost.get("forward", 0) + forward
        cost["backward"] = cost.get("backward", 0) + backward
        cost["flops"] = cost.get("flops", 0) + flops
