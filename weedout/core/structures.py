"""How a level's node budget is spread over the hidden layers (`Config.structure`).

- `local` (the paper): every hidden layer keeps the same fraction, k_l = round((1 - s) w_l).
- `nonuniform`: the same total of kept hidden nodes as `local` (so the same overall node
  sparsity), spread over the layers by a fixed per-layer density vector: `Config.layer_density`
  if given (relative densities, one per hidden layer), else an ERK-style rule. ERK (Evci et al.
  2020) gives a weight matrix density proportional to (n_in + n_out) / (n_in n_out); at node
  level a hidden layer sits between its fan-in (inputs of its nodes) and its fan-out (nodes of
  the next layer, or the classes), so its density is proportional to 1/fan_in + 1/fan_out
  (a conv layer's fan-in and fan-out count kernel taps): layers next to small layers keep more.
  Every mask of a level still has the same kept widths, so candidates are scored and networks
  trained stacked exactly as in `local`; only the widths differ.
- `global`: the same total, with the allocation across layers part of what is drawn and
  searched (`masks.sample_global`: one node per layer, the rest uniformly from all remaining
  nodes). Candidates differ in shape, so they are scored as 0/1 node gates of the full parent in
  one batched pass (`scoring.gated_scorer`) and trained at full size with their gates
  (`train_stack(gates=...)`), each equal to its compacted twin up to rounding (tests check both).
- `unstructured`: weight-level masks, per weight matrix as many weights as the matrix keeps
  in the level's local node mask (`masks.weight_counts`; biases are all kept), drawn uniformly
  (`masks.sample_weights`), scored (`scoring.weight_scorer`) and trained (`train_stack(
  weight_masks=...)`) at full size with the weights multiplied by their masks. An unstructured
  network does not compact: the tables give its nonzero parameters and its dense kernels' FLOPs.
The random control and every comparator of a run use the run's structure.
"""
from __future__ import annotations

import math

from . import masks
from .models import KERNEL, Arch

STRUCTURES = ("local", "nonuniform", "global", "unstructured")
GATED = ("global", "unstructured")  # masks of mixed shapes or of weights: full-size networks


def erk_density(arch: Arch) -> tuple[float, ...]:
    """Relative node density per hidden layer: 1/fan_in + 1/fan_out (see the module doc)."""
    taps = KERNEL.get(arch.kind, 1) ** (len(arch.in_shape) - 1) if arch.conv else 1
    fan_in = [(arch.in_shape[0] * taps) if arch.conv else math.prod(arch.in_shape)]
    fan_in += [w * taps for w in arch.widths[:-1]]
    last = arch.n_classes * (math.prod(arch.spatial_out) if arch.conv else 1)
    fan_out = [w * taps for w in arch.widths[1:]] + [last]
    return tuple(1 / a + 1 / b for a, b in zip(fan_in, fan_out))


def allocate(widths: tuple[int, ...], total: int, density: tuple[float, ...]) -> tuple[int, ...]:
    """Whole kept nodes per layer: `total` in all, each layer within [1, width], as close as
    whole numbers allow to `total` shared in proportion to width x density (a layer whose share
    would exceed its width keeps all its nodes, and the rest is shared again). Largest remainder
    rounding; ties go to the earlier layer."""
    n = len(widths)
    if not n <= total <= sum(widths):
        raise ValueError(f"total={total} is not allowed: between {n} (one node per layer) and "
                         f"{sum(widths)} (every node)")
    full: set[int] = set()
    while True:  # water-filling: layers that would overflow keep everything
        free = [l for l in range(n) if l not in full]
        left = total - sum(widths[l] for l in full)
        weight = sum(widths[l] * density[l] for l in free)
        share = {l: left * widths[l] * density[l] / weight for l in free}
        over = [l for l in free if share[l] >= widths[l]]
        if not over:
            break
        full.update(over)
    target = [float(widths[l]) if l in full else max(1.0, share[l]) for l in range(n)]
    keep = [min(widths[l], max(1, math.floor(target[l]))) for l in range(n)]
    order = sorted(range(n), key=lambda l: (-(target[l] - math.floor(target[l])), l))
    while sum(keep) < total:  # hand out the remainder, largest fractional part first
        l = next(l for l in order if keep[l] < widths[l])
        keep[l] += 1
        order.remove(l)
        order.append(l)
    while sum(keep) > total:  # the >= 1 floor overshot: take from the layers furthest above target
        l = max((l for l in range(n) if keep[l] > 1), key=lambda l: (keep[l] - target[l], -l))
        keep[l] -= 1
    return tuple(keep)


def total(arch: Arch, sparsity: float) -> int:
    """Hidden nodes a level keeps in all: the local structure's total (every structure's)."""
    return sum(masks.kept_widths(arch.widths, sparsity))


def kept(arch: Arch, sparsity: float, structure: str = "local",
         density: tuple[float, ...] = ()) -> tuple[int, ...]:
    """The kept widths of every mask of a level under a structure."""
    local = masks.kept_widths(arch.widths, sparsity)
    if structure == "local":
        return local
    if structure != "nonuniform":  # global: the allocation differs from mask to mask
        raise ValueError(f"structure={structure!r} has no kept widths per level: one of "
                         "['local', 'nonuniform']")
    return allocate(arch.widths, sum(local), tuple(density) or erk_density(arch))
