"""FLOP formulas of the engine: what one search pass and one network's training cost.

FLOPs are 2 x the multiply-adds of the linear and conv layers (`models.count`'s convention, the
one torch.utils.flop_counter uses; activations, pooling, the loss and the optimizer are not
counted). How each part is obtained:

- search: counted where the passes are counted, by formulas that equal FlopCounterMode's count
  of the real code paths (tests check each): a scored candidate costs its compact forward pass on
  the scoring batch less its first layer (`scoring_flops`: the scorer computes the parent's
  first hidden layer once per seed and gathers each candidate's kept nodes from it, since a node
  is kept whole); a gate gradient (SNIP, each SynFlow round) a forward pass of the parent and the
  input gradients of every layer but the first (`gate_gradient_flops`); GraSP's double backward
  has no short formula and is measured with FlopCounterMode (`counting`) as it runs. Counting
  at run time everywhere would be simpler but its per-operation overhead made SynFlow's 100
  rounds 2.7x slower and the seconds we report with them untrue. The random control draws its
  mask without looking at the network: 0 FLOPs.
- training: counted (`training_flops`), exact for one network trained alone and equal to
  FlopCounterMode's count of `train.train_stack` (a test checks): per training example, the
  forward pass F, the weight gradients F and the input gradients F - F_0 (the first layer's
  input needs none), plus the evaluations (both splits before training, the test split after
  every epoch); a network searched after k epochs (`search_after`) also counts the k epochs its
  dense parent trained before the cut (they are part of what produced it, though every
  network of that seed shares them). Seconds: the wall time of the level's stacked training
  shared equally among the networks trained in that stack (they all have the same shape).
"""
from __future__ import annotations

import contextlib
import functools
import math

import torch
from torch.utils.flop_counter import FlopCounterMode

from . import models
from .models import Arch


@contextlib.contextmanager
def counting(cost: dict | None):
    """Adds the FLOPs of the torch operations run inside the block to cost["flops"]."""
    if cost is None:
        yield
        return
    with FlopCounterMode(display=False) as counter:
        yield
    cost["flops"] = cost.get("flops", 0) + int(counter.get_total_flops())


def scoring_flops(arch: Arch, kept: tuple[int, ...], batch: int, n: int = 1) -> int:
    """FLOPs of `search.scorer` scoring n candidates of kept widths `kept` on `batch` examples."""
    candidate = arch.with_widths(kept)
    return n * batch * (models.count(candidate)[1] - first_layer_flops(candidate))


def gate_gradient_flops(arch: Arch, batch: int) -> int:
    """FLOPs of one d(loss)/d(gates) of the parent on `batch` examples (no weight gradients)."""
    return batch * (2 * models.count(arch)[1] - first_layer_flops(arch))


@functools.cache
def warm() -> None:
    """FlopCounterMode's first use in a process takes ~1.3 s (measured; later ones ~0.1 ms):
    pay it here, before a timed search, not inside the first GraSP it measures."""
    with FlopCounterMode(display=False):
        torch.ones(1, 1) @ torch.ones(1, 1)


def first_layer_flops(arch: Arch) -> int:
    """Forward FLOPs per example of the first hidden layer alone (same-size conv output)."""
    if arch.conv:
        k = models.KERNEL[arch.kind] ** (len(arch.in_shape) - 1)
        return 2 * arch.widths[0] * arch.in_shape[0] * k * math.prod(arch.in_shape[1:])
    return 2 * arch.widths[0] * math.prod(arch.in_shape)


def training_flops(arch: Arch, epochs: int, n_train: int, n_test: int) -> int:
    """FLOPs of training one network of shape `arch` as `train.train_stack` does (see above)."""
    f = models.count(arch)[1]
    per_example = 3 * f - first_layer_flops(arch)
    return epochs * n_train * per_example + (n_train + n_test + epochs * n_test) * f
