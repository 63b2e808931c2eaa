"""The work each method does: FLOPs and seconds of its search and of its training.

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
from typing import Iterable

import numpy as np
import pandas as pd
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


# The columns of cost.csv: what one method's search of one network did.
SEARCH_COST = ("forward", "backward", "flops", "seconds")

# Methods that choose no mask by looking at the network: their search costs nothing.
NO_SEARCH = ("dense", "random", "scratch", "rescaled")
COLUMNS = ["dataset", "model", "sparsity", "method", "seed", "search_flops", "search_seconds",
           "train_flops", "train_seconds", "total_flops", "total_seconds", "test_acc"]


def table(cost: pd.DataFrame | None, records: Iterable[dict]) -> pd.DataFrame:
    """One row per trained network: the FLOPs and seconds of its search (from cost.csv's rows,
    by method; 0 for NO_SEARCH) and of its training (from the training records), their totals
    and its final test accuracy (NaN when it diverged). Records from before training FLOPs
    were recorded give NaN there."""
    rows = []
    for rec in records:
        share = rec.get("seconds", np.nan) / rec.get("stacked", np.nan)
        for net in rec["networks"]:
            acc = np.nan if net["diverged_epoch"] is not None else net["curves"]["test_acc"][-1]
            rows.append({"dataset": rec["dataset"], "model": rec["model"],
                         "sparsity": rec["sparsity"], "method": net["method"], "seed": net["seed"],
                         "train_flops": net.get("train_flops", np.nan), "train_seconds": share,
                         "test_acc": acc})
    out = pd.DataFrame(rows)
    keys = ["dataset", "model", "sparsity", "method", "seed"]
    if cost is not None and len(cost):
        searched = cost[keys + ["flops", "seconds"]].rename(
            columns={"flops": "search_flops", "seconds": "search_seconds"})
        out = out.merge(searched, on=keys, how="left")
    else:
        out["search_flops"] = out["search_seconds"] = np.nan
    free = out.method.isin(NO_SEARCH)
    out.loc[free, ["search_flops", "search_seconds"]] = 0.0
    out["total_flops"] = out.search_flops + out.train_flops
    out["total_seconds"] = out.search_seconds + out.train_seconds
    return out[COLUMNS]


def summary(compute: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model x method, means over levels and seeds: search and training GFLOPs,
    the search's share of the total, seconds, and test accuracy."""
    g = compute.groupby(["dataset", "model", "method"], sort=True)
    out = g[["search_flops", "train_flops", "total_flops", "search_seconds",
             "train_seconds", "test_acc"]].mean()
    out["search_share"] = (compute.search_flops / compute.total_flops).groupby(
        [compute.dataset, compute.model, compute.method]).mean()
    for c in ("search_flops", "train_flops", "total_flops"):
        out[c] /= 1e9
    return out.rename(columns={c: c.replace("flops", "gflops") for c in out.columns}).reset_index()


def plot(compute: pd.DataFrame):
    """Test accuracy against total compute (search + training, GFLOPs, log scale): one line per
    method through its sparsity levels (mean over seeds; the marker grows with the sparsity),
    the dense parent as a star. Methods of equal accuracy further left are cheaper."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from . import comparison, plotting
    d = compute[np.isfinite(compute.total_flops)]
    panels = plotting._panels(d)
    fig, axes = plotting._grid(1, len(panels), w=5.2, h=4.2)
    order = sorted(set(d.method) - {"dense"})
    for ax, (ds, model) in zip(axes.flat, panels):
        cell = d[(d.dataset == ds) & (d.model == model)]
        means = cell.groupby(["method", "sparsity"])[["total_flops", "test_acc"]].mean().reset_index()
        for m in order:
            g = means[means.method == m].sort_values("sparsity")
            c, ls = (plotting.METHOD_COLORS[m], "-") if m in plotting.METHOD_COLORS else \
                comparison._style(m, order)
            ax.plot(g.total_flops / 1e9, g.test_acc * 100, color=c, ls=ls, lw=1.2, label=m)
            ax.scatter(g.total_flops / 1e9, g.test_acc * 100, color=c, s=6 + 30 * g.sparsity,
                       zorder=3)
        dense = means[means.method == "dense"]
        if len(dense):
            ax.scatter(dense.total_flops / 1e9, dense.test_acc * 100, marker="*", s=140,
                       color=plotting.METHOD_COLORS["dense"], zorder=4, label="dense")
        ax.set_xscale("log")   # ticks at 1-2-5 steps, labelled plainly (no 2x10^-2 clutter)
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("search + training compute per network (GFLOPs)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{ds} · {model}", fontsize=10.5)
    axes.flat[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.suptitle("Accuracy against compute (mean over seeds; larger marker = sparser)",
                 fontsize=11.5)
    return fig
