"""What one worker computes for a group of trials (`experiment.execute` calls these): the
searches of one seed's parent at every level, and the stacked training of one level's networks.

Seeds: one seed per replicate drives the parent's initialisation and the data order, shared by
the dense, weedout and random networks of that seed (so they can be compared in pairs). Every
random stream is derived from (seed, purpose, dataset, ...) by `derive_seed`, so a trial's
numbers do not depend on which trials ran before it.
"""
from __future__ import annotations

import dataclasses
import functools
import time

import torch

from . import compute, config, data, masks, models, provenance, search, structure, throughout
from .config import Config, derive_seed
from .reduce import CURVE_COLUMNS, search_record
from .results import MissingStageError, Store
from .train import Schedule, masked, train_stack


@functools.lru_cache(maxsize=4)
def _dataset(name: str, root: str, device: str):
    return data.load_dataset(name, root, device=device)


def setup(cfg: Config, ds: str, model: str):
    provenance.configure_torch(config.device_of(cfg))  # also for callers that skip configure()
    dset = _dataset(ds, str(cfg.data_path), config.device_of(cfg))
    base, factor = config.parent_of(model)  # "mlp-x2": the mlp parent, twice as wide
    mlp, cnn = cfg.mlp_widths, cfg.cnn_channels
    if factor != 1:
        mlp, cnn = ((config.parent_widths(mlp, factor), cnn) if base == "mlp"
                    else (mlp, config.parent_widths(cnn, factor)))
    arch = models.arch_for(base, dset.in_shape, dset.n_classes, mlp, cnn)
    return dset, arch


def parent_params(arch, ds: str, model: str, seed: int, device: str) -> list[torch.Tensor]:
    return [p.to(device) for p in models.init_parent(arch, derive_seed(seed, "parent", ds, model))]


def schedule(cfg: Config) -> Schedule:
    return Schedule(cfg.epochs, cfg.batch_size, cfg.lr, cfg.momentum, cfg.weight_decay,
                    cfg.precision)


@functools.lru_cache(maxsize=16)
def _trained_parent(cfg: Config, ds: str, model: str, seed: int) -> tuple[list, dict]:
    dset, arch = setup(cfg, ds, model)
    init = parent_params(arch, ds, model, seed, dset.x_train.device)
    hist = train_stack(arch, models.stack([init]), dset, [seed], schedule(cfg),
                       epochs=(0, cfg.search_after))
    return [p.detach()[0] for p in hist.pop("params")], hist


def search_parent(cfg: Config, arch, ds: str, model: str, seed: int, device) -> tuple[list, dict | None]:
    """(parameters, history) of the parent a search sees: the untrained parent (search_after 0,
    the paper; no history), or the dense parent after `search_after` epochs of its own run (the
    first epochs of the dense network's training: same seed, data order and learning rates),
    recomputed where needed (deterministic) rather than stored."""
    if not cfg.search_after:
        return parent_params(arch, ds, model, seed, device), None
    params, hist = _trained_parent(cfg, ds, model, seed)
    return [p.to(device) for p in params], hist


def scoring_batch(cfg: Config, dset, seed: int):
    """The fixed scoring batch of a seed: drawn once from the training split."""
    g = torch.Generator().manual_seed(derive_seed(seed, "score-batch", dset.name))
    idx = torch.randperm(dset.x_train.shape[0], generator=g)[:cfg.score_batch].to(dset.x_train.device)
    return dset.x_train[idx], dset.y_train[idx]


def search_trials(cfg: Config, todo: list, save, bar) -> None:
    """Search every (dataset, model, sparsity, seed) of `todo`, saving each as it finishes."""
    for ds, model, seed in dict.fromkeys((ds, m, seed) for ds, m, _, seed in todo):
        dset, arch = setup(cfg, ds, model)
        parent, _ = search_parent(cfg, arch, ds, model, seed, dset.x_train.device)
        x, y = scoring_batch(cfg, dset, seed)
        # global masks (any shapes) are scored as node gates, unstructured ones as weight masks
        score = {"global": search.gated_scorer, "unstructured": search.weight_scorer}.get(
            cfg.structure, search.scorer)(arch, parent, x, y, kind=cfg.score)
        # A variant's scorer (its own score kind or scoring batch) and budget, built once per seed
        varied = {v: variant_scorer(cfg, v, dset, seed, arch, parent, x, y, score)
                  for v in cfg.variants}

        def searched(name: str, s: float, *stream, budget=cfg.candidates, scoring=(x, y, score)):
            g = torch.Generator().manual_seed(derive_seed(seed, *stream, ds, model, s))
            (sx, sy, sscore) = scoring
            ctx = search.context(arch, parent, sx, sy, s, budget, g, sscore,
                                 kept=level_kept(cfg, arch, s), sample=sampler(cfg, arch, s, g),
                                 dense_cost=cfg.structure == "unstructured")
            ctx.evaluate = score   # what saliency methods and variants report: the main score
            return search.run(search.STRATEGIES[name], ctx)

        full = full_mask(cfg, arch)
        for s in [s for d, m, s, sd in todo if (d, m, sd) == (ds, model, seed)]:
            found, cost = searched(cfg.strategy, s, "search")
            control = sampler(cfg, arch, s, torch.Generator().manual_seed(
                derive_seed(seed, "random", ds, model, s)))(1)
            others = {}
            for name in cfg.comparators:  # each its own stream: adding one changes no other
                res, c = searched(name, s, "search", name)
                others[name] = {"keep": masks.to_lists(res.best),
                                "score": res.scores[res.best_index], "cost": c}
            for v, (budget, scoring) in varied.items():
                # the main search's stream: a score or batch variant scores the very same masks
                res, c = searched(cfg.strategy, s, "search", budget=budget, scoring=scoring)
                others[v] = {"keep": masks.to_lists(res.best), "score": res.scores[res.best_index],
                             "main_score": float(score(res.best)[0]), "scores": res.scores,
                             "cost": c}
            save((ds, model, s, seed), {
                "dataset": ds, "model": model, "sparsity": s, "seed": seed,
                "scores": found.scores, "best_index": found.best_index,
                "weedout": record_mask(cfg, found.best), "random": record_mask(cfg, control),
                "random_score": float(score(control)[0]),
                "parent_score": float(score(full)[0]),
                "cost": cost, "comparators": others})
            if bar is not None:
                bar.update(1)


def sampler(cfg: Config, arch, s: float, generator):
    """sample(n): n masks of level s in the structure's form: exact-count node masks (local,
    non-uniform), global masks as node gates, unstructured ones as weight masks."""
    if cfg.structure == "global":
        total = structure.total(arch, s)
        return lambda n: masks.sample_global(arch.widths, total, n, generator)
    if cfg.structure == "unstructured":
        shapes, counts = masks.weight_shapes(arch), masks.weight_counts(arch, s)
        return lambda n: masks.sample_weights(shapes, counts, n, generator)
    kept = level_kept(cfg, arch, s)
    return lambda n: masks.sample(arch.widths, s, n, generator, kept)


def full_mask(cfg: Config, arch):
    """The mask that keeps everything, in the form the structure's scorer takes."""
    if cfg.structure == "unstructured":
        return [torch.ones(1, *shape) for shape in masks.weight_shapes(arch)]
    dense = masks.full(arch.widths)
    return masks.to_binary(dense, arch.widths) if cfg.structure == "global" else dense


def record_mask(cfg: Config, mask):
    """A mask as the records keep it: kept node indices (global gates turned into them), or
    an unstructured mask's bits (`masks.pack`)."""
    if cfg.structure == "unstructured":
        return masks.pack(mask)
    return masks.to_lists(masks.from_gates(mask) if cfg.structure == "global" else mask)


def read_mask(cfg: Config, ds: str, model: str, stored):
    """The inverse of `record_mask` (global masks stay node indices)."""
    if cfg.structure == "unstructured":
        return masks.unpack(stored, masks.weight_shapes(setup(cfg, ds, model)[1]))
    return masks.from_lists(stored)


def level_kept(cfg: Config, arch, s: float) -> tuple[int, ...] | None:
    """The kept widths of a level's masks; None for the paper's local structure (its path), for
    global masks (their widths differ from mask to mask) and for unstructured ones (weights)."""
    return (None if cfg.structure in ("local", *structure.GATED)
            else structure.kept(arch, s, cfg.structure, cfg.layer_density))


def variant_scorer(cfg: Config, name: str, dset, seed: int, arch, parent, x, y, score):
    """(budget, (x, y, score)) of a variant: the main search's with its one setting changed
    (a smaller scoring batch is a prefix of the main one: the same permutation)."""
    key, value = config.variant(name)
    if key == "candidates":
        return value, (x, y, score)
    vcfg = dataclasses.replace(cfg, **{key: value})
    vx, vy = scoring_batch(vcfg, dset, seed)
    return cfg.candidates, (vx, vy, search.scorer(arch, parent, vx, vy, kind=vcfg.score))


def cell_networks(cfg: Config, store: Store, ds: str, model: str, s: float | None, seeds=None):
    """The networks of one training cell: (method, seed, keep) for each seed (default: every
    seed of the config); s=None: dense. Controls take the random mask (`scratch` only its
    widths: it is re-initialised)."""
    seeds = cfg.seeds if seeds is None else seeds
    if s is None:
        return [("dense", seed, None) for seed in seeds]
    nets = []
    for seed in seeds:
        rec = search_record(store, ds, model, s, seed)
        first = {m: read_mask(cfg, ds, model, rec[m]) for m in ("weedout", "random")}
        nets += [(m, seed, first[m]) for m in ("weedout", "random")]
        for name in (*cfg.comparators, *cfg.variants):
            if name not in rec.get("comparators", {}):
                raise MissingStageError(f"the search record of {ds}/{model} sparsity {s} seed "
                                        f"{seed} has no {name!r}: rerun notebooks/01_search")
            nets.append((name, seed, masks.from_lists(rec["comparators"][name]["keep"])))
        nets += [(name, seed, masks.from_lists(rec["random"])) for name in cfg.controls]
        if cfg.search_every:  # the fixed twins: the first masks, through the same cuts
            nets += [(f"{m}_fixed", seed, first[m]) for m in ("weedout", "random")]
    return nets


def apply_controls(nets, arch, carch, params, ds: str, model: str, s) -> None:
    """In place: `scratch` networks get a fresh default initialisation at their own widths,
    `rescaled` ones their inherited weights scaled to their own fan-in."""
    factors = models.fan_in_rescale(arch, carch)
    with torch.no_grad():
        for m, (method, seed, _) in enumerate(nets):
            if method == "scratch":
                fresh = models.init_parent(carch, derive_seed(seed, "scratch", ds, model, s))
                for p, f in zip(params, fresh):
                    p[m] = f.to(p.device)
            elif method == "rescaled":
                for i, p in enumerate(params):
                    p[m] *= factors[i // 2]


def train_cell(cfg: Config, ds: str, model: str, s: float | None, progress=None,
               seeds=None) -> dict:
    """Train the networks of one cell (of `seeds`, default every seed) as one stacked model;
    return the level's payload (`networks`: every network, seed by seed)."""
    dset, arch = setup(cfg, ds, model)
    dev = dset.x_train.device
    nets = cell_networks(cfg, Store(cfg.results_path, cfg.digest()), ds, model, s, seeds)
    seeds = [seed for _, seed, _ in nets]
    unique = sorted(set(seeds))
    # Searched after k epochs: the sparse networks are cut from the parent as it was then and
    # run the remaining epochs; the dense network runs all of them from initialisation.
    k = cfg.search_after if s is not None else 0
    searched = [search_parent(cfg, arch, ds, model, seed, dev) if k else
                (parent_params(arch, ds, model, seed, dev), None) for seed in unique]
    parents = models.stack([p for p, _ in searched])
    index = torch.tensor([unique.index(sd) for sd in seeds], device=dev)  # network -> parent
    gates = weights = None
    if cfg.structure in structure.GATED and s is not None:
        # networks of different shapes (global) or of masked weights (unstructured): trained
        # at full size with their node gates or weight masks
        carch, params = arch, [p[index] for p in parents]
        if cfg.structure == "global":
            gates = [torch.cat(layer).to(dev) for layer in
                     zip(*[masks.to_binary(k, arch.widths) for _, _, k in nets])]
            widths = [tuple(layer.shape[1] for layer in k) for _, _, k in nets]
        else:
            weights = [torch.cat(layer).to(dev) for layer in zip(*[k for _, _, k in nets])]
            widths = [arch.widths] * len(nets)
    else:
        keep = masks.cat([k if k is not None else masks.full(arch.widths) for _, _, k in nets])
        carch, params = models.compact(arch, parents, keep, index)
        widths = [carch.widths] * len(nets)
    apply_controls(nets, arch, carch, params, ds, model, s)
    # Each network's loss at initialisation on its seed's scoring batch: for weedout networks
    # this must equal the winning search score (checked by a test).
    xs, ys = zip(*[scoring_batch(cfg, dset, seed) for seed in seeds])
    with torch.no_grad():
        init = search._per_candidate(
            models.forward(carch, masked(params, weights), torch.stack(xs), gates=gates),
            torch.stack(ys), cfg.score)
    t0 = time.perf_counter()
    moves, extra = [[] for _ in nets], [0] * len(nets)
    if cfg.search_every and s is not None:  # training stops every few epochs to search again
        full = [p[index] for p in parents]
        research = throughout.researcher(cfg, arch, nets, dset,
                                         lambda seed: scoring_batch(cfg, dset, seed),
                                         level_kept(cfg, arch, s), ds, model, s)
        hist, moves, extra = throughout.train(cfg, arch, nets, full, keep, dset, seeds,
                                              schedule(cfg), research, progress)
    else:
        hist = train_stack(carch, params, dset, seeds, schedule(cfg), progress,
                           epochs=(k, cfg.epochs), gates=gates, weight_masks=weights)
    seconds = time.perf_counter() - t0
    n_train, n_test = dset.x_train.shape[0], dset.x_test.shape[0]
    # FLOPs of each network as its compacted self (gated networks ran at full size: an
    # implementation detail of training different shapes in one stack)
    train_flops = [compute.training_flops(arch.with_widths(w), cfg.epochs - k, n_train, n_test)
                   for w in widths]
    if k:  # epochs 0..k-1 of each network are its parent's: its curve and its FLOPs
        train_flops = [f + compute.training_flops(arch, k, n_train, n_test) for f in train_flops]
        for m, seed in enumerate(seeds):
            for key in CURVE_COLUMNS:
                hist[key][:k, m] = searched[unique.index(seed)][1][key][:k, 0]
        if progress is not None:
            progress.update(k)
    dense_params, dense_flops = models.count(arch)
    out = []
    for m, (method, seed, _) in enumerate(nets):
        div = int(hist["diverged_epoch"][m])
        curves = {k: hist[k][:, m].tolist() for k in CURVE_COLUMNS}
        n_params, flops = models.count(arch.with_widths(widths[m]))
        if weights is not None:  # unstructured: its nonzero parameters; dense kernels' FLOPs
            n_params -= sum(int((w[m] == 0).sum()) for w in weights)
        out.append({"method": method, "seed": seed, "init_score": float(init[m]),
                    "widths": list(widths[m]), "params": n_params, "flops": flops,
                    "node_sparsity": 1 - sum(widths[m]) / sum(arch.widths),
                    "param_sparsity": 1 - n_params / dense_params,
                    "flop_sparsity": 1 - flops / dense_flops,
                    "train_flops": train_flops[m] + extra[m],
                    "diverged_epoch": div if div >= 0 else None, "curves": curves,
                    **({"researches": moves[m]} if moves[m] else {})})
    return {"dataset": ds, "model": model, "sparsity": 0.0 if s is None else s,
            "epochs": cfg.epochs, "device": str(dev), "networks": out,
            # the stack's wall time and size: a network's share is seconds / stacked
            "seconds": seconds, "stacked": len(nets)}


def train_trials(cfg: Config, todo: list, save, bar) -> None:
    """Train the trials of one level (one group: same dataset, model, sparsity) as one stacked
    model and save one record per seed (README: whether stacking changes the numbers)."""
    (ds, model, s, _), seeds = todo[0], [t[3] for t in todo]
    level = train_cell(cfg, ds, model, s, progress=bar, seeds=seeds)
    for seed in seeds:
        save((ds, model, s, seed), {**{k: v for k, v in level.items() if k != "networks"},
                                    "seed": seed,
                                    "networks": [n for n in level["networks"] if n["seed"] == seed]})
