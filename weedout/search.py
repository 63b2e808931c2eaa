"""Phase 1 of Weedout: search the node space of an untrained parent for a good sparse mask.

A search strategy has one signature, so a user's own method drops in next to the paper's:

    strategy(sample, score, budget, generator) -> SearchResult
      sample(n) -> Keep       n masks drawn uniformly at the target sparsity (exact counts)
      score(keep) -> Tensor   one score per mask, lower is better (batched, chunked inside)
      budget                  how many masks the strategy may score (the CANDIDATES parameter)
      generator               a seeded torch.Generator for any other random choice

Register it in STRATEGIES and select it with Config.strategy (see the README). Two ship here:
the paper's `random_search` and, as the alternative the paper names, an `evolution`ary search.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from . import masks, models
from .masks import Keep
from .models import Arch


@dataclass
class SearchResult:
    best: Keep                 # the chosen mask, [1, k_l] per layer
    scores: list[float]        # every scored candidate, in the order scored (the trace)
    best_index: int            # position of the chosen one in `scores`


def random_search(sample: Callable[[int], Keep], score: Callable[[Keep], torch.Tensor],
                  budget: int, generator: torch.Generator | None = None) -> SearchResult:
    """The paper's Random Search Heuristic: draw `budget` uniform masks, keep the best one.

    All masks are drawn before any is scored, so how scoring is chunked never changes them.
    """
    keep = sample(budget)
    scores = score(keep)
    best = int(torch.argmin(scores))  # first of any ties: deterministic
    return SearchResult(masks.select(keep, best), scores.tolist(), best)


def _crossover(a: Keep, b: Keep, generator: torch.Generator) -> Keep:
    """Per layer, a uniform k-subset of the union of a's and b's kept nodes: the child inherits
    only its parents' nodes and keeps the exact count (the union holds at least k)."""
    child = []
    for la, lb in zip(a, b):
        n, k = la.shape
        size = int(max(la.max(), lb.max())) + 1
        union = torch.zeros(n, size, dtype=torch.bool)
        union.scatter_(1, la, True).scatter_(1, lb, True)
        priority = torch.rand(n, size, generator=generator).masked_fill_(~union, -1.0)
        child.append(priority.topk(k, dim=1).indices.sort(dim=1).values)
    return child


def evolutionary_search(sample: Callable[[int], Keep], score: Callable[[Keep], torch.Tensor],
                        budget: int, generator: torch.Generator | None = None,
                        population: int | None = None) -> SearchResult:
    """A (mu + lambda) genetic search over exact-count masks, the alternative to random search
    that the paper names. Generation 0 is `population` uniform masks; each next generation has
    `population` children: half cross two parents drawn from the survivors, half cross a survivor
    with a fresh uniform mask (mutation); the best `population` of parents and children survive.
    Scores exactly `budget` masks, so it is compared with random search at equal cost."""
    generator = generator or torch.Generator().manual_seed(0)
    pop = population or max(2, min(budget, round(math.sqrt(budget) * 2)))
    keep = sample(min(pop, budget))
    fitness = score(keep)
    trace, best, best_score = fitness.tolist(), masks.select(keep, int(fitness.argmin())), float(fitness.min())
    while len(trace) < budget:
        n = min(pop, budget - len(trace))
        pa = torch.randint(keep[0].shape[0], (n,), generator=generator)
        pb = torch.randint(keep[0].shape[0], (n,), generator=generator)
        mates = masks.select(keep, pb)
        fresh = sample(n - n // 2)
        mates = [torch.cat([m[: n // 2], f]) for m, f in zip(mates, fresh)]
        children = _crossover(masks.select(keep, pa), mates, generator)
        child_fitness = score(children)
        trace += child_fitness.tolist()
        if float(child_fitness.min()) < best_score:
            best_score = float(child_fitness.min())
            best = masks.select(children, int(child_fitness.argmin()))
        keep, fitness = masks.cat([keep, children]), torch.cat([fitness, child_fitness])
        survivors = fitness.argsort(stable=True)[:pop]
        keep, fitness = masks.select(keep, survivors), fitness[survivors]
    return SearchResult(best, trace, trace.index(best_score))


STRATEGIES: dict[str, Callable[..., SearchResult]] = {"random_search": random_search,
                                                      "evolution": evolutionary_search}


def _per_candidate(logits: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """Score [C] of C networks' logits [C, B, K]; labels y [B] shared or [C, B] per network."""
    C, B, K = logits.shape
    y = y.expand(C, B)
    if kind == "error":
        return (logits.argmax(-1) != y).float().mean(1)
    return models.cross_entropy(logits, y).mean(1)


def chunk_size(arch: Arch, batch: int, budget_bytes: int) -> int:
    """Candidates per batched pass, from a memory budget: each holds its compacted weights
    (first layer excluded: it is shared) and a few activations of every layer. Sized with the
    parent's widths, an upper bound for any sparsity."""
    spatial = arch.in_shape[1:] if arch.conv else ()
    k = models.KERNEL.get(arch.kind, 1) ** len(spatial)
    acts = weights = 0
    for i, w in enumerate(arch.widths):
        # conv output before pooling is 2^d times the pooled one
        acts += batch * w * math.prod(spatial) * 2
        spatial = tuple(s // 2 for s in spatial)
        if i:
            weights += w * arch.widths[i - 1] * k
    weights += arch.n_classes * arch.widths[-1] * math.prod(spatial)
    per = 4 * (weights + 3 * acts + batch * arch.n_classes)
    return max(1, min(4096, budget_bytes // per))


def scorer(arch: Arch, parent: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
           kind: str = "loss", budget_bytes: int | None = None) -> Callable[[Keep], torch.Tensor]:
    """score(keep) for masks of the (unstacked) parent on one fixed scoring batch (x, y).

    The parent's first hidden layer does not depend on the mask (a node is either kept whole or
    removed), so it is computed once; each candidate only gathers its kept channels from it.
    """
    if budget_bytes is None:
        budget_bytes = (1 << 30) if x.is_cuda else (256 << 20)
    stacked = [p[None] for p in parent]
    with torch.inference_mode():
        h0 = models.hidden(arch, stacked, models._to_stacked_input(arch, x, 1), 0)
        h0 = h0 if arch.conv else h0[0]  # mlp: [W0, B], a candidate's kept units are whole rows
    chunk = chunk_size(arch, x.shape[0], budget_bytes)

    @torch.inference_mode()
    def score(keep: Keep) -> torch.Tensor:
        out = []
        for i in range(0, keep[0].shape[0], chunk):
            part = [k[i:i + chunk].to(x.device) for k in keep]
            if arch.conv:   # [B, W0, *S] -> [B, C*k0, *S]: the grouped layout, candidate-major
                h = h0[:, part[0].reshape(-1)]
            else:           # [W0, B] -> [C, k0, B], the MLP's feature-major layout
                h = h0[part[0]]
            carch, cparams = models.compact(arch, stacked, part, start=1)
            logits = models.forward(carch, cparams, h, start=1)
            out.append(_per_candidate(logits, y, kind).double().cpu())
        return torch.cat(out)

    return score

