"""Which grid the tables on disk hold, and the refusal when 03_analysis or 04_figures is asked
for another one.

03 and 04 work on the tables 01 and 02 wrote into the results folder, and those hold the grid
of the last run that wrote them. Without this check, `--seeds 3` and then `--seeds 2
--sparsities 0.5 --only 03_analysis,04_figures` showed n = 3 and the levels 0.5 and 0.9 without
a word. We chose to *refuse* (not to analyse the asked subset): a subset would silently drop
trials that 01/02 computed and give stats.csv and the figures a grid that no run of 01/02 made,
while the refusal says in one line what is on disk, what was asked and which command makes the
asked grid. The check compares the grid's four parameters (DATASETS, MODELS, SPARSITIES, SEEDS)
and runs before any work: in the stages, and in `python -m weedout` before the first notebook
when the command does not itself write the tables (`--only 03_analysis,04_figures`).
"""
from __future__ import annotations

import pandas as pd

from .. import config
from ..analysis import stats
from .run_record import read_table

# The tables each stage reads (and checks), and the notebook that writes each of them. Read in
# this order: the stage's own input first, so that a missing one names the notebook before it.
READS = {"03_analysis": ("accuracy.csv",),
         "04_figures": ("stats.csv", "accuracy.csv", "search.csv")}
WRITER = {"search.csv": "01_search", "accuracy.csv": "02_training", "stats.csv": "03_analysis"}


class GridMismatchError(ValueError):
    """The tables on disk hold another grid than the one asked for. One line in a notebook
    (as `MissingStageError`): the message says everything, the traceback nothing."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for an exception's own traceback
        return [f"{type(self).__name__}: {self}"]


def asked(cfg: config.Config, counted: bool = False) -> dict:
    """The grid a Config asks for, by parameter name (`counted`: SEEDS as a count, which is
    all a stats table can be compared on)."""
    cells = config.cells(cfg)
    seeds = sorted(cfg.seeds)
    return {"DATASETS": sorted({d for d, _ in cells}), "MODELS": sorted({m for _, m in cells}),
            "cells": sorted(f"{d}/{m}" for d, m in cells), "SPARSITIES": sorted(cfg.sparsities),
            "SEEDS": f"n = {len(seeds)}" if counted else seeds}


def on_disk(table: pd.DataFrame, name: str) -> dict:
    """The grid a table holds, in the terms of `asked`: its cells, its sparsity levels (the
    dense parent's level 0 is in every run, not a level asked for) and its seeds."""
    levels = sorted({round(float(s), 3) for s in table["sparsity"] if s > 0})
    out = {"DATASETS": sorted(set(table["dataset"])), "MODELS": sorted(set(table["model"])),
           "cells": sorted({f"{d}/{m}" for d, m in zip(table["dataset"], table["model"])}),
           "SPARSITIES": levels}
    if name == "stats.csv":
        out["SEEDS"] = ", ".join(f"n = {n}" for n in sorted(set(stats.seeds_counted(table))))
    else:
        out["SEEDS"] = sorted({int(s) for s in table["seed"]})
    return out


def check(cfg: config.Config, notebook: str, tables: dict[str, pd.DataFrame]) -> None:
    """Refuse (GridMismatchError) if a table `notebook` reads holds another grid than `cfg`
    asks for, saying what is on disk and what was asked, per differing parameter."""
    # stats.csv last: it counts seeds, the others list them (the more telling message first)
    for name, table in sorted(tables.items(), key=lambda item: item[0] == "stats.csv"):
        have, want = on_disk(table, name), asked(cfg, counted=name == "stats.csv")
        differ = [k for k in want if have[k] != want[k] and k != "cells"]
        if not differ and have["cells"] != want["cells"]:
            differ = ["cells"]  # same datasets and models, paired otherwise
        if differ:
            words = "; ".join(f"{k} {have[k]} on disk, {want[k]} asked" for k in differ)
            earlier = [n for n in sorted(set(WRITER.values())) if n < notebook]
            raise GridMismatchError(
                f"{cfg.results_path / name} holds another grid than the one asked for: {words}. "
                f"{notebook} works on exactly the grid asked for: run {_listed(earlier)} "
                "with these settings first, or ask for the grid on disk")


def _listed(names: list[str]) -> str:
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def read(cfg: config.Config, notebook: str) -> dict[str, pd.DataFrame]:
    """The tables `notebook` reads, each checked against the grid `cfg` asks for."""
    tables = {name: read_table(cfg, name) for name in READS[notebook]}
    check(cfg, notebook, tables)
    return tables


def check_before(cfg: config.Config, only: list[str]) -> None:
    """For `python -m weedout`, before any notebook starts: the tables that 03_analysis and
    04_figures would read from disk because this command does not write them (`only`)."""
    for notebook in ("03_analysis", "04_figures"):
        if notebook in only:
            names = [n for n in READS[notebook] if WRITER[n] not in only]
            check(cfg, notebook, {n: read_table(cfg, n) for n in names})
