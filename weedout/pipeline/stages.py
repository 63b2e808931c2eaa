"""The four stages the notebooks call: search -> training -> analysis -> figures.

Each stage reads what the previous one wrote under the run's results folder, skips every trial
whose record already exists (so a rerun does no work and an interrupted run resumes), and
rebuilds its tables from the records of the current config only. Search and training are
plan -> execute -> reduce: `trials.plan` lists the trials, `execute` computes the missing ones
as one worker under per-trial claims (executors.py runs more workers through the same function;
what a group of trials computes is in cells.py), and the stage writes its tables from the
records (reduce.py).
"""
from __future__ import annotations

import contextlib
import json
import os
import time

import pandas as pd

from .. import config, data
from ..analysis import comparison, cost, stats
from ..axes import search_every, variants, widths
from ..config import Config
from ..viz import methods as methods_viz, plotting, tables
from . import provenance, trials
from .lock import exclusive
from .record_tables import (cost_table, search_records, search_table, trained_methods,
                            train_records, training_tables)
from .records import Store, atomic_write, file_digests, write_csv
from .run_record import read_table, record_stage
from .workers import cell_networks, search_trials, train_trials


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


def _write(cfg: Config, df: pd.DataFrame, path) -> None:
    """Every table of a stage, with `width` and `parent` columns in a run with WIDTHS."""
    write_csv(widths.tag(cfg, df), path)


def run_all(cfg: Config) -> pd.DataFrame:
    """The four stages in this process, as the notebooks run them (no papermill, no executed
    notebooks): what a script or a test uses; returns accuracy.csv's table."""
    run_search(cfg)
    accuracy, _ = run_training(cfg)
    run_analysis(cfg)
    run_figures(cfg)
    return accuracy


def execute(cfg: Config, phase: str, todo: list, bar=None) -> int:
    """Compute the trials `todo` of a phase ("search" or "train") that have no record, under
    per-trial claims: what one worker does, serially or as one of many (`weedout.executors`)."""
    store = Store(cfg.results_path, cfg.digest())
    if phase == "search":
        return trials.execute(store, phase, todo,
                              lambda mine, save: search_trials(cfg, mine, save, bar))
    return trials.execute(store, phase, todo, lambda mine, save: train_trials(cfg, mine, save, bar))


def run_search(cfg: Config) -> pd.DataFrame:
    """Phase 1 for every (dataset, model, sparsity, seed); writes search.csv."""
    t0, computed = time.time(), 0
    store = Store(cfg.results_path, cfg.digest())
    outputs = [cfg.results_path / "search.csv", cfg.results_path / "config.json"]
    if trained_methods(cfg):
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
        _write(cfg, table, cfg.results_path / "search.csv")
        if trained_methods(cfg):
            _write(cfg, cost_table(cfg, store), cfg.results_path / "cost.csv")
        if cfg.variants:
            _write(cfg, variants.table(cfg, search_records(cfg, store)),
                      cfg.results_path / "variants.csv")
        record_stage(cfg, "search", time.time() - t0, computed, store, "search",  # in the lock
                     changed=computed > 0 or file_digests(outputs) != before)
    return table


def _train_cells(cfg: Config):
    return [(ds, m, s) for ds, m in config.cells(cfg) for s in (None, *cfg.sparsities)]


def run_training(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Phase 2 for every cell (dense once per dataset x model); writes accuracy.csv, curves.csv
    and compute.csv (`weedout.compute`: each network's search and training FLOPs and seconds)."""
    t0, computed = time.time(), 0
    store = Store(cfg.results_path, cfg.digest())
    outputs = [cfg.results_path / f"{n}.csv" for n in ("accuracy", "curves", "compute")]
    outputs += [cfg.results_path / "researches.csv"] if cfg.search_every else []
    with exclusive(cfg.results_path):
        for ds, m, s in _train_cells(cfg):  # fail now, not after an hour, if 01 was not run
            cell_networks(cfg, store, ds, m, s)
        todo = trials.missing(store, "train", trials.plan(cfg, "train"))
        before = file_digests(outputs)
        levels = len(trials.groups("train", todo))
        with progress_bar(levels * cfg.epochs, "training") as bar:
            computed = execute(cfg, "train", todo, bar)
        records = train_records(cfg, store)  # loaded once for all three tables
        accuracy, curves = training_tables(cfg, store, records)
        _write(cfg, accuracy, outputs[0])
        _write(cfg, curves, outputs[1])
        _write(cfg, cost.table(cost_table(cfg, store), records), outputs[2])
        if cfg.search_every:  # one row per re-search (weedout.throughout)
            _write(cfg, search_every.researches_table(records), outputs[3])
        record_stage(cfg, "training", time.time() - t0, computed, store, "train",  # in the lock
                     changed=computed > 0 or file_digests(outputs) != before)
    return accuracy, curves


def run_analysis(cfg: Config) -> pd.DataFrame:
    """Statistics per dataset x model x sparsity from accuracy.csv and curves.csv -> stats.csv."""
    t0 = time.time()
    out = [cfg.results_path / "stats.csv"] + ([cfg.results_path / "methods.csv"]
                                              if trained_methods(cfg) else [])
    out += [cfg.results_path / f"{n}.csv" for n in ("widths", "pools") if cfg.widths]
    out += [cfg.results_path / "throughout.csv"] if cfg.search_every else []
    with exclusive(cfg.results_path):  # refuse a second process, as the other stages do
        accuracy = read_table(cfg, "accuracy.csv", "notebooks/02_training")
        table = stats.compute_stats(accuracy, read_table(cfg, "curves.csv", "notebooks/02_training"),
                                    margin=cfg.equivalence_margin)
        before = file_digests(out)
        _write(cfg, table, out[0])
        if trained_methods(cfg):  # every comparator and control vs random (weedout.comparison)
            _write(cfg, comparison.compare_methods(
                accuracy, read_table(cfg, "cost.csv", "notebooks/01_search"),
                margin=cfg.equivalence_margin), out[1])
        if cfg.search_every:  # moving masks vs their fixed twins (weedout.throughout)
            _write(cfg, search_every.effect(accuracy, margin=cfg.equivalence_margin),
                   cfg.results_path / "throughout.csv")
        if cfg.widths:  # the overparameterization views (weedout.overparam)
            by_width = widths.table(cfg, table, accuracy)
            write_csv(by_width, cfg.results_path / "widths.csv")
            write_csv(widths.pool_tests(cfg, by_width, accuracy), cfg.results_path / "pools.csv")
        record_stage(cfg, "analysis", time.time() - t0, 0, changed=file_digests(out) != before)
    return table


def methods_summary(cfg: Config) -> pd.DataFrame | None:
    """One line per dataset x model x method of a run with comparators or controls: verdict
    counts vs random over the levels, smallest Holm p, mean difference, search cost (from
    methods.csv); None for a run without them."""
    if not trained_methods(cfg):
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
    return variants.summary(read_table(cfg, "variants.csv", "notebooks/01_search"))


def widths_summary(cfg: Config, level: float = 0.8) -> pd.DataFrame | None:
    """Per dataset x parent width of a run with WIDTHS: accuracy and random's drop versus dense
    at `level` (`weedout.overparam.summary`); None without a widths axis."""
    if not cfg.widths:
        return None
    return widths.summary(read_table(cfg, "widths.csv", "notebooks/03_analysis"), level)


def pool_summary(cfg: Config) -> pd.DataFrame | None:
    """pools.csv of a run with WIDTHS (the same final network from the widest vs the narrowest
    parent, `weedout.overparam.pool_tests`); None without a widths axis."""
    if not cfg.widths:
        return None
    pools = read_table(cfg, "pools.csv", "notebooks/03_analysis")
    return pools[["dataset", "base", "kept", "method", "small_parent", "large_parent",
                  "mean_small", "mean_large", "diff_mean", "diff_ci_low", "diff_ci_high",
                  "p_holm", "verdict"]] if len(pools) else pools


def throughout_summary(cfg: Config) -> pd.DataFrame | None:
    """Per dataset x model x method of a run that searches throughout training: how often a
    re-search moved nodes, and moving vs fixed-twin verdicts over the levels; None otherwise."""
    if not cfg.search_every:
        return None
    return search_every.summary(read_table(cfg, "researches.csv", "notebooks/02_training"),
                              read_table(cfg, "throughout.csv", "notebooks/03_analysis"))


def compute_summary(cfg: Config) -> pd.DataFrame | None:
    """Per dataset x model x method: mean search and training GFLOPs, the search's share of
    the total, seconds and accuracy (`weedout.compute.summary`); None before FLOPs were
    recorded."""
    table = _compute(cfg)
    return None if table is None else cost.summary(table)


def run_figures(cfg: Config, show: bool = False) -> list:
    """Every figure (PNG and PDF) and the main table (Markdown and LaTeX) into FIGURES_DIR."""
    import matplotlib.pyplot as plt

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
        if trained_methods(cfg):
            methods = read_table(cfg, "methods.csv", "notebooks/03_analysis")
            figures["methods_vs_sparsity"] = methods_viz.plot_methods(
                methods, accuracy[accuracy.method == "dense"])
            tabled["methods_table"] = (methods, methods_viz.methods_table)
        if cfg.variants:
            figures["budget"] = variants.plot(
                read_table(cfg, "variants.csv", "notebooks/01_search"), methods, stats_df)
        if cfg.search_every:
            figures["throughout"] = search_every.plot(
                read_table(cfg, "throughout.csv", "notebooks/03_analysis"))
        if cfg.widths:
            figures["overparam"] = widths.plot(
                read_table(cfg, "widths.csv", "notebooks/03_analysis"))
        if (compute_table := _compute(cfg)) is not None:
            figures["compute"] = methods_viz.plot_compute(compute_table)
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
