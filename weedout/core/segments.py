"""Training in segments with a new cut between them (searching throughout training, the
`search_every` axis): after each segment every network's trained weights go back into its
full-size parent (`models.scatter`) and a callback may choose a new mask of that parent."""
from __future__ import annotations

import torch

from . import masks, models
from .train import train_stack


def boundaries(first: int, every: int, epochs: int) -> list[tuple[int, int]]:
    """The training segments (a, b]: from `first` (search_after) in steps of `every`."""
    cuts = list(range(first, epochs, every)) + [epochs]
    return list(zip(cuts[:-1], cuts[1:]))


def train_in_segments(arch, nets, full, keep, dset, seeds, sched, research, first: int,
                      every: int, fixed=(), progress=None):
    """Train M networks (`nets`: (method, seed, _)) from epoch `first` in segments of `every`
    epochs, from their full parents `full` ([M, ...]) and masks `keep`; after each segment but
    the last, `research(m, parent, keep_m, epoch)` returns (new keep, record) for every network
    whose method is not in `fixed`. Returns the merged history (as `train_stack`'s, rows
    first..epochs), the per-network move records and the extra FLOPs."""
    M = len(nets)
    hist = None
    moves: list[list[dict]] = [[] for _ in range(M)]
    flops = [0] * M
    for a, b in boundaries(first, every, sched.epochs):
        carch, params = models.compact(arch, full, keep, torch.arange(M))
        part = train_stack(carch, params, dset, seeds, sched, progress, epochs=(a, b))
        full = models.scatter(arch, full, part.pop("params"), keep)
        if hist is None:
            hist = {k: torch.full((sched.epochs + 1, M), torch.nan, dtype=torch.float64)
                    for k in part if k != "diverged_epoch"}
            hist["diverged_epoch"] = part["diverged_epoch"].clone()
            rows = slice(a, b + 1)   # the first segment's row a: before any training
        else:
            rows = slice(a + 1, b + 1)  # row a stays the previous segment's end of epoch a
            late = (hist["diverged_epoch"] < 0) & (part["diverged_epoch"] >= 0)
            hist["diverged_epoch"][late] = part["diverged_epoch"][late]
        for k in hist:
            if k != "diverged_epoch":
                hist[k][rows] = part[k][rows]
        if b == sched.epochs:
            break
        new = []
        for m, (method, seed, _) in enumerate(nets):
            k_m = masks.select(keep, m)
            if method in fixed:
                new.append(k_m)
                continue
            k_m, rec = research(m, [p[m] for p in full], k_m, b)
            flops[m] += rec.pop("flops", 0)
            moves[m].append(rec)
            new.append(k_m)
        keep = masks.cat(new)
    return hist, moves, flops
