"""Searching after some training (`Config.search_after` = k, the paper's future work "Weedout
after limited training"): the dense parent trains k epochs of its own run, the search (and any
comparator) cuts it as it is then, and the cut networks train the remaining epochs with the
learning rates and data orders of the whole run. Their first k rows of the learning curves and
their first k epochs of FLOPs are the parent's. The head start (weedout.analysis.headstart):
how far below a typical candidate the winner scores, and each method's lead over random by
epoch.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import pandas as pd

from ..analysis import headstart
from ..config import Config
from ..config.settings import bad, is_int
from ..core import models
from ..core.seeds import parent_params
from ..core.train import train_stack
from ..viz import fmt
from .base import Axis, committed
from .methods import render_methods

LEVELS = (0.5, 0.8, 0.9)  # the levels the report's head-start table shows
BASE_PRESET = "cpu"       # the same grid searched at initialisation


@functools.lru_cache(maxsize=16)
def trained_parent(cfg: Config, setup, ds: str, model: str, seed: int) -> tuple[list, dict]:
    """The dense parent after `search_after` epochs of its own run (same seed, data order and
    learning rates as the dense network's first epochs), and those epochs' history: recomputed
    where needed (deterministic) rather than stored."""
    dset, arch = setup(cfg, ds, model)
    init = parent_params(arch, ds, model, seed, dset.x_train.device)
    hist = train_stack(arch, models.stack([init]), dset, [seed], cfg.schedule(),
                       epochs=(0, cfg.search_after))
    return [p.detach()[0] for p in hist.pop("params")], hist


def render_after(root: Path, preset: str) -> str:
    """The methods block of the run, then the head start: the winner's score below the median
    candidate's (at initialisation in `cpu`, after the parent's first epochs here) and each
    method's accuracy lead over random one epoch after the cut and at the end."""
    got = committed(root, preset, "search.csv", "curves.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    k, last = run["config"]["search_after"], run["config"]["epochs"]
    gap = headstart.search_gap(pd.read_csv(folder / "search.csv"))
    at_init = Path(root) / "results" / BASE_PRESET / "search.csv"
    init = headstart.search_gap(pd.read_csv(at_init)) if at_init.exists() else gap.iloc[:0]
    lead = headstart.gap_by_epoch(pd.read_csv(folder / "curves.csv"), (k + 1, last))
    methods = [m for m in run["config"]["comparators"] if not m.endswith("_inverted")]
    keys = ["dataset", "model", "sparsity"]
    gap, init = gap.set_index(keys), init.set_index(keys)
    lead = lead.set_index(keys + ["epoch", "method"])["diff"]
    names = " / ".join(["weedout", *methods])
    lines = [render_methods(root, preset), "",
             f"The head start (`weedout/analysis/headstart.py`): the winner's loss below the median "
             f"candidate's (nats; at initialisation from `{BASE_PRESET}`, after {k} epochs from "
             f"this run), and the accuracy lead over random ({names}, pp, mean over seeds) one "
             "epoch after the cut and at the end:", "",
             f"| dataset / model | sparsity | loss below median: at init / after {k} epochs | "
             f"lead at epoch {k + 1} | lead at epoch {last} |", "|---|---:|---:|---:|---:|"]
    for key in gap.index:
        if not any(abs(key[2] - s) < 1e-9 for s in LEVELS):
            continue
        before = f"{init.loc[key, 'gap']:.4f}" if key in init.index else "n/a"
        leads = [" / ".join(fmt.signed(lead.get((*key, e, m), math.nan), 1)
                            for m in ("weedout", *methods)) for e in (k + 1, last)]
        lines.append(f"| {key[0]} / {key[1]} | {fmt.pct(key[2], 0)}% | {before} / "
                     f"{gap.loc[key, 'gap']:.4f} | {leads[0]} | {leads[1]} |")
    return "\n".join(lines)


class SearchAfter(Axis):
    name = "search_after"
    fields = ("search_after",)
    title = "The head start of a search after some training"
    about = ("How far below the median candidate of its draw the winner scores (nats, mean over "
             "seeds), and each method's test accuracy minus the random control's (points, paired "
             "by seed) one epoch after the cut and at the end.")

    def validate(self, cfg: Config) -> None:
        if not is_int(cfg.search_after) or not 0 <= cfg.search_after < cfg.epochs:
            raise bad("search_after", cfg.search_after, f"a whole number of epochs from 0 "
                      f"(search at initialisation, the paper) to EPOCHS-1 ({cfg.epochs - 1})")
        if cfg.search_after and cfg.controls:
            raise bad("controls", cfg.controls, "none when search_after > 0: scratch and "
                      "rescaled are defined at initialisation")

    def search_parent(self, cfg: Config, setup, ds: str, model: str, seed: int, device):
        params, hist = trained_parent(cfg, setup, ds, model, seed)
        return [p.to(device) for p in params], hist

    def first_epoch(self, cfg: Config, sparsity: float | None) -> int:
        return 0 if sparsity is None else cfg.search_after  # the dense network runs them all

    def summary(self, cfg: Config, read) -> list:
        k = cfg.search_after
        return [("The winner's loss below the median candidate", headstart.search_gap(
                    read("search.csv"))),
                (f"Accuracy lead over random at epochs {k + 1} and {cfg.epochs} (points)",
                 headstart.gap_by_epoch(read("curves.csv"), (k + 1, cfg.epochs)))]

    def report(self, root: Path, preset: str) -> str:
        return render_after(root, preset)
