"""Node-level drop-and-grow, the dynamic sparse training of the SET / RigL family (Mocanu et al.
2018; Evci et al. 2020) with whole nodes for weights: at a cut during training, each hidden
layer drops the kept nodes of lowest saliency (the L1 norm of their incoming weights, as
trained) and grows as many of the removed ones, at random (SET-like) or by the largest
|dL/dgate| on the seed's scoring batch (RigL-like), so every layer keeps its exact count. A grown
node's outgoing weights are set to zero: the network computes the same function right after the
swap, and the grown node only matters once training moves those weights. The fraction dropped
decays to zero along a cosine over the run (RigL's schedule).

Ties are broken by node index: among equal saliencies the lower index is dropped first, and
among equal gradients the lower index grows first (stable sorts).
"""
from __future__ import annotations

import math

import torch

from . import masks, models
from .models import Arch

GROW = ("set", "rigl")


def drop_fraction(alpha: float, epoch: int, epochs: int) -> float:
    """RigL's cosine decay: alpha at epoch 0, 0 at the last epoch."""
    return alpha / 2 * (1 + math.cos(math.pi * epoch / epochs))


def counts(keep: list[torch.Tensor], widths: tuple[int, ...], fraction: float) -> list[int]:
    """Nodes each layer swaps: round(fraction x kept), at most all but one kept node and at
    most the removed nodes there are to grow."""
    return [max(0, min(round(fraction * k.shape[1]), k.shape[1] - 1, w - k.shape[1]))
            for k, w in zip(keep, widths)]


def drop(parent: list[torch.Tensor], keep: list[torch.Tensor], n: list[int]) -> list[torch.Tensor]:
    """Per layer, the kept indices [1, k - n] left after dropping the n kept nodes whose
    incoming weights (rows of the layer's weight, a trained full-size parent) have the lowest L1
    norm."""
    out = []
    for l, (k, drop_n) in enumerate(zip(keep, n)):
        rows = k[0]
        saliency = parent[2 * l][rows].detach().abs().flatten(1).sum(1).double().cpu()
        order = torch.argsort(saliency, stable=True)  # lowest first; ties: lower index
        out.append(rows[order[drop_n:].to(rows.device)].sort().values[None])
    return out


def grow(kept: list[torch.Tensor], dropped: list[torch.Tensor], widths: tuple[int, ...],
         n: list[int], priority: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per layer, `kept` [1, k - n] plus the n removed nodes (neither kept nor just dropped)
    of highest `priority` [width] (random numbers for SET, |gradients| for RigL), sorted."""
    out = []
    for k, d, w, grow_n, p in zip(kept, dropped, widths, n, priority):
        taken = torch.zeros(w, dtype=torch.bool)
        taken[k[0].cpu()] = True
        taken[d.cpu()] = True
        score = p.detach().double().cpu().masked_fill(taken, -math.inf)
        order = torch.argsort(-score, stable=True)[:grow_n].to(k.device)
        out.append(torch.cat([k[0], order]).sort().values[None])
    return out


def silence(arch: Arch, parent: list[torch.Tensor], layer: int, nodes: torch.Tensor) -> None:
    """In place: the outgoing weights of `nodes` of hidden `layer` set to zero (the next hidden
    layer's input columns, or the classifier's features of those channels)."""
    if len(nodes) == 0:
        return
    with torch.no_grad():
        if layer + 1 < len(arch.widths):
            parent[2 * layer + 2][:, nodes] = 0
        else:
            S = math.prod(arch.spatial_out)
            W = parent[-2].view(arch.n_classes, arch.widths[-1], S)
            W[:, nodes] = 0


def gate_gradients(arch: Arch, parent: list[torch.Tensor], keep: list[torch.Tensor], x,
                   y) -> list[torch.Tensor]:
    """|dL/dgate| [width] per layer of the full parent with gates open on `keep`, at the
    scoring batch (x, y): what a removed node would change first (RigL's grow criterion)."""
    gates = [g.to(x.device).requires_grad_(True) for g in masks.to_binary(keep, arch.widths)]
    with torch.enable_grad():
        logits = models.forward(arch, [p.detach()[None] for p in parent], x, gates=gates)
        loss = models.cross_entropy(logits[0], y).mean()
        grads = torch.autograd.grad(loss, gates)
    return [g[0].abs() for g in grads]


def step(arch: Arch, parent: list[torch.Tensor], keep: list[torch.Tensor], fraction: float,
         how: str, generator: torch.Generator, batch=None) -> tuple[list, list]:
    """One drop-and-grow of a network (its full-size parent as trained, its kept indices
    [1, k] per layer): the new kept indices, and the grown nodes per layer, whose outgoing
    weights are silenced in `parent` (in place). `how`: "set" (grow at random) or "rigl"
    (grow by |dL/dgate| on `batch`)."""
    n = counts(keep, arch.widths, fraction)
    kept = drop(parent, keep, n)
    dropped = [torch.tensor(sorted(set(k[0].tolist()) - set(left[0].tolist())), dtype=torch.long)
               for k, left in zip(keep, kept)]
    if how == "rigl":
        priority = gate_gradients(arch, parent, kept, *batch)
    else:
        priority = [torch.rand(w, generator=generator) for w in arch.widths]
    new = grow(kept, dropped, arch.widths, n, priority)
    grown = [torch.tensor(sorted(set(a[0].tolist()) - set(b[0].tolist())), dtype=torch.long)
             for a, b in zip(new, kept)]
    for layer, nodes in enumerate(grown):
        silence(arch, parent, layer, nodes.to(parent[0].device))
    return new, grown
