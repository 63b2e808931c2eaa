"""What one worker computes for a group of trials (`stages.execute` calls these): the searches
of one seed's parent at every level, and the stacked training of one level's networks. The run's
axes (weedout.axes) say what differs from the paper's grid: the mask structure, the parent a
search cuts, more searches and networks, their initialisation, the epochs and the trainer.

Seeds: one seed per replicate drives the parent's initialisation and the data order, shared by
the dense, weedout and random networks of that seed (so they can be compared in pairs). Every
random stream is derived from (seed, purpose, dataset, ...) by `derive_seed`, so a trial's
numbers do not depend on which trials ran before it.
"""
from __future__ import annotations

import functools
import time

import torch

from .. import config, data
from ..axes import registry
from ..axes.base import Level, SeedSearch
from ..config import Config
from ..core import flops, models, scoring, structures
from ..core.seeds import derive_seed, parent_params
from ..core.seeds import scoring_batch as seed_batch
from ..core.train import masked, train_stack
from . import provenance
from .record_tables import CURVE_COLUMNS, search_record
from .records import Store


@functools.lru_cache(maxsize=4)
def _dataset(name: str, root: str, device: str):
    return data.load_dataset(name, root, device=device)


def setup(cfg: Config, ds: str, model: str):
    """(dataset on the device, parent architecture) of a cell; "mlp-x2": the mlp, twice as wide."""
    provenance.configure_torch(config.device_of(cfg))  # also for callers that skip configure()
    dset = _dataset(ds, str(cfg.data_path), config.device_of(cfg))
    base, factor = config.parent_of(model)
    mlp, cnn = cfg.mlp_widths, cfg.cnn_channels
    if factor != 1:
        mlp, cnn = ((config.parent_widths(mlp, factor), cnn) if base == "mlp"
                    else (mlp, config.parent_widths(cnn, factor)))
    arch = models.arch_for(base, dset.in_shape, dset.n_classes, mlp, cnn)
    return dset, arch


def scoring_batch(cfg: Config, dset, seed: int):
    """The fixed scoring batch of a seed: drawn once from the training split."""
    return seed_batch(dset, seed, cfg.score_batch)


def parent_for(cfg: Config, arch, ds: str, model: str, seed: int, device, trained: bool):
    """(parameters, history) of a seed's parent: untrained (history None), or the one an axis
    makes a search cut (`search_parent`: after some training) when `trained`."""
    got = registry.first(cfg, "search_parent", setup, ds, model, seed, device) if trained else None
    return got or (parent_params(arch, ds, model, seed, device), None)


def seed_search(cfg: Config, ds: str, model: str, seed: int) -> SeedSearch:
    """What every search of one seed shares (its parent, scoring batch, scorer)."""
    dset, arch = setup(cfg, ds, model)
    structure = registry.mask_structure(cfg)
    parent, _ = parent_for(cfg, arch, ds, model, seed, dset.x_train.device, trained=True)
    x, y = scoring_batch(cfg, dset, seed)
    score = structure.scorer(arch, parent, x, y, cfg.score)
    return SeedSearch(cfg, ds, model, seed, dset, arch, parent, x, y, score, structure,
                      lambda c, sd: scoring_batch(c, dset, sd))


def search_trials(cfg: Config, todo: list, save, bar) -> None:
    """Search every (dataset, model, sparsity, seed) of `todo`, saving each as it finishes."""
    for ds, model, seed in dict.fromkeys((ds, m, seed) for ds, m, _, seed in todo):
        seeded = seed_search(cfg, ds, model, seed)
        arch, structure, score = seeded.arch, seeded.structure, seeded.score
        more = {name: fn for a in registry.active(cfg)
                for name, fn in a.seed_searches(cfg, seeded).items()}
        full = structure.full(arch)
        for s in [s for d, m, s, sd in todo if (d, m, sd) == (ds, model, seed)]:
            found, cost = seeded.search(cfg.strategy, s, "search")
            control = structure.sampler(arch, s, torch.Generator().manual_seed(
                derive_seed(seed, "random", ds, model, s)))(1)
            save((ds, model, s, seed), {
                "dataset": ds, "model": model, "sparsity": s, "seed": seed,
                "scores": found.scores, "best_index": found.best_index,
                "weedout": structure.store(found.best), "random": structure.store(control),
                "random_score": float(score(control)[0]),
                "parent_score": float(score(full)[0]),
                "cost": cost, "comparators": {name: fn(s) for name, fn in more.items()}})
            if bar is not None:
                bar.update(1)


def cell_networks(cfg: Config, store: Store, ds: str, model: str, s: float | None, seeds=None):
    """The networks of one training cell: (method, seed, mask) for each seed (default: every
    seed of the config); s=None: dense. Weedout and random first, then the axes' networks."""
    seeds = cfg.seeds if seeds is None else seeds
    if s is None:
        return [("dense", seed, None) for seed in seeds]
    structure, arch = registry.mask_structure(cfg), None
    nets = []
    for seed in seeds:
        rec = search_record(store, ds, model, s, seed)
        if arch is None:
            arch = setup(cfg, ds, model)[1]
        first = {m: structure.load(rec[m], arch) for m in ("weedout", "random")}
        nets += [(m, seed, first[m]) for m in ("weedout", "random")]
        for a in registry.active(cfg):
            nets += a.networks(cfg, rec, seed, first)
    return nets


def _level(cfg: Config, ds: str, model: str, s: float | None, progress, seeds) -> tuple:
    """(Level, the parents' histories, first epoch) of one training cell."""
    dset, arch = setup(cfg, ds, model)
    dev = dset.x_train.device
    nets = cell_networks(cfg, Store(cfg.results_path, cfg.digest()), ds, model, s, seeds)
    seeds = [seed for _, seed, _ in nets]
    unique = sorted(set(seeds))
    # Networks that start at epoch k > 0 (searched after some training) are cut from the
    # parent as it was then; the dense network runs every epoch from initialisation.
    k = registry.first_epoch(cfg, s)
    searched = [parent_for(cfg, arch, ds, model, seed, dev, trained=k > 0) for seed in unique]
    structure = registry.mask_structure(cfg) if s is not None else structures.LOCAL
    level = Level(cfg, ds, model, s, dset, arch, nets, seeds,
                  models.stack([p for p, _ in searched]),
                  torch.tensor([unique.index(sd) for sd in seeds], device=dev),  # net -> parent
                  lambda seed: scoring_batch(cfg, dset, seed), progress,
                  None if s is None else structure.kept(arch, s))
    return level, structure, [h for _, h in searched], unique, k


def train_cell(cfg: Config, ds: str, model: str, s: float | None, progress=None,
               seeds=None) -> dict:
    """Train the networks of one cell (of `seeds`, default every seed) as one stacked model;
    return the level's payload (`networks`: every network, seed by seed)."""
    level, structure, heads, unique, k = _level(cfg, ds, model, s, progress, seeds)
    prepared = structure.prepare(level.arch, level.parents, level.index,
                                 [mask for _, _, mask in level.nets])
    for a in registry.active(cfg):
        a.initialise(cfg, level, prepared)
    # Each network's loss at initialisation on its seed's scoring batch: for weedout networks
    # this must equal the winning search score (checked by a test).
    xs, ys = zip(*[level.batch_of(seed) for seed in level.seeds])
    with torch.no_grad():
        init = scoring.per_candidate(models.forward(
            prepared.arch, masked(prepared.params, prepared.weight_masks), torch.stack(xs),
            gates=prepared.gates), torch.stack(ys), cfg.score)
    t0 = time.perf_counter()
    trainer = registry.first(cfg, "trainer", s)
    if trainer is not None:
        hist, moves, extra = trainer(level, prepared)
    else:
        hist = train_stack(prepared.arch, prepared.params, level.dset, level.seeds,
                           cfg.schedule(), progress, epochs=(k, cfg.epochs),
                           gates=prepared.gates, weight_masks=prepared.weight_masks)
        moves, extra = [[] for _ in level.nets], [0] * len(level.nets)
    seconds = time.perf_counter() - t0
    if k:  # epochs 0..k-1 of each network are its parent's: its curve
        for m, seed in enumerate(level.seeds):
            for key in CURVE_COLUMNS:
                hist[key][:k, m] = heads[unique.index(seed)][key][:k, 0]
        if progress is not None:
            progress.update(k)
    return {"dataset": ds, "model": model, "sparsity": 0.0 if s is None else s,
            "epochs": cfg.epochs, "device": str(level.dset.x_train.device),
            "networks": _networks(level, prepared, hist, init, moves, extra, k),
            # the stack's wall time and size: a network's share is seconds / stacked
            "seconds": seconds, "stacked": len(level.nets)}


def _networks(level: Level, prepared, hist, init, moves, extra, k: int) -> list[dict]:
    """Every network's record: its widths and counts (as its compacted self: gated networks ran
    at full size, an implementation detail), FLOPs (the parent's first k epochs included),
    curves, divergence and re-searches."""
    arch, cfg = level.arch, level.cfg
    n_train, n_test = level.dset.x_train.shape[0], level.dset.x_test.shape[0]
    dense_params, dense_flops = models.count(arch)
    weights = prepared.weight_masks
    out = []
    for m, (method, seed, _) in enumerate(level.nets):
        widths = prepared.widths[m]
        train = flops.training_flops(arch.with_widths(widths), cfg.epochs - k, n_train, n_test)
        if k:
            train += flops.training_flops(arch, k, n_train, n_test)
        div = int(hist["diverged_epoch"][m])
        n_params, net_flops = models.count(arch.with_widths(widths))
        if weights is not None:  # unstructured: its nonzero parameters; dense kernels' FLOPs
            n_params -= sum(int((w[m] == 0).sum()) for w in weights)
        out.append({"method": method, "seed": seed, "init_score": float(init[m]),
                    "widths": list(widths), "params": n_params, "flops": net_flops,
                    "node_sparsity": 1 - sum(widths) / sum(arch.widths),
                    "param_sparsity": 1 - n_params / dense_params,
                    "flop_sparsity": 1 - net_flops / dense_flops,
                    "train_flops": train + extra[m],
                    "diverged_epoch": div if div >= 0 else None,
                    "curves": {c: hist[c][:, m].tolist() for c in CURVE_COLUMNS},
                    **({"researches": moves[m]} if moves[m] else {})})
    return out


def train_trials(cfg: Config, todo: list, save, bar) -> None:
    """Train the trials of one level (one group: same dataset, model, sparsity) as one stacked
    model and save one record per seed (README: whether stacking changes the numbers)."""
    (ds, model, s, _), seeds = todo[0], [t[3] for t in todo]
    level = train_cell(cfg, ds, model, s, progress=bar, seeds=seeds)
    for seed in seeds:
        save((ds, model, s, seed), {**{k: v for k, v in level.items() if k != "networks"},
                                    "seed": seed,
                                    "networks": [n for n in level["networks"] if n["seed"] == seed]})
