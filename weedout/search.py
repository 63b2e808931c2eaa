"""Phase 1 of Weedout: search the node space of an untrained parent for a good sparse mask.

A search strategy has one signature, so a user's own method drops in next to the paper's:

    strategy(sample, score, budget, generator) -> SearchResult
      sample(n) -> Keep       n masks drawn uniformly at the target sparsity (exact counts)
      score(keep) -> Tensor   one score per mask, lower is better (batched, chunked inside)
      budget                  how many masks the strategy may score (the CANDIDATES parameter)
      generator               a seeded torch.Generator for any other random choice

A strategy that also needs the parent itself (a saliency method reads its weights, the
architecture or the scoring batch) declares a keyword parameter `context` and receives a
`SearchContext` there; `run` is the one place that calls strategies, either kind.

Register it in STRATEGIES and select it with Config.strategy (see the README), or run it beside
the RSH with Config.comparators. Here: the paper's `random_search`, an evolutionary search,
`evolution` (the alternative the paper names), and the pruning-at-initialisation scores of
`weedout.saliency` at node level (magnitude, snip, grasp, synflow and their `_inverted` twins).
"""
from __future__ import annotations

import inspect
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import compute, masks, models, saliency
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


@dataclass
class SearchContext:
    """Everything one search sees: the untrained parent (unstacked, on the device), its
    architecture, the seed's scoring batch, the exact kept widths of the level, the budget and
    generator, the two closures, and a cost tally the strategies add their passes to."""
    arch: models.Arch
    parent: list[torch.Tensor]
    x: torch.Tensor
    y: torch.Tensor
    sparsity: float
    budget: int
    generator: torch.Generator
    sample: Callable[[int], Keep]
    score: Callable[[Keep], torch.Tensor]
    evaluate: Callable[[Keep], torch.Tensor]   # the same score, not counted as search cost
    cost: dict = field(default_factory=lambda: {"forward": 0, "backward": 0, "flops": 0})
    widths_kept: tuple[int, ...] | None = None  # the level's kept widths; None: local structure

    @property
    def kept(self) -> tuple[int, ...]:
        """Kept nodes per hidden layer of every mask of this level (`weedout.structure`)."""
        return self.widths_kept or masks.kept_widths(self.arch.widths, self.sparsity)


def context(arch, parent, x, y, sparsity: float, budget: int, generator: torch.Generator,
            score: Callable[[Keep], torch.Tensor], kept: tuple[int, ...] | None = None,
            sample: Callable[[int], Keep] | None = None,
            dense_cost: bool = False) -> SearchContext:
    """A SearchContext whose score counts one forward pass per mask scored, and its FLOPs;
    `kept`: the level's kept widths where the structure is not local; `sample`: a sampler other
    than the exact-count one (global masks: `masks.sample_global`, scored as gates);
    `dense_cost`: a scored mask costs the full parent's pass (unstructured masks)."""
    compute.warm()  # before search.run starts its clock
    ctx = SearchContext(arch, parent, x, y, sparsity, budget, generator,
                        sample or (lambda n: masks.sample(arch.widths, sparsity, n, generator,
                                                          kept)),
                        score, score, widths_kept=kept)

    def counted(keep: Keep) -> torch.Tensor:
        ctx.cost["forward"] += keep[0].shape[0]
        kept = arch.widths if dense_cost else tuple(k.shape[1] for k in keep)
        ctx.cost["flops"] += compute.scoring_flops(arch, kept, x.shape[0], keep[0].shape[0])
        return score(keep)

    ctx.score = counted
    return ctx


def run(strategy: Callable[..., SearchResult], ctx: SearchContext) -> tuple[SearchResult, dict]:
    """Call a strategy (with `context=` when its signature asks for it); return its result and
    its cost: forward and backward passes of one network, their FLOPs (`weedout.compute`), and
    seconds."""
    t0 = time.perf_counter()
    extra = {"context": ctx} if "context" in inspect.signature(strategy).parameters else {}
    found = strategy(ctx.sample, ctx.score, ctx.budget, ctx.generator, **extra)
    return found, {**ctx.cost, "seconds": time.perf_counter() - t0}


def saliency_strategy(method: str, invert: bool = False) -> Callable[..., SearchResult]:
    """A node-level pruning-at-initialisation method as a strategy: keeps the k_l most (or,
    inverted, least) salient nodes per layer. Its trace is the chosen mask's own score, which
    is recorded like the random control's and not counted as search cost."""
    def strategy(sample, score, budget, generator, context: SearchContext) -> SearchResult:
        c = context
        if method == "synflow":
            best = saliency.synflow(c.arch, c.parent, c.kept, invert, cost=c.cost)
        else:
            sal = (saliency.magnitude(c.arch, c.parent) if method == "magnitude" else
                   getattr(saliency, method)(c.arch, c.parent, c.x, c.y, cost=c.cost))
            best = saliency.keep_top([-v for v in sal] if invert else sal, c.kept)
        return SearchResult(best, c.evaluate(best).tolist(), 0)

    strategy.__name__ = method + ("_inverted" if invert else "")
    strategy.__doc__ = f"Node-level {method}{' (inverted)' if invert else ''}: see weedout.saliency."
    return strategy


#: Every search strategy by name (Config.strategy, Config.comparators): a plug-in adds its own
#: here at import (WEEDOUT_PLUGINS), with the signature of the module docstring.
STRATEGIES: dict[str, Callable[..., SearchResult]] = {"random_search": random_search,
                                                      "evolution": evolutionary_search}
SALIENCY = ("magnitude", "snip", "grasp", "synflow")
for _m in SALIENCY:
    for _inv in (False, True):
        STRATEGIES[_m + ("_inverted" if _inv else "")] = saliency_strategy(_m, _inv)


def _per_candidate(logits: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
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
                  kind: str = "loss", budget_bytes: int | None = None
                  ) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """score(masks) for unstructured masks (0/1 [n, *shape] per weight matrix) of the
    (unstacked) parent: each candidate a full-size network whose weights are multiplied by its
    mask, many in one batched pass (chunked by the memory of their weights and activations)."""
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
            out.append(_per_candidate(models.forward(arch, params, x), y, kind).double())
        return torch.cat(out).cpu()

    return score


def gated_scorer(arch: Arch, parent: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                 kind: str = "loss", budget_bytes: int | None = None
                 ) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """score(gates) for 0/1 node gates [n, width] per layer of the (unstacked) parent: masks of
    any shapes in one batched pass, each a full-size network whose removed nodes' outputs are
    multiplied by 0 (equal to scoring its compacted twin, up to rounding: a test checks)."""
    chunk = chunk_size(arch, arch.widths, x.shape[0],
                       default_budget(x.device) if budget_bytes is None else budget_bytes)

    @torch.inference_mode()
    def score(gates: list[torch.Tensor]) -> torch.Tensor:
        out = []
        for i in range(0, gates[0].shape[0], chunk):
            g = [t[i:i + chunk].to(x.device) for t in gates]
            params = [p[None].expand(g[0].shape[0], *p.shape) for p in parent]
            out.append(_per_candidate(models.forward(arch, params, x, gates=g), y, kind).double())
        return torch.cat(out).cpu()

    return score


def scorer(arch: Arch, parent: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
           kind: str = "loss", budget_bytes: int | None = None) -> Callable[[Keep], torch.Tensor]:
    """score(keep) for masks of the (unstacked) parent on one fixed scoring batch (x, y).

    The parent's first hidden layer does not depend on the mask (a node is either kept whole or
    removed), so it is computed once; each candidate only gathers its kept channels from it.
    Chunks are sized from the candidates' kept widths and `budget_bytes` (default:
    `default_budget`); scores stay on the device until the last chunk (one host sync per call).
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
            logits = models.forward(carch, cparams, h, start=1)
            out.append(_per_candidate(logits, y, kind).double())
        return torch.cat(out).cpu()

    return score

