"""How a sub-network inherits its weights (`Config.init`): `inherited`, the parent's weights as
they are (the paper), or `rescaled`, every kept unit's incoming weights and bias scaled to its
kept fan-in.

PyTorch's default initialisation draws a unit's weights and bias from U(±1/sqrt(fan_in)). A
sub-network cut from a parent keeps weights drawn for the parent's fan-in, so a unit whose
inputs lost nodes (or weights) starts smaller than a network built at that size would: by
sqrt(parent fan-in / kept fan-in). `rescaled` multiplies it back, unit by unit:

- node masks, compacted (local, non-uniform): every unit of layer l has the same kept fan-in,
  k_{l-1} nodes (times the kernel's taps, which cancel in the ratio): one factor per layer
  (`node_factors`, the `rescaled` control's own rule);
- node gates (global masks, full size): the kept fan-in of layer l is the number of open gates
  of layer l-1, per network (`gate_factors`);
- weight masks (unstructured): the kept fan-in of a unit is the number of kept weights in its
  row (a conv filter: kept weights over input channels and taps), per network and unit
  (`weight_factors`); a unit that keeps no weight keeps its bias as it is (factor 1).
The first hidden layer reads every input: its factor is 1 under node masks and gates.
"""
from __future__ import annotations

import math

import torch

INITS = ("inherited", "rescaled")


def node_factors(parent_widths: tuple[int, ...], kept: tuple[int, ...]) -> list[float]:
    """Per layer (hidden ones, then the classifier): sqrt(parent fan-in / kept fan-in)."""
    before, after = (None, *parent_widths), (None, *kept)
    return [1.0 if l == 0 else math.sqrt(before[l] / after[l]) for l in range(len(kept) + 1)]


def gate_factors(widths: tuple[int, ...], gates: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per layer (hidden ones, then the classifier), one factor per network [C] of gates
    [C, width] per hidden layer."""
    C = gates[0].shape[0]
    out = [torch.ones(C, device=gates[0].device)]
    for l in range(1, len(widths) + 1):
        out.append(torch.sqrt(widths[l - 1] / gates[l - 1].sum(1)))
    return out


def weight_factors(weight_masks: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per weight matrix (masks [C, out, in, *kernel]), one factor per network and unit
    [C, out]: sqrt(the row's full fan-in / its kept weights), 1 where it keeps none."""
    out = []
    for w in weight_masks:
        kept = w.flatten(2).sum(2)
        full = math.prod(w.shape[2:])
        out.append(torch.where(kept > 0, torch.sqrt(full / kept.clamp(min=1)),
                               torch.ones_like(kept)))
    return out


def rescale(params: list[torch.Tensor], factors: list, rows=slice(None)) -> None:
    """In place: each layer's stacked weight [M, out, ...] and bias [M, out] of the networks
    `rows` (an index or mask over M) times its factor (a float, or per network [M] or per
    network and unit [M, out])."""
    for l, f in enumerate(factors):
        for p in params[2 * l:2 * l + 2]:
            if not torch.is_tensor(f):
                p[rows] *= f
                continue
            f = f[rows]
            p[rows] *= f.to(p.dtype).reshape(f.shape + (1,) * (p.dim() - f.dim()))


def scaled(params: list[torch.Tensor], factors: list) -> list[torch.Tensor]:
    """`params` (stacked, possibly views or None) times `factors`, as new tensors."""
    out = []
    for i, p in enumerate(params):
        f = factors[i // 2]
        if p is None or (not torch.is_tensor(f) and f == 1.0):
            out.append(p)
        elif not torch.is_tensor(f):
            out.append(p * f)
        else:
            out.append(p * f.to(p.dtype).reshape(f.shape + (1,) * (p.dim() - f.dim())))
    return out
