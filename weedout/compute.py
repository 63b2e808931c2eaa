"""The work each method does: FLOPs and seconds of its search and of its training.

FLOPs are 2 x the multiply-adds of the linear and conv layers (`models.count`'s convention, the
one torch.utils.flop_counter uses; activations, pooling, the loss and the optimizer are not
counted). How each part is obtained:

- search: measured. Every pass a strategy makes through the network (the candidates it scores,
  a saliency method's forward and backward passes) runs under torch's FlopCounterMode
  (`counting`), and the count lands in the search record's `cost.flops` next to its passes and
  seconds. The parent's first hidden layer, which the scorer computes once per seed and shares
  between every candidate of every level (a node is kept whole, so that layer's outputs do not
  depend on the mask), is not counted: it is 0.1-2% of one level's search on the `cpu` grid.
  The random control draws its mask without looking at the network: 0 FLOPs.
- training: counted (`training_flops`), exact for one network trained alone and equal to
  FlopCounterMode's count of `train.train_stack` (a test checks): per training example, the
  forward pass F, the weight gradients F and the input gradients F - F_0 (the first layer's
  input needs none), plus the evaluations (both splits before training, the test split after
  every epoch). Seconds: the wall time of the level's stacked training shared equally among the
  networks trained in that stack (they all have the same shape).
"""
from __future__ import annotations

import contextlib
import math

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


# The columns of cost.csv: what one method's search of one network did.
SEARCH_COST = ("forward", "backward", "flops", "seconds")
