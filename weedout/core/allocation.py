"""How many nodes (or weights) each layer keeps at a level: the local rule, the non-uniform
allocation of the same total (by a density vector or the ERK-style rule), the node total that
matches the local mask's parameters instead, and ERK densities for weight masks. Pure counting:
the mask structures that use these counts are weedout.core.structures.
"""
from __future__ import annotations

import math

from . import masks, models
from .models import KERNEL, Arch

STRUCTURES = ("local", "nonuniform", "global", "unstructured")


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


EQUAL_TO = ("nodes", "params")  # what a non-uniform allocation shares with the local mask
WEIGHT_RULES = ("local", "erk")  # how a weight mask's budget is spread over the matrices


def kept(arch: Arch, sparsity: float, structure: str = "local",
         density: tuple[float, ...] = (), equal_to: str = "nodes") -> tuple[int, ...]:
    """The kept widths of every mask of a level under a structure; a non-uniform allocation
    keeps the local total of nodes (`equal_to` "nodes") or the node total whose parameters are
    closest to the local mask's ("params", `params_total`)."""
    local = masks.kept_widths(arch.widths, sparsity)
    if structure == "local":
        return local
    if structure != "nonuniform":  # global: the allocation differs from mask to mask
        raise ValueError(f"structure={structure!r} has no kept widths per level: one of "
                         "['local', 'nonuniform']")
    density = tuple(density) or erk_density(arch)
    budget = sum(local) if equal_to == "nodes" else params_total(arch, sparsity, density)
    return allocate(arch.widths, budget, density)


def params(arch: Arch, widths: tuple[int, ...]) -> int:
    return models.count(arch.with_widths(widths))[0]


def params_total(arch: Arch, sparsity: float, density: tuple[float, ...]) -> int:
    """The node total whose allocation by `density` has the parameters closest to the level's
    local mask's (ties: the smaller total); every total from one node per layer to every node
    is tried, a few hundred allocations."""
    target = params(arch, masks.kept_widths(arch.widths, sparsity))
    totals = range(len(arch.widths), sum(arch.widths) + 1)
    return min(totals, key=lambda t: (abs(params(arch, allocate(arch.widths, t, density))
                                          - target), t))


def erk_weight_counts(arch: Arch, sparsity: float) -> list[int]:
    """Weights each weight matrix keeps (hidden layers, then the classifier) under ERK (Evci et
    al. 2020): the level's local budget of weights (the sum of `masks.weight_counts`) shared in
    proportion to the sum of a matrix's dimensions (out + in + kernel sizes: its density is
    proportional to that sum over their product), each matrix capped at all its weights and the
    rest shared again, whole weights by largest remainder (`allocate`)."""
    shapes = masks.weight_shapes(arch)
    sizes = tuple(math.prod(s) for s in shapes)
    density = tuple(sum(s) / math.prod(s) for s in shapes)  # size x density = sum of dims
    return list(allocate(sizes, sum(masks.weight_counts(arch, sparsity)), density))
