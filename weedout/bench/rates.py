"""The machine's own rate for the engine's shapes, and the engine's efficiency against it
(issue 20): `python -m weedout.bench` times, in its own process and on its own device and
threads, the batched matmuls and grouped convolutions that scoring and a training step are made
of, each alone, with the shapes and memory layouts the engine gives them:

  linear  forward   baddbmm(b [M, out, 1], W [M, out, in], h [M, in, B])
          backward  g @ h^T (weight gradient) and W^T @ g (input gradient, not for layer 0)
  conv    forward   conv(h [B, M*in, *S], W [M*out, in, *k], groups=M), channels-last in 2-D
          backward  convolution_backward: weight, bias and (not for layer 0) input gradients

Their FLOPs are `weedout.core.flops`'s (2 x multiply-adds; biases, activations, pooling, the loss
and the optimizer count none). The time those operations alone take for a whole grid is the
*ideal* time: the engine's achieved FLOP/s divided by the machine's rate for the same FLOPs is
ideal / actual seconds, the share of the engine's wall time spent in arithmetic at the speed
this machine gives those shapes. Everything else (gathering batches, ReLU, pooling, the loss,
SGD, compaction, Python) is what the efficiency leaves out.
"""
from __future__ import annotations

import math
import statistics
from typing import Callable

import torch
import torch.nn.functional as F

from ..core import flops as formulas, masks, models, scoring
from ..core.models import Arch
from .meters import stamp

EVAL_BATCH = 1000  # train.evaluate's batch


def _randn(*shape, like: dict, channels_last=False) -> torch.Tensor:
    t = torch.randn(*shape, **like)
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t


def _linear(M, fan, out, B, first, backward, shared, like) -> list[tuple[int, Callable]]:
    """One stacked linear layer: forward (and backward) operations with their FLOPs."""
    W, b = _randn(M, out, fan, like=like), _randn(M, out, like=like)[:, :, None]
    if shared:      # a batch shared by the M networks (evaluation): [in, B] expanded
        h = _randn(B, fan, like=like).t().expand(M, fan, B)
    elif first:     # the gathered batch [M, B, in], read transposed
        h = _randn(M, B, fan, like=like).transpose(1, 2)
    else:
        h = _randn(M, fan, B, like=like)
    flops = 2 * M * out * fan * B
    ops = [(flops, lambda: torch.baddbmm(b, W, h))]
    if backward:
        g = _randn(M, out, B, like=like)
        ops.append((flops, lambda: g.bmm(h.transpose(1, 2))))
        if not first:
            ops.append((flops, lambda: W.transpose(1, 2).bmm(g)))
    return ops


def _conv(arch, M, fan, out, spatial, B, first, backward, like) -> list[tuple[int, Callable]]:
    """One stacked (grouped) conv layer: forward (and backward) operations with their FLOPs."""
    k, d = models.KERNEL[arch.kind], len(spatial)
    cl = arch.kind == "cnn"   # 2-D: channels-last, as models.hidden runs it
    h = _randn(B, M * fan, *spatial, like=like, channels_last=cl)
    W, b = _randn(M * out, fan, *[k] * d, like=like), _randn(M * out, like=like)
    conv = F.conv1d if d == 1 else F.conv2d
    flops = 2 * M * out * fan * k ** d * math.prod(spatial) * B
    ops = [(flops, lambda: conv(h, W, b, padding=k // 2, groups=M))]
    if backward:
        g = _randn(B, M * out, *spatial, like=like, channels_last=cl)
        ops.append(((1 if first else 2) * flops, lambda: torch.ops.aten.convolution_backward(
            g, h, W, [M * out], [1] * d, [k // 2] * d, [1] * d, False, [0] * d, M,
            [not first, True, True])))
    return ops


def _classifier(arch, M, fan, B, backward, like) -> list[tuple[int, Callable]]:
    """The classifier of a conv net reads the flattened features through a permuted view."""
    S = math.prod(arch.spatial_out)
    W, b = _randn(M, arch.n_classes, fan * S, like=like), _randn(M, arch.n_classes, like=like)
    y = _randn(B, M * fan, *arch.spatial_out, like=like, channels_last=arch.kind == "cnn")
    h = y.reshape(B, M, -1).permute(1, 2, 0)
    flops = 2 * M * arch.n_classes * fan * S * B
    ops = [(flops, lambda: torch.baddbmm(b[:, :, None], W, h))]
    if backward:
        g = _randn(M, arch.n_classes, B, like=like)
        ops += [(flops, lambda: g.bmm(h.transpose(1, 2))),
                (flops, lambda: W.transpose(1, 2).bmm(g))]
    return ops


def pass_ops(arch: Arch, M: int, B: int, backward: bool, start: int = 0, shared: bool = False,
             device: str = "cpu", precision: str = "float32") -> list[tuple[int, Callable]]:
    """The matmuls and convolutions of one pass of M stacked networks of shape `arch` on B
    examples (with backward: a training step's), from hidden layer `start` (scoring: 1), on
    tensors of the precision's type (bfloat16: what autocast hands these operations)."""
    like = {"device": device, "dtype": torch.bfloat16 if precision == "bfloat16" else torch.float32}
    ops: list = []
    spatial, fan = tuple(arch.in_shape[1:]), arch.in_shape[0]
    if not arch.conv:
        fan = math.prod(arch.in_shape)
    for l, out in enumerate(arch.widths):
        if l >= start and arch.conv:
            ops += _conv(arch, M, fan, out, spatial, B, l == start == 0, backward, like)
        elif l >= start:
            ops += _linear(M, fan, out, B, l == start == 0, backward, shared and l == 0, like)
        fan, spatial = out, tuple(s // 2 for s in spatial)
    if arch.conv:
        return ops + _classifier(arch, M, fan, B, backward, like)
    return ops + _linear(M, fan, arch.n_classes, B, False, backward, False, like)


def seconds(ops: list[tuple[int, Callable]], device: str, repeats: int = 3) -> tuple[float, float]:
    """Sums over the operations of the median wall and the median process-CPU seconds of
    `repeats` runs each (after one untimed run)."""
    wall = cpu = 0.0
    with torch.inference_mode():
        for _, fn in ops:
            times = []
            for _ in range(repeats + 1):
                t = stamp(device)
                fn()
                times.append(tuple(b - a for a, b in zip(t, stamp(device))))
            wall += statistics.median(w for w, _ in times[1:])
            cpu += statistics.median(c for _, c in times[1:])
    return wall, cpu


def search_ideal(arch: Arch, sparsities, candidates: int, batch: int, n_seeds: int,
                 device: str) -> tuple[int, tuple[float, float]]:
    """(FLOPs, ideal (wall, CPU) seconds) of scoring `candidates` masks per seed and level, in the chunks
    `scoring.scorer` forms (float32: scoring runs in float32 in either precision)."""
    flops, ideal = 0, (0.0, 0.0)
    budget = scoring.default_budget(torch.device(device))
    for s in sparsities:
        kept = masks.kept_widths(arch.widths, s)
        chunk = min(candidates, scoring.chunk_size(arch, kept, batch, budget))
        full, rest = divmod(candidates, chunk)
        t = {n: seconds(pass_ops(arch.with_widths(kept), n, batch, False, start=1, device=device),
                         device)
             for n in {chunk, rest} - {0}}
        ideal = tuple(i + n_seeds * (full * c + (r if rest else 0.0))
                      for i, c, r in zip(ideal, t[chunk], t.get(rest, (0.0, 0.0))))
        flops += n_seeds * formulas.scoring_flops(arch, kept, batch, candidates)
    return flops, ideal


def training_ideal(cells: list[tuple[Arch, int]], epochs: int, batch: int, n_train: int,
                   n_test: int, device: str, precision: str = "float32"
                   ) -> tuple[int, tuple[float, float]]:
    """(FLOPs, ideal (wall, CPU) seconds) of `train.train_stack` over the given (arch, stacked networks)
    cells: every step's matmuls/convolutions forward and backward, and every evaluation pass
    (a last, smaller batch counted pro rata). An MLP stack of one runs as two (`train._as_two`):
    its copy is real work, counted in both."""
    flops, ideal = 0, (0.0, 0.0)
    for arch, M in cells:
        M = 2 if M == 1 and not arch.conv else M
        step = seconds(pass_ops(arch, M, batch, True, device=device, precision=precision), device)
        evaluation = seconds(pass_ops(arch, M, EVAL_BATCH, False, shared=True, device=device,
                                      precision=precision), device)
        ideal = tuple(i + epochs * n_train / batch * s + (n_train + n_test * (1 + epochs))
                      / EVAL_BATCH * e for i, s, e in zip(ideal, step, evaluation))
        flops += M * formulas.training_flops(arch, epochs, n_train, n_test)
    return flops, ideal


def efficiency(flops: int, ideal: tuple[float, float], actual: float,
               actual_cpu: float | None = None) -> dict:
    """The engine's achieved rate against the machine's for the same operations, on the wall
    clock and (given the engine's CPU seconds) on the CPU clock."""
    out = {"gflops": flops / 1e9, "ideal_seconds": ideal[0], "engine_seconds": actual,
           "machine_gflop_per_s": flops / ideal[0] / 1e9,
           "engine_gflop_per_s": flops / actual / 1e9, "fraction": ideal[0] / actual}
    if actual_cpu is not None:
        out.update(ideal_cpu_seconds=ideal[1], engine_cpu_seconds=actual_cpu,
                   fraction_cpu=ideal[1] / actual_cpu)
    return out
