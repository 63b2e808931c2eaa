"""The ways `python -m weedout.bench` runs one grid, and how their results are compared: the
naive reference (weedout.core.reference), the engine as it was before issue 20 (`baseline`: the same
search and stacked training, with `weedout.baseline`'s training step) and the engine of today.
Each returns its per-phase wall times, the masks it chose and its trained networks."""
from __future__ import annotations

import dataclasses

import torch

from ..core import baseline, masks, models, reference, scoring, search
from ..core.seeds import derive_seed, parent_params
from ..core.train import train_stack
from ..pipeline.workers import scoring_batch
from . import rates
from .meters import phases, stamp

# Agreement tolerances. Scores: the same float32 forward with another reduction order (bmm of
# a compacted net vs mm of a masked dense one), ~1e-6 apart. Training: SGD amplifies those
# rounding differences step by step (~2e-5 on a loss after the default 115 steps; more epochs,
# more drift), and an accuracy may move by an example or two.
SCORE_TOL = 1e-4
LOSS_TOL = 2e-3
# --float64 runs both ways in double precision: the same rounding drift is ~1e-12, so any
# difference beyond these is a real disagreement, not float32 noise amplified by SGD.
TOL64 = {"score": 1e-9, "loss": 1e-7, "examples": 0}
# --precision bfloat16 trains the engine in bfloat16 (scoring stays float32): its networks may
# end up to 2 points of test accuracy from float32's (the spread float32 itself shows between
# machines) and their losses a few hundredths apart.
TOL_BF16 = {"score": SCORE_TOL, "loss": 5e-2, "examples": 0.02}


def tolerances(float64: bool, precision: str, n_test: int) -> dict:
    """{"score", "loss", "examples"} for comparing the naive reference with the engine."""
    if float64:
        return TOL64
    if precision == "bfloat16":
        return {**TOL_BF16, "examples": round(TOL_BF16["examples"] * n_test)}
    return {"score": SCORE_TOL, "loss": LOSS_TOL, "examples": 2}


def _grid(cfg, arch, dset):
    parents = {seed: [p.to(dset.x_train.dtype) for p in
                      parent_params(arch, dset.name, arch.kind, seed, dset.x_train.device)]
               for seed in cfg.seeds}
    return parents, {seed: scoring_batch(cfg, dset, seed) for seed in cfg.seeds}


def _draw(arch, dset, seed, s, purpose: str):
    """Mask sampler for one (seed, sparsity), seeded as experiment.run_search seeds it."""
    g = torch.Generator().manual_seed(derive_seed(seed, purpose, dset.name, arch.kind, s))
    return lambda n: masks.sample(arch.widths, s, n, g)


def _cells(cfg, chosen, arch, dset):
    """(sparsity, [(method, seed, keep)]) per training cell, dense first, as pipeline.workers does."""
    out = [(0.0, [("dense", seed, None) for seed in cfg.seeds])]
    for s in cfg.sparsities:
        out.append((s, [net for seed in cfg.seeds for net in (
            ("weedout", seed, chosen[s, seed][0]), ("random", seed, _draw(arch, dset, seed, s, "random")(1)))]))
    return out


def run_naive(cfg, arch, dset, dev):
    parents, batches = _grid(cfg, arch, dset)
    sched = cfg.schedule()
    t0, chosen = stamp(dev), {}
    for seed in cfg.seeds:
        for s in cfg.sparsities:
            keep = _draw(arch, dset, seed, s, "search")(cfg.candidates)
            scores = reference.score_one_by_one(arch, parents[seed], keep, *batches[seed], cfg.score)
            best = int(torch.argmin(scores))
            chosen[s, seed] = (masks.select(keep, best), best, scores)
    t1, final = stamp(dev), {}
    for s, nets in _cells(cfg, chosen, arch, dset):
        for method, seed, keep in nets:
            h = reference.train_one(arch, parents[seed], keep, dset, seed, sched)
            final[s, method, seed] = (float(h["test_acc"][-1, 0]), float(h["test_loss"][-1, 0]), h["net"])
    return phases(t0, t1, stamp(dev)), chosen, final


def search_seed(cfg, arch, dset, parent, batch, seed) -> dict:
    """The engine's search of one seed at every level: {(sparsity, seed): (best mask, its
    index, every candidate's score)}."""
    score = scoring.scorer(arch, parent, *batch, kind=cfg.score)
    out = {}
    for s in cfg.sparsities:
        found = search.random_search(_draw(arch, dset, seed, s, "search"), score, cfg.candidates)
        out[s, seed] = (found.best, found.best_index,
                        torch.tensor(found.scores, dtype=torch.float64))
    return out


def train_cell(cfg, arch, dset, parents, s, nets, epoch_fn=None) -> dict:
    """One training cell (a level's networks, `_cells`) as one stacked model: {(sparsity,
    method, seed): (final test accuracy, final test loss, (compacted arch, its parameters))}."""
    seeds = [seed for _, seed, _ in nets]
    unique = sorted(set(seeds))
    keep = masks.cat([k if k is not None else masks.full(arch.widths) for _, _, k in nets])
    carch, params = models.compact(arch, models.stack([parents[sd] for sd in unique]), keep,
                                   torch.tensor([unique.index(sd) for sd in seeds]))
    h = train_stack(carch, params, dset, seeds, cfg.schedule(), epoch_fn=epoch_fn)
    return {(s, method, seed): (float(h["test_acc"][-1, m]), float(h["test_loss"][-1, m]),
                                (carch, [p[m] for p in h["params"]]))
            for m, (method, seed, _) in enumerate(nets)}


def run_engine(cfg, arch, dset, dev, epoch_fn=None):
    """The engine on the grid; `epoch_fn`: the training step (`train_stack`'s; None: today's)."""
    parents, batches = _grid(cfg, arch, dset)
    t0, chosen = stamp(dev), {}
    for seed in cfg.seeds:
        chosen.update(search_seed(cfg, arch, dset, parents[seed], batches[seed], seed))
    t1, final = stamp(dev), {}
    for s, nets in _cells(cfg, chosen, arch, dset):
        final.update(train_cell(cfg, arch, dset, parents, s, nets, epoch_fn))
    return phases(t0, t1, stamp(dev)), chosen, final


def run_baseline(cfg, arch, dset, dev):
    """The engine with the training step it had before issue 20, in float32 (it had no other)."""
    return run_engine(dataclasses.replace(cfg, precision="float32"), arch, dset, dev,
                      epoch_fn=baseline.epoch)


WAYS = {"naive": run_naive, "baseline": run_baseline, "engine": run_engine}


def compare(chosen_n, final_n, chosen_e, final_e, n_test: int, tol: dict) -> tuple[bool, list[str]]:
    same = sum(chosen_n[k][1] == chosen_e[k][1] for k in chosen_n)
    dscore = max(float((chosen_n[k][2] - chosen_e[k][2]).abs().max()) for k in chosen_n)
    dacc = max(abs(final_n[k][0] - final_e[k][0]) for k in final_n)
    dloss = max(abs(final_n[k][1] - final_e[k][1]) for k in final_n)
    ok = (same == len(chosen_n) and dscore <= tol["score"] and dloss <= tol["loss"]
          and dacc <= tol["examples"] / n_test + 1e-12)
    return ok, [f"chosen masks identical {same}/{len(chosen_n)}; max |score diff| {dscore:.1e} "
                f"(tolerance {tol['score']:g})", f"final test accuracy: max |diff| "
                f"{round(dacc * n_test)} of {n_test} examples (tolerance {tol['examples']}); "
                f"final test loss: max |diff| {dloss:.1e} (tolerance {tol['loss']:g})"]


def same_bits(chosen_a, final_a, chosen_b, final_b) -> bool:
    """Whether two engine runs chose the same masks with the same scores and trained every
    network to the same weights, bit for bit (today's step against the baseline's)."""
    return (all(chosen_a[k][1] == chosen_b[k][1] and torch.equal(chosen_a[k][2], chosen_b[k][2])
                for k in chosen_a)
            and all(final_a[k][:2] == final_b[k][:2] and all(
                torch.equal(p, q) for p, q in zip(final_a[k][2][1], final_b[k][2][1]))
                for k in final_a))


def efficiency(cfg, arch, dset, dev, times: dict) -> dict:
    """The engine's search and training against the machine's rate for their operations
    (`weedout.bench.rates`), measured now in this process; `training_baseline`: the baseline's
    training fraction, `training_workers`: the worker processes' (`weedout.bench.workers`)."""
    n_train, n_test = dset.x_train.shape[0], dset.x_test.shape[0]
    engine, base = times["engine"], times.get("baseline")
    flops, ideal = rates.search_ideal(arch, cfg.sparsities, cfg.candidates, cfg.score_batch,
                                      len(cfg.seeds), dev)
    out = {"search": rates.efficiency(flops, ideal, engine["search"], engine["search cpu"])}
    cells = [(arch, len(cfg.seeds))] + [(arch.with_widths(masks.kept_widths(arch.widths, s)),
                                         2 * len(cfg.seeds)) for s in cfg.sparsities]
    flops, ideal = rates.training_ideal(cells, cfg.epochs, cfg.batch_size, n_train, n_test, dev,
                                        cfg.precision)
    out["training"] = rates.efficiency(flops, ideal, engine["training"], engine["training cpu"])
    if base is not None and cfg.precision == "float32":
        out["training_baseline"] = rates.efficiency(flops, ideal, base["training"],
                                                    base["training cpu"])
    if "workers" in times:  # the same FLOPs on worker processes (may exceed one process's rate)
        out["training_workers"] = rates.efficiency(flops, ideal, times["workers"]["training"],
                                                   times["workers"]["training cpu"])
    return out
