"""Exact-count node masks and sparsity accounting.

A mask is stored as the *kept* node indices of every hidden layer, `keep[l]` of shape
[n, k_l], sorted. Local, uniform sparsity (the paper's setting): every hidden layer keeps exactly
k = round((1 - s) * width) nodes, at least one. Exact counts, never Bernoulli coin flips: every
candidate at one level removes the same number of nodes and has the same compacted shape, which
is what lets many of them be scored and trained in one batched pass. The *achieved* node
sparsity 1 - k / width differs from the nominal level s by the rounding, up to 0.5 / width (a
32-channel layer at 0.3 keeps 22 channels: 0.3125); tables and figures show both.
"""
from __future__ import annotations

import base64
import math

import numpy as np
import torch

from .models import compact, init_parent

Keep = list[torch.Tensor]  # one LongTensor [n, k_l] per hidden layer


def kept_nodes(width: int, sparsity: float) -> int:
    """Nodes kept in a layer of `width` at node sparsity `sparsity` (round half up, >= 1)."""
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity={sparsity!r} is not allowed: a number in [0, 1)")
    # round(x, 9) first: (1 - 0.15) * 10 is 8.4999999... in floating point, and means 8.5.
    return max(1, int(math.floor(round((1 - sparsity) * width, 9) + 0.5)))


def kept_widths(widths: tuple[int, ...], sparsity: float) -> tuple[int, ...]:
    return tuple(kept_nodes(w, sparsity) for w in widths)


def sample(widths: tuple[int, ...], sparsity: float, n: int, generator: torch.Generator,
           kept: tuple[int, ...] | None = None) -> Keep:
    """n masks drawn uniformly among all exact-count subsets (per layer), on the CPU; `kept`:
    the kept widths if not the level's local ones (`weedout.structure`).

    The argsort of i.i.d. uniforms is a uniform random permutation; its first k entries are a
    uniform k-subset. Drawn on the CPU generator so the masks are the same on every device.
    """
    keep = []
    for w, k in zip(widths, kept or kept_widths(widths, sparsity)):
        order = torch.rand(n, w, generator=generator).argsort(dim=1)
        keep.append(order[:, :k].sort(dim=1).values)
    return keep


def sample_global(widths: tuple[int, ...], total: int, n: int,
                  generator: torch.Generator) -> list[torch.Tensor]:
    """n *global* node sets as 0/1 gates [n, width] per layer: `total` hidden nodes in all, at
    least one per layer: one node drawn uniformly in every layer, then the other total - L
    uniformly among all the remaining nodes of the network (so the allocation across layers is
    part of what is drawn). Gates, not index lists: candidates of different shapes batch."""
    offsets = [sum(widths[:l]) for l in range(len(widths))]
    forced = [torch.randint(w, (n,), generator=generator) + o for w, o in zip(widths, offsets)]
    priority = torch.rand(n, sum(widths), generator=generator)
    for f in forced:
        priority[torch.arange(n), f] = 2.0  # above any uniform draw: always chosen
    chosen = priority.topk(total, dim=1).indices
    gates = torch.zeros(n, sum(widths)).scatter_(1, chosen, 1.0)
    return list(gates.split(list(widths), dim=1))


def from_gates(gates: list[torch.Tensor]) -> Keep:
    """The index form [1, k_l] of one gated mask (gates [1, width] per layer)."""
    return [g[0].nonzero().flatten()[None].long() for g in gates]


def weight_shapes(arch) -> list[tuple[int, ...]]:
    """The shape of every weight matrix of a parent (hidden layers, then the classifier)."""
    return [tuple(w.shape) for w in init_parent(arch, 0)[0::2]]


def weight_counts(arch, sparsity: float) -> list[int]:
    """Weights an *unstructured* mask keeps per weight matrix (hidden layers, then the
    classifier): as many as the same matrix has in the level's local node mask, compacted."""
    kept = kept_widths(arch.widths, sparsity)
    _, cut = compact(arch, [p[None] for p in init_parent(arch, 0)], full(kept))
    return [w[0].numel() for w in cut[0::2]]


def sample_weights(shapes: list[tuple[int, ...]], counts: list[int], n: int,
                   generator: torch.Generator) -> list[torch.Tensor]:
    """n *unstructured* masks: per weight matrix of `shapes`, 0/1 weights [n, *shape] with
    exactly counts[i] ones, a uniform subset (the top-k of i.i.d. uniforms)."""
    out = []
    for shape, k in zip(shapes, counts):
        size = math.prod(shape)
        chosen = torch.rand(n, size, generator=generator).topk(k, dim=1).indices
        out.append(torch.zeros(n, size).scatter_(1, chosen, 1.0).view(n, *shape))
    return out


def pack(weights: list[torch.Tensor]) -> list[str]:
    """One unstructured mask ([1, *shape] per matrix) as base64 bit strings (records are JSON)."""
    return [base64.b64encode(np.packbits(w[0].flatten().numpy().astype(bool)).tobytes()).decode()
            for w in weights]


def unpack(packed: list[str], shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    """The inverse of `pack`: 0/1 float masks [1, *shape] per matrix."""
    return [torch.from_numpy(np.unpackbits(np.frombuffer(base64.b64decode(s), np.uint8),
                                           count=math.prod(shape)).astype(np.float32)
                             ).view(1, *shape) for s, shape in zip(packed, shapes)]


def full(widths: tuple[int, ...], n: int = 1) -> Keep:
    """The dense 'mask': every node kept."""
    return [torch.arange(w).expand(n, w).clone() for w in widths]


def select(keep: Keep, index) -> Keep:
    """Masks `index` (an int, slice or index tensor) of a batch of masks, batch dim kept."""
    if isinstance(index, int):
        index = slice(index, index + 1)
    return [k[index] for k in keep]


def cat(keeps: list[Keep]) -> Keep:
    return [torch.cat(layer) for layer in zip(*keeps)]


def to_binary(keep: Keep, widths: tuple[int, ...]) -> list[torch.Tensor]:
    """0/1 float masks [n, width] per layer: the 'multiply by a mask' view of the same thing."""
    out = []
    for k, w in zip(keep, widths):
        m = torch.zeros(k.shape[0], w)
        m.scatter_(1, k.cpu(), 1.0)
        out.append(m)
    return out


def to_lists(keep: Keep) -> list[list[list[int]]]:
    """JSON-friendly form of a batch of masks."""
    return [k.tolist() for k in keep]


def from_lists(lists) -> Keep:
    return [torch.tensor(layer, dtype=torch.long) for layer in lists]
