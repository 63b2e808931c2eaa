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
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import flops, masks, models, saliency
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
    nodes_total: int | None = None  # global masks: one node budget, ranked across the layers

    @property
    def kept(self) -> tuple[int, ...]:
        """Kept nodes per hidden layer of every mask of this level (`weedout.structure`)."""
        return self.widths_kept or masks.kept_widths(self.arch.widths, self.sparsity)


def context(arch, parent, x, y, sparsity: float, budget: int, generator: torch.Generator,
            score: Callable[[Keep], torch.Tensor], kept: tuple[int, ...] | None = None,
            sample: Callable[[int], Keep] | None = None, dense_cost: bool = False,
            nodes_total: int | None = None) -> SearchContext:
    """A SearchContext whose score counts one forward pass per mask scored, and its FLOPs;
    `kept`: the level's kept widths where the structure is not local; `sample`: a sampler other
    than the exact-count one (global masks: `masks.sample_global`, scored as gates);
    `dense_cost`: a scored mask costs the full parent's pass (unstructured masks);
    `nodes_total`: global masks' node budget (saliency methods then rank across layers)."""
    flops.warm()  # before search.run starts its clock
    ctx = SearchContext(arch, parent, x, y, sparsity, budget, generator,
                        sample or (lambda n: masks.sample(arch.widths, sparsity, n, generator,
                                                          kept)),
                        score, score, widths_kept=kept, nodes_total=nodes_total)

    def counted(keep: Keep) -> torch.Tensor:
        ctx.cost["forward"] += keep[0].shape[0]
        kept = arch.widths if dense_cost else tuple(k.shape[1] for k in keep)
        ctx.cost["flops"] += flops.scoring_flops(arch, kept, x.shape[0], keep[0].shape[0])
        return score(keep)

    ctx.score = counted
    return ctx


def run(strategy: Callable[..., SearchResult], ctx: SearchContext) -> tuple[SearchResult, dict]:
    """Call a strategy (with `context=` when its signature asks for it); return its result and
    its cost: forward and backward passes of one network, their FLOPs (`weedout.core.flops`), and
    seconds."""
    t0 = time.perf_counter()
    extra = {"context": ctx} if "context" in inspect.signature(strategy).parameters else {}
    found = strategy(ctx.sample, ctx.score, ctx.budget, ctx.generator, **extra)
    return found, {**ctx.cost, "seconds": time.perf_counter() - t0}


def saliency_strategy(method: str, invert: bool = False) -> Callable[..., SearchResult]:
    """A node-level pruning-at-initialisation method as a strategy: keeps the k_l most (or,
    inverted, least) salient nodes per layer; with a global budget (`SearchContext.nodes_total`,
    global masks) the most salient nodes of the network, ranked across layers, at least one per
    layer, returned as gates. Its trace is the chosen mask's own score, which is recorded like
    the random control's and not counted as search cost."""
    def strategy(sample, score, budget, generator, context: SearchContext) -> SearchResult:
        c = context
        if method == "synflow":
            best = saliency.synflow(c.arch, c.parent, c.kept, invert, cost=c.cost,
                                    total=c.nodes_total)
        else:
            sal = (saliency.magnitude(c.arch, c.parent) if method == "magnitude" else
                   getattr(saliency, method)(c.arch, c.parent, c.x, c.y, cost=c.cost))
            sal = [-v for v in sal] if invert else sal
            best = (saliency.keep_top(sal, c.kept) if c.nodes_total is None
                    else saliency.keep_top_global(sal, c.nodes_total))
        if c.nodes_total is not None:  # the global masks' form: 0/1 gates per layer
            best = masks.to_binary(best, c.arch.widths)
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
