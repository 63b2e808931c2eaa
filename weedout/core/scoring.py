"""Scoring masks of an untrained parent on one fixed batch, many candidates per batched pass:
exact-count node masks (`scorer`, which computes the parent's first layer once), node gates of
masks of any shapes (`gated_scorer`) and weight masks (`weight_scorer`). Lower is better.
"""
from __future__ import annotations

import math
import os
from typing import Callable

import torch

from . import inits, models
from .masks import Keep
from .models import Arch


def per_candidate(logits: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """Score [C] of C networks' logits [C, B, K]; labels y [B] shared or [C, B] per network."""
    C, B, K = logits.shape
    y = y.expand(C, B)
    if kind == "error":
        return (logits.argmax(-1) != y).float().mean(1)
    return models.cross_entropy(logits, y).mean(1)


# Memory a scoring pass may use when the caller gives no budget. CPU: 256 MiB keeps a chunk's
# activations near the caches (larger chunks measured no faster on 2 cores). CUDA: a fraction
# of the memory free when the scorer is built, so a 24 GiB card and an 80 GiB one both fill up.
CPU_BUDGET = 256 << 20
CUDA_FREE_FRACTION = 0.5
MAX_CHUNK = 4096


def default_budget(device: torch.device) -> int:
    """Bytes for one chunk's working set: WEEDOUT_SCORE_MEMORY_MB if set, else the defaults
    above."""
    env = os.environ.get("WEEDOUT_SCORE_MEMORY_MB")
    if env:
        try:
            mb = float(env)
        except ValueError:
            mb = float("nan")
        if not mb > 0:
            raise ValueError(f"WEEDOUT_SCORE_MEMORY_MB={env!r} is not allowed: a positive "
                             "number of MiB for one scoring pass")
        return int(mb * 2**20)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * CUDA_FREE_FRACTION)
    return CPU_BUDGET


def candidate_bytes(arch: Arch, kept: tuple[int, ...], batch: int, parent_widths=None) -> int:
    """Upper bound of the memory one candidate holds during a scoring pass (float32), at its
    *kept* widths: its gathered first-layer output (the first layer itself is computed once
    and shared, so it is not counted), for every later layer the compaction's row copy (kept
    rows x the parent's previous width), its weights, the pre-pool output and the pooled one,
    and its logits. Everything is summed, although a pass frees each layer's input early."""
    parent_widths = parent_widths or arch.widths
    spatial = arch.in_shape[1:] if arch.conv else ()
    d, ksize = len(spatial), models.KERNEL.get(arch.kind, 1) ** len(spatial)
    spatial = tuple(s // 2 for s in spatial)           # after the shared first block
    floats = batch * kept[0] * math.prod(spatial)        # gathered input of layer 1
    for l in range(1, len(kept)):
        floats += kept[l] * parent_widths[l - 1] * ksize + kept[l] * kept[l - 1] * ksize
        floats += batch * kept[l] * math.prod(spatial)   # conv/linear output (before pooling)
        spatial = tuple(s // 2 for s in spatial)
        floats += batch * kept[l] * math.prod(spatial) if d else 0   # pooled
    S = math.prod(spatial)
    floats += 2 * arch.n_classes * kept[-1] * S          # classifier: row copy and gather
    floats += 3 * batch * arch.n_classes                 # logits, logsumexp, gathered targets
    return 4 * floats


def chunk_size(arch: Arch, kept: tuple[int, ...], batch: int, budget_bytes: int) -> int:
    """Candidates per batched pass: as many as fit the budget, at least 1, at most MAX_CHUNK."""
    return max(1, min(MAX_CHUNK, budget_bytes // candidate_bytes(arch, kept, batch)))


def weight_scorer(arch: Arch, parent: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                  kind: str = "loss", budget_bytes: int | None = None, init: str = "inherited"
                  ) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """score(masks) for unstructured masks (0/1 [n, *shape] per weight matrix) of the
    (unstacked) parent: each candidate a full-size network whose weights are multiplied by its
    mask, many in one batched pass (chunked by the memory of their weights and activations);
    init "rescaled": each unit's kept weights scaled to its kept fan-in (weedout.core.inits)."""
    budget = default_budget(x.device) if budget_bytes is None else budget_bytes
    per = 4 * (2 * sum(p.numel() for p in parent[0::2])
               + 3 * x.shape[0] * (sum(arch.widths) + arch.n_classes))
    chunk = max(1, min(MAX_CHUNK, budget // per))

    @torch.inference_mode()
    def score(weights: list[torch.Tensor]) -> torch.Tensor:
        out = []
        for i in range(0, weights[0].shape[0], chunk):
            w = [t[i:i + chunk].to(x.device) for t in weights]
            C = w[0].shape[0]
            params = [p[None] * w[j // 2] if j % 2 == 0 else p[None].expand(C, *p.shape)
                      for j, p in enumerate(parent)]
            if init == "rescaled":
                params = inits.scaled(params, inits.weight_factors(w))
            out.append(per_candidate(models.forward(arch, params, x), y, kind).double())
        return torch.cat(out).cpu()

    return score


def gated_scorer(arch: Arch, parent: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                 kind: str = "loss", budget_bytes: int | None = None, init: str = "inherited"
                 ) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """score(gates) for 0/1 node gates [n, width] per layer of the (unstacked) parent: masks of
    any shapes in one batched pass, each a full-size network whose removed nodes' outputs are
    multiplied by 0 (equal to scoring its compacted twin, up to rounding: a test checks);
    init "rescaled": each layer scaled to its open gates' fan-in (weedout.core.inits)."""
    chunk = chunk_size(arch, arch.widths, x.shape[0],
                       default_budget(x.device) if budget_bytes is None else budget_bytes)

    @torch.inference_mode()
    def score(gates: list[torch.Tensor]) -> torch.Tensor:
        out = []
        for i in range(0, gates[0].shape[0], chunk):
            g = [t[i:i + chunk].to(x.device) for t in gates]
            params = [p[None].expand(g[0].shape[0], *p.shape) for p in parent]
            if init == "rescaled":
                params = inits.scaled(params, inits.gate_factors(arch.widths, g))
            out.append(per_candidate(models.forward(arch, params, x, gates=g), y, kind).double())
        return torch.cat(out).cpu()

    return score


def scorer(arch: Arch, parent: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
           kind: str = "loss", budget_bytes: int | None = None,
           init: str = "inherited") -> Callable[[Keep], torch.Tensor]:
    """score(keep) for masks of the (unstacked) parent on one fixed scoring batch (x, y).

    The parent's first hidden layer does not depend on the mask (a node is either kept whole or
    removed), so it is computed once; each candidate only gathers its kept channels from it.
    Chunks are sized from the candidates' kept widths and `budget_bytes` (default:
    `default_budget`); scores stay on the device until the last chunk (one host sync per call).
    init "rescaled": each layer of a candidate scaled to its kept fan-in (weedout.core.inits;
    the first layer reads every input, so the shared first layer needs no factor).
    """
    if budget_bytes is None:
        budget_bytes = default_budget(x.device)
    stacked = [p[None] for p in parent]
    with torch.inference_mode():
        h0 = models.hidden(arch, stacked, models._to_stacked_input(arch, x, 1), 0)
        h0 = h0 if arch.conv else h0[0]  # mlp: [W0, B], a candidate's kept units are whole rows

    @torch.inference_mode()
    def score(keep: Keep) -> torch.Tensor:
        keep = [k.to(x.device, non_blocking=True) for k in keep]
        chunk = chunk_size(arch, tuple(k.shape[1] for k in keep), x.shape[0], budget_bytes)
        out = []
        for i in range(0, keep[0].shape[0], chunk):
            part = [k[i:i + chunk] for k in keep]
            if arch.conv:   # [B, W0, *S] -> [B, C*k0, *S]: the grouped layout, candidate-major
                h = h0[:, part[0].reshape(-1)]
            else:           # [W0, B] -> [C, k0, B], the MLP's feature-major layout
                h = h0[part[0]]
            carch, cparams = models.compact(arch, stacked, part, start=1)
            if init == "rescaled":
                cparams = inits.scaled(cparams, inits.node_factors(arch.widths, carch.widths))
            logits = models.forward(carch, cparams, h, start=1)
            out.append(per_candidate(logits, y, kind).double())
        return torch.cat(out).cpu()

    return score

