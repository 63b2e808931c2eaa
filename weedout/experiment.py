"""The four stages the notebooks call: search -> training -> analysis -> figures.

Each stage reads what the previous one wrote under the run's results folder, skips every trial
whose record already exists (so a rerun does no work and an interrupted run resumes), and
rebuilds its tables from the records of the current config only. Search and training are
plan -> execute -> reduce: `trials.plan` lists the trials, `execute` computes the missing ones
as one worker under per-trial claims (executors.py runs more workers through the same function),
and the stage writes its tables from the records.

Seeds: one seed per replicate drives the parent's initialisation and the data order, shared by
the dense, weedout and random networks of that seed (so they can be compared in pairs). Every
random stream is derived from (seed, purpose, dataset, ...) by `derive_seed`, so a trial's
numbers do not depend on which trials ran before it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import time

import pandas as pd
import torch

from . import budget, compute, config, data, masks, models, provenance, search, trials
from .config import Config, derive_seed
from .results import (MissingStageError, Store, atomic_write, exclusive, file_digests,
                      read_table, record_stage, write_csv)
from .train import Schedule, train_stack

CURVE_COLUMNS = ("train_loss", "train_acc", "test_loss", "test_acc")


def configure(PRESET: str | None = None, **params) -> Config:
    """Validate notebook/CLI parameters and check the datasets can be had, before any work.
    PRESET None: WEEDOUT_PRESET, else notebooks/preset.txt, else smoke (`config.default_preset`)."""
    cfg = config.resolve(PRESET, **params)
    for ds in cfg.datasets:
        data.ensure_available(ds, cfg.data_path)
    provenance.configure_torch(config.device_of(cfg))  # before the first CUDA call
    return cfg


@contextlib.contextmanager
def progress_bar(total: int, desc: str):
    """A tqdm.auto bar (a widget in JupyterLab) for a `with` block, closed however the block
    ends: a bar never closed stays frozen part-way in JupyterLab. A finished bar disappears
    (leave=False); an interrupted one stays, red. None in headless runs (the CLI and tests set
    WEEDOUT_QUIET) and when there is nothing to do."""
    if os.environ.get("WEEDOUT_QUIET") or total == 0:
        yield None
        return
    from tqdm.auto import tqdm
    with tqdm(total=total, desc=desc, leave=False) as bar:
        yield bar


@functools.lru_cache(maxsize=4)
def _dataset(name: str, root: str, device: str):
    return data.load_dataset(name, root, device=device)


def _setup(cfg: Config, ds: str, model: str):
    provenance.configure_torch(config.device_of(cfg))  # also for callers that skip configure()
    dset = _dataset(ds, str(cfg.data_path), config.device_of(cfg))
    arch = models.arch_for(model, dset.in_shape, dset.n_classes, cfg.mlp_widths, cfg.cnn_channels)
    return dset, arch


def _parent(arch, ds: str, model: str, seed: int, device: str) -> list[torch.Tensor]:
    return [p.to(device) for p in models.init_parent(arch, derive_seed(seed, "parent", ds, model))]


def _scoring_batch(cfg: Config, dset, seed: int):
    """The fixed scoring batch of a seed: drawn once from the training split."""
    g = torch.Generator().manual_seed(derive_seed(seed, "score-batch", dset.name))
    idx = torch.randperm(dset.x_train.shape[0], generator=g)[:cfg.score_batch].to(dset.x_train.device)
    return dset.x_train[idx], dset.y_train[idx]


def _search_key(ds, model, s, seed) -> str:
    return trials.key((ds, model, s, seed))


def execute(cfg: Config, phase: str, todo: list, bar=None) -> int:
    """Compute the trials `todo` of a phase ("search" or "train") that have no record, under
    per-trial claims: what one worker does, serially or as one of many (`weedout.executors`)."""
    store = Store(cfg.results_path, cfg.digest())
    if phase == "search":
        return trials.execute(store, phase, todo,
                              lambda mine, save: _search_trials(cfg, mine, save, bar))
    return trials.execute(store, phase, todo, lambda mine, save: _train_trials(cfg, mine, save, bar))


def run_search(cfg: Config) -> pd.DataFrame:
    """Phase 1 for every (dataset, model, sparsity, seed); writes search.csv."""
    t0, computed = time.time(), 0
    store = Store(cfg.results_path, cfg.digest())
    outputs = [cfg.results_path / "search.csv", cfg.results_path / "config.json"]
    if _methods(cfg):
        outputs.append(cfg.results_path / "cost.csv")
    if cfg.variants:
        outputs.append(cfg.results_path / "variants.csv")
    with exclusive(cfg.results_path):
        before = file_digests(outputs)
        atomic_write(cfg.results_path / "config.json",
                     json.dumps({"digest": cfg.digest(), **cfg.to_dict()}, indent=1, default=list))
        todo = trials.missing(store, "search", trials.plan(cfg, "search"))
        with progress_bar(len(todo), "search") as bar:
            computed = execute(cfg, "search", todo, bar)
        table = search_table(cfg, store)
        write_csv(table, cfg.results_path / "search.csv")
        if _methods(cfg):
            write_csv(cost_table(cfg, store), cfg.results_path / "cost.csv")
        if cfg.variants:
            write_csv(budget.table(cfg, _search_records(cfg, store)),
                      cfg.results_path / "variants.csv")
        record_stage(cfg, "search", time.time() - t0, computed, store, "search",  # in the lock
                     changed=computed > 0 or file_digests(outputs) != before)
    return table


def _search_trials(cfg: Config, todo: list, save, bar) -> None:
    """Search every (dataset, model, sparsity, seed) of `todo`, saving each as it finishes."""
    for ds, model, seed in dict.fromkeys((ds, m, seed) for ds, m, _, seed in todo):
        dset, arch = _setup(cfg, ds, model)
        parent = _parent(arch, ds, model, seed, dset.x_train.device)
        x, y = _scoring_batch(cfg, dset, seed)
        score = search.scorer(arch, parent, x, y, kind=cfg.score)
        # A variant's scorer (its own score kind or scoring batch) and budget, built once per seed
        varied = {v: _variant_scorer(cfg, v, dset, seed, arch, parent, x, y, score)
                  for v in cfg.variants}

        def searched(name: str, s: float, *stream, budget=cfg.candidates, scoring=(x, y, score)):
            g = torch.Generator().manual_seed(derive_seed(seed, *stream, ds, model, s))
            (sx, sy, sscore) = scoring
            ctx = search.context(arch, parent, sx, sy, s, budget, g, sscore)
            ctx.evaluate = score   # what saliency methods and variants report: the main score
            return search.run(search.STRATEGIES[name], ctx)

        for s in [s for d, m, s, sd in todo if (d, m, sd) == (ds, model, seed)]:
            found, cost = searched(cfg.strategy, s, "search")
            control = masks.sample(arch.widths, s, 1, torch.Generator().manual_seed(
                derive_seed(seed, "random", ds, model, s)))
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
                "weedout": masks.to_lists(found.best), "random": masks.to_lists(control),
                "random_score": float(score(control)[0]),
                "parent_score": float(score(masks.full(arch.widths))[0]),
                "cost": cost, "comparators": others})
            if bar is not None:
                bar.update(1)


def _variant_scorer(cfg: Config, name: str, dset, seed: int, arch, parent, x, y, score):
    """(budget, (x, y, score)) of a variant: the main search's with its one setting changed
    (a smaller scoring batch is a prefix of the main one: the same permutation)."""
    key, value = config.variant(name)
    if key == "candidates":
        return value, (x, y, score)
    vcfg = dataclasses.replace(cfg, **{key: value})
    vx, vy = _scoring_batch(vcfg, dset, seed)
    return cfg.candidates, (vx, vy, search.scorer(arch, parent, vx, vy, kind=vcfg.score))


def _search_record(store: Store, ds: str, model: str, s: float, seed: int) -> dict:
    """A finished search trial, or an error saying which one is missing and what to run."""
    rec = store.load("search", _search_key(ds, model, s, seed))
    if rec is None:
        raise MissingStageError(f"no search record for {ds}/{model} sparsity {s} seed {seed} "
                                f"under {store.root}: run notebooks/01_search first")
    return rec


def _search_records(cfg: Config, store: Store) -> list[dict]:
    return [_search_record(store, ds, model, s, seed) for ds, model in config.cells(cfg)
            for s in cfg.sparsities for seed in cfg.seeds]


def search_table(cfg: Config, store: Store) -> pd.DataFrame:
    rows = []
    for rec in _search_records(cfg, store):
        rows += [{"dataset": rec["dataset"], "model": rec["model"], "sparsity": rec["sparsity"],
                  "seed": rec["seed"], "candidate": i, "score": sc, "chosen": i == rec["best_index"]}
                 for i, sc in enumerate(rec["scores"])]
    return pd.DataFrame(rows)


def _methods(cfg: Config) -> tuple[str, ...]:
    """The methods trained beside weedout and random (comparators, variants, then controls)."""
    return (*cfg.comparators, *cfg.variants, *cfg.controls)


def cost_table(cfg: Config, store: Store) -> pd.DataFrame:
    """One row per searched network: forward/backward passes of one network, their FLOPs
    (`weedout.compute`; NaN in records from before FLOPs were counted) and seconds; the random
    control draws its mask without looking at the network (no passes)."""
    rows = []
    for ds, model in config.cells(cfg):
        for s in cfg.sparsities:
            for seed in cfg.seeds:
                rec = _search_record(store, ds, model, s, seed)
                costs = {"weedout": rec.get("cost"), "random": {"forward": 0, "backward": 0,
                                                                "flops": 0, "seconds": 0.0},
                         **{n: c.get("cost") for n, c in rec.get("comparators", {}).items()}}
                rows += [{"dataset": ds, "model": model, "sparsity": s, "seed": seed, "method": m,
                          **{k: (c or {}).get(k, float("nan")) for k in compute.SEARCH_COST}}
                         for m, c in costs.items()]
    return pd.DataFrame(rows)


def _cell_networks(cfg: Config, store: Store, ds: str, model: str, s: float | None, seeds=None):
    """The networks of one training cell: (method, seed, keep) for each seed (default: every
    seed of the config); s=None: dense. Controls take the random mask (`scratch` only its
    widths: it is re-initialised)."""
    seeds = cfg.seeds if seeds is None else seeds
    if s is None:
        return [("dense", seed, None) for seed in seeds]
    nets = []
    for seed in seeds:
        rec = _search_record(store, ds, model, s, seed)
        nets += [("weedout", seed, masks.from_lists(rec["weedout"])),
                 ("random", seed, masks.from_lists(rec["random"]))]
        for name in (*cfg.comparators, *cfg.variants):
            if name not in rec.get("comparators", {}):
                raise MissingStageError(f"the search record of {ds}/{model} sparsity {s} seed "
                                        f"{seed} has no {name!r}: rerun notebooks/01_search")
            nets.append((name, seed, masks.from_lists(rec["comparators"][name]["keep"])))
        nets += [(name, seed, masks.from_lists(rec["random"])) for name in cfg.controls]
    return nets


def _apply_controls(nets, arch, carch, params, ds: str, model: str, s) -> None:
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
    dset, arch = _setup(cfg, ds, model)
    dev = dset.x_train.device
    nets = _cell_networks(cfg, Store(cfg.results_path, cfg.digest()), ds, model, s, seeds)
    seeds = [seed for _, seed, _ in nets]
    unique = sorted(set(seeds))
    parents = models.stack([_parent(arch, ds, model, seed, dev) for seed in unique])
    keep = masks.cat([k if k is not None else masks.full(arch.widths) for _, _, k in nets])
    carch, params = models.compact(arch, parents, keep,
                                   torch.tensor([unique.index(sd) for sd in seeds]))
    _apply_controls(nets, arch, carch, params, ds, model, s)
    # Each network's loss at initialisation on its seed's scoring batch: for weedout networks
    # this must equal the winning search score (checked by a test).
    xs, ys = zip(*[_scoring_batch(cfg, dset, seed) for seed in seeds])
    with torch.no_grad():
        init = search._per_candidate(models.forward(carch, params, torch.stack(xs)),
                                     torch.stack(ys), cfg.score)
    t0 = time.perf_counter()
    hist = train_stack(carch, params, dset, seeds, Schedule(
        cfg.epochs, cfg.batch_size, cfg.lr, cfg.momentum, cfg.weight_decay), progress)
    seconds = time.perf_counter() - t0
    train_flops = compute.training_flops(carch, cfg.epochs, dset.x_train.shape[0],
                                         dset.x_test.shape[0])
    n_params, flops = models.count(carch)
    dense_params, dense_flops = models.count(arch)
    out = []
    for m, (method, seed, _) in enumerate(nets):
        div = int(hist["diverged_epoch"][m])
        curves = {k: hist[k][:, m].tolist() for k in CURVE_COLUMNS}
        out.append({"method": method, "seed": seed, "init_score": float(init[m]),
                    "widths": list(carch.widths), "params": n_params, "flops": flops,
                    "node_sparsity": 1 - sum(carch.widths) / sum(arch.widths),
                    "param_sparsity": 1 - n_params / dense_params,
                    "flop_sparsity": 1 - flops / dense_flops, "train_flops": train_flops,
                    "diverged_epoch": div if div >= 0 else None, "curves": curves})
    return {"dataset": ds, "model": model, "sparsity": 0.0 if s is None else s,
            "epochs": cfg.epochs, "device": str(dev), "networks": out,
            # the stack's wall time and size: a network's share is seconds / stacked
            "seconds": seconds, "stacked": len(nets)}


def _train_trials(cfg: Config, todo: list, save, bar) -> None:
    """Train the trials of one level (one group: same dataset, model, sparsity) as one stacked
    model and save one record per seed (README: whether stacking changes the numbers)."""
    (ds, model, s, _), seeds = todo[0], [t[3] for t in todo]
    level = train_cell(cfg, ds, model, s, progress=bar, seeds=seeds)
    for seed in seeds:
        save((ds, model, s, seed), {**{k: v for k, v in level.items() if k != "networks"},
                                    "seed": seed,
                                    "networks": [n for n in level["networks"] if n["seed"] == seed]})


def _train_cells(cfg: Config):
    return [(ds, m, s) for ds, m in config.cells(cfg) for s in (None, *cfg.sparsities)]


def run_training(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Phase 2 for every cell (dense once per dataset x model); writes accuracy.csv, curves.csv
    and compute.csv (`weedout.compute`: each network's search and training FLOPs and seconds)."""
    t0, computed = time.time(), 0
    store = Store(cfg.results_path, cfg.digest())
    outputs = [cfg.results_path / f"{n}.csv" for n in ("accuracy", "curves", "compute")]
    with exclusive(cfg.results_path):
        for ds, m, s in _train_cells(cfg):  # fail now, not after an hour, if 01 was not run
            _cell_networks(cfg, store, ds, m, s)
        todo = trials.missing(store, "train", trials.plan(cfg, "train"))
        before = file_digests(outputs)
        levels = len(trials.groups("train", todo))
        with progress_bar(levels * cfg.epochs, "training") as bar:
            computed = execute(cfg, "train", todo, bar)
        accuracy, curves = training_tables(cfg, store)
        write_csv(accuracy, outputs[0])
        write_csv(curves, outputs[1])
        write_csv(compute.table(cost_table(cfg, store), _train_records(cfg, store)), outputs[2])
        record_stage(cfg, "training", time.time() - t0, computed, store, "train",  # in the lock
                     changed=computed > 0 or file_digests(outputs) != before)
    return accuracy, curves


def _train_records(cfg: Config, store: Store) -> list[dict]:
    out = []
    for trial in trials.plan(cfg, "train"):
        rec = store.load("train", trials.key(trial))
        if rec is None:
            raise MissingStageError(f"no training record for {trial}: run notebooks/02_training")
        out.append(rec)
    return out


def training_tables(cfg: Config, store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    acc, cur = [], []
    for rec in _train_records(cfg, store):
        for net in rec["networks"]:
            keys = {"dataset": rec["dataset"], "model": rec["model"], "sparsity": rec["sparsity"],
                    "method": net["method"], "seed": net["seed"]}
            c = net["curves"]
            diverged = net["diverged_epoch"] is not None
            final = {k: (float("nan") if diverged else c[k][-1]) for k in CURVE_COLUMNS}
            acc.append({**keys, **final, "init_score": net["init_score"],
                        "widths": "-".join(map(str, net["widths"])), "params": net["params"],
                        "flops": net["flops"], "node_sparsity": net["node_sparsity"],
                        "param_sparsity": net["param_sparsity"],
                        "flop_sparsity": net["flop_sparsity"], "diverged": diverged,
                        "diverged_epoch": net["diverged_epoch"], "epochs": rec["epochs"],
                        "device": rec["device"],  # cells resumed on another device show here
                        "config_digest": cfg.digest()})
            cur += [{**keys, "epoch": e, **{k: c[k][e] for k in CURVE_COLUMNS}}
                    for e in range(len(c["test_acc"]))]
    return pd.DataFrame(acc), pd.DataFrame(cur)


def run_analysis(cfg: Config) -> pd.DataFrame:
    """Statistics per dataset x model x sparsity from accuracy.csv and curves.csv -> stats.csv."""
    from . import comparison, stats
    t0 = time.time()
    out = [cfg.results_path / "stats.csv"] + ([cfg.results_path / "methods.csv"]
                                              if _methods(cfg) else [])
    with exclusive(cfg.results_path):  # refuse a second process, as the other stages do
        accuracy = read_table(cfg, "accuracy.csv", "notebooks/02_training")
        table = stats.compute_stats(accuracy, read_table(cfg, "curves.csv", "notebooks/02_training"),
                                    margin=cfg.equivalence_margin)
        before = file_digests(out)
        write_csv(table, out[0])
        if _methods(cfg):  # every comparator and control vs random (weedout.comparison)
            write_csv(comparison.compare_methods(
                accuracy, read_table(cfg, "cost.csv", "notebooks/01_search"),
                margin=cfg.equivalence_margin), out[1])
        record_stage(cfg, "analysis", time.time() - t0, 0, changed=file_digests(out) != before)
    return table


def methods_summary(cfg: Config) -> pd.DataFrame | None:
    """One line per dataset x model x method of a run with comparators or controls: verdict
    counts vs random over the levels, smallest Holm p, mean difference, search cost (from
    methods.csv); None for a run without them."""
    from . import comparison
    if not _methods(cfg):
        return None
    return comparison.summary(read_table(cfg, "methods.csv", "notebooks/03_analysis"))


def _compute(cfg: Config) -> pd.DataFrame | None:
    """compute.csv where its FLOPs were recorded (runs from before: None)."""
    path = cfg.results_path / "compute.csv"
    if not path.exists():
        return None
    table = read_table(cfg, "compute.csv", "notebooks/02_training")
    return table if table["total_flops"].notna().any() else None


def budget_summary(cfg: Config) -> pd.DataFrame | None:
    """Per dataset x model x method of a run with variants: the winner's loss below the random
    control's, and how often it is below (`weedout.budget.summary`); None without variants."""
    if not cfg.variants:
        return None
    return budget.summary(read_table(cfg, "variants.csv", "notebooks/01_search"))


def compute_summary(cfg: Config) -> pd.DataFrame | None:
    """Per dataset x model x method: mean search and training GFLOPs, the search's share of
    the total, seconds and accuracy (`weedout.compute.summary`); None before FLOPs were
    recorded."""
    table = _compute(cfg)
    return None if table is None else compute.summary(table)


def run_figures(cfg: Config, show: bool = False) -> list:
    """Every figure (PNG and PDF) and the main table (Markdown and LaTeX) into FIGURES_DIR."""
    import matplotlib.pyplot as plt

    from . import comparison, plotting, tables
    t0 = time.time()
    with exclusive(cfg.results_path):  # refuse a second process, as the other stages do
        plotting.set_style()
        stats_df = read_table(cfg, "stats.csv", "notebooks/03_analysis")
        accuracy = read_table(cfg, "accuracy.csv", "notebooks/02_training")
        figures = {"accuracy_vs_sparsity": plotting.plot_accuracy_vs_sparsity(stats_df),
                   "learning_curves": plotting.plot_learning_curves(
                       read_table(cfg, "curves.csv", "notebooks/02_training")),
                   "search": plotting.plot_search(read_table(cfg, "search.csv", "notebooks/01_search"),
                                                  accuracy)}
        tabled = {"main_table": (stats_df, tables.main_table)}
        if _methods(cfg):
            methods = read_table(cfg, "methods.csv", "notebooks/03_analysis")
            figures["methods_vs_sparsity"] = comparison.plot_methods(
                methods, accuracy[accuracy.method == "dense"])
            tabled["methods_table"] = (methods, comparison.methods_table)
        if cfg.variants:
            figures["budget"] = budget.plot(
                read_table(cfg, "variants.csv", "notebooks/01_search"), methods, stats_df)
        if (compute_table := _compute(cfg)) is not None:
            figures["compute"] = compute.plot(compute_table)
        outputs = [cfg.figures_path / f"{name}.{ext}" for name in figures for ext in ("png", "pdf")]
        outputs += [cfg.figures_path / f"{name}.{ext}" for name in tabled for ext in ("md", "tex")]
        before = file_digests(outputs)
        written = []
        for name, fig in figures.items():
            written += plotting.savefig(fig, name, cfg.figures_path)
        if show:      # inline in a notebook (and into papermill's output notebook)
            plt.show()
        for fig in figures.values():
            plt.close(fig)
        for name, (df, build) in tabled.items():
            written += tables.write_tables(df, cfg.figures_path, name, build)
        record_stage(cfg, "figures", time.time() - t0, 0,
                     changed=file_digests(outputs) != before)
    return written
