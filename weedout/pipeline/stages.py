"""The four stages the notebooks call: search -> training -> analysis -> figures.

Each stage reads what the previous one wrote under the run's results folder, skips every trial
whose record already exists (so a rerun does no work and an interrupted run resumes), and
rebuilds its tables from the records of the current config only. Search and training are
plan -> execute -> reduce: `trials.plan` lists the trials, `execute` computes the missing ones
as one worker under per-trial claims (weedout.cluster.executors runs more workers through the
same function; what a group of trials computes is in workers.py), and the stage writes its
tables from the records (record_tables.py). Every stage loops over the run's active axes
(weedout.axes) for what they add: tables, figures and summaries.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass

import pandas as pd

from .. import config, data
from ..analysis import stats
from ..axes import registry
from ..config import Config
from ..viz import plotting, tables
from . import coverage, provenance, trials
from .lock import exclusive
from .record_tables import search_records, search_table, train_records, training_tables
from .records import Store, atomic_write, file_digests, write_csv
from .run_record import read_table, record_stage
from .workers import cell_networks, search_trials, train_trials


def configure(PRESET: str | None = None, **params) -> Config:
    """Validate notebook/CLI parameters and every axis's settings and check the datasets can be
    had, before any work. PRESET None: WEEDOUT_PRESET, else notebooks/preset.txt, else smoke
    (`config.default_preset`)."""
    cfg = config.resolve(PRESET, **params)
    registry.validate(cfg)
    for ds in cfg.datasets:
        data.ensure_available(ds, cfg.data_path)
    provenance.configure_torch(config.device_of(cfg))  # before the first CUDA call
    return cfg


def notebook_config(namespace: dict) -> Config:
    """The Config of a notebook's parameter cell: PRESET and the parameters of
    `config.PARAMETERS` found in `namespace` (the notebook's globals(), papermill's injected
    values included), validated by `configure`; prints one line saying what will run."""
    cfg = configure(namespace.get("PRESET"), **{k: namespace.get(k) for k in config.PARAMETERS})
    print(f"preset {cfg.preset} | digest {cfg.digest()} | datasets {cfg.datasets} | "
          f"sparsities {cfg.sparsities} | seeds {cfg.seeds} | candidates {cfg.candidates} | "
          f"epochs {cfg.epochs} | results {cfg.results_path}")
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
    from tqdm.auto import tqdm  # late: only a run with something to show imports it
    with tqdm(total=total, desc=desc, leave=False) as bar:
        yield bar


def reader(cfg: Config):
    """read(name): a table of an earlier stage of this run (`run_record.read_table`)."""
    return lambda name: read_table(cfg, name)


def _write(cfg: Config, written: dict[str, pd.DataFrame]) -> None:
    """A stage's tables, each with the columns the run's axes add (`Axis.tag`)."""
    for name, df in written.items():
        for axis in registry.active(cfg):
            df = axis.tag(cfg, df)
        write_csv(df, cfg.results_path / name)


def _outputs(cfg: Config, stage: str) -> list:
    return [cfg.results_path / name for name in registry.tables(cfg, stage)]


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
    per-trial claims: what one worker does, serially or as one of many (weedout.cluster)."""
    store = Store(cfg.results_path, cfg.digest())
    work = search_trials if phase == "search" else train_trials
    return trials.execute(store, phase, todo, lambda mine, save: work(cfg, mine, save, bar))


def run_search(cfg: Config) -> pd.DataFrame:
    """Phase 1 for every (dataset, model, sparsity, seed); writes search.csv (and the tables
    of the run's axes from the search records)."""
    t0 = time.time()
    store = Store(cfg.results_path, cfg.digest())
    outputs = _outputs(cfg, "search") + [cfg.results_path / "config.json"]
    with exclusive(cfg.results_path):
        before = file_digests(outputs)
        atomic_write(cfg.results_path / "config.json",
                     json.dumps({"digest": cfg.digest(), **cfg.to_dict()}, indent=1, default=list))
        todo = trials.missing(store, "search", trials.plan(cfg, "search"))
        with progress_bar(len(todo), "search") as bar:
            computed = execute(cfg, "search", todo, bar)
        records = search_records(cfg, store)
        written = {"search.csv": search_table(records)}
        for axis in registry.active(cfg):
            written.update(axis.search_tables(cfg, records))
        _write(cfg, written)
        record_stage(cfg, "search", time.time() - t0, computed, store, "search",  # in the lock
                     changed=computed > 0 or file_digests(outputs) != before)
    return written["search.csv"]


def run_training(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Phase 2 for every cell (dense once per dataset x model); writes accuracy.csv and
    curves.csv (and the tables of the run's axes, e.g. compute.csv: each network's search and
    training FLOPs and seconds)."""
    t0 = time.time()
    store = Store(cfg.results_path, cfg.digest())
    outputs = _outputs(cfg, "training")
    with exclusive(cfg.results_path):
        for ds, m in config.cells(cfg):  # fail now, not after an hour, if 01 was not run
            for s in (None, *cfg.sparsities):
                cell_networks(cfg, store, ds, m, s)
        todo = trials.missing(store, "train", trials.plan(cfg, "train"))
        before = file_digests(outputs)
        levels = len(trials.groups("train", todo))
        with progress_bar(levels * cfg.epochs, "training") as bar:
            computed = execute(cfg, "train", todo, bar)
        records = train_records(cfg, store)  # loaded once for every table
        accuracy, curves = training_tables(cfg, store, records)
        written = {"accuracy.csv": accuracy, "curves.csv": curves}
        searches = search_records(cfg, store)
        for axis in registry.active(cfg):
            written.update(axis.training_tables(cfg, searches, records))
        _write(cfg, written)
        record_stage(cfg, "training", time.time() - t0, computed, store, "train",  # in the lock
                     changed=computed > 0 or file_digests(outputs) != before)
    return accuracy, curves


def run_analysis(cfg: Config) -> pd.DataFrame:
    """Statistics per dataset x model x sparsity from accuracy.csv and curves.csv -> stats.csv,
    and the analysis tables of the run's axes (e.g. methods.csv: every method vs random).
    Refuses, before any work, tables of another grid than `cfg` asks for (`coverage`)."""
    t0 = time.time()
    out = _outputs(cfg, "analysis")
    read = reader(cfg)
    with exclusive(cfg.results_path):  # refuse a second process, as the other stages do
        accuracy = coverage.read(cfg, "03_analysis")["accuracy.csv"]
        table = stats.compute_stats(accuracy, read("curves.csv"), margin=cfg.equivalence_margin)
        before = file_digests(out)
        _write(cfg, {"stats.csv": table})
        for axis in registry.active(cfg):  # in order: an axis may read an earlier one's table
            _write(cfg, axis.analysis_tables(cfg, read, table))
        record_stage(cfg, "analysis", time.time() - t0, 0, changed=file_digests(out) != before)
    return table


@dataclass
class Summary:
    """One axis's part of 03_analysis: its heading, what it shows, and its tables."""
    axis: str
    title: str
    about: str
    tables: list


def summaries(cfg: Config) -> list[Summary]:
    """What each of the run's axes shows in 03_analysis (an axis with nothing to show, none)."""
    read, out = reader(cfg), []
    for axis in registry.active(cfg):
        shown = axis.summary(cfg, read)
        if shown:
            out.append(Summary(axis.name, axis.title, axis.about, shown))
    return out


def summary(cfg: Config, axis: str) -> list | None:
    """One axis's summary tables ((caption, table) pairs), or None if the run lacks it."""
    return next((s.tables for s in summaries(cfg) if s.axis == axis), None)


def run_figures(cfg: Config, show: bool = False) -> list:
    """Every figure (PNG and PDF) and the main table (Markdown and LaTeX) into FIGURES_DIR.
    Refuses, before any work, tables of another grid than `cfg` asks for (`coverage`)."""
    import matplotlib.pyplot as plt  # late: pyplot starts a backend, only drawing needs it
    t0 = time.time()
    read = reader(cfg)
    with exclusive(cfg.results_path):  # refuse a second process, as the other stages do
        checked = coverage.read(cfg, "04_figures")
        stats_df, accuracy = checked["stats.csv"], checked["accuracy.csv"]
        plotting.set_style()
        figures = {"accuracy_vs_sparsity": plotting.plot_accuracy_vs_sparsity(stats_df),
                   "learning_curves": plotting.plot_learning_curves(read("curves.csv")),
                   "search": plotting.plot_search(checked["search.csv"], accuracy)}
        tabled = {"main_table": (stats_df, tables.main_table)}
        for axis in registry.active(cfg):
            figures.update(axis.figures(cfg, read))
            tabled.update(axis.text_tables(cfg, read))
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
