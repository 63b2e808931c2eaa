"""Compute (the paper's future work "measuring computational work"): every network's search and
training FLOPs and seconds (compute.csv, weedout.analysis.cost; FLOPs by the formulas of
weedout.core.flops), accuracy against total compute (its figure), and per method the mean cost
(its summary and report block). Every run has it; runs recorded before FLOPs were counted show
nothing.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis import cost
from ..config import Config
from ..viz import fmt
from ..viz import methods as methods_viz
from .base import Axis, committed


def render_compute(root: Path, preset: str) -> str:
    """Per dataset, model and method: mean FLOPs and seconds of search and training per
    network, the search's share of the FLOPs, and accuracy (means over levels and seeds)."""
    got = committed(root, preset, "compute.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    table = pd.read_csv(folder / "compute.csv")
    lines = [f"From {fmt.evidence(preset, run)}.", "",
             "| dataset / model | method | search GFLOPs | training GFLOPs | search share of "
             "FLOPs | search s | training s (stack share) | test accuracy (%) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in cost.summary(table).itertuples(index=False):
        lines.append(f"| {r.dataset} / {r.model} | {r.method} | {r.search_gflops:.4f} | "
                     f"{r.train_gflops:.2f} | {fmt.pct(r.search_share)}% | {r.search_seconds:.3f} | "
                     f"{r.train_seconds:.2f} | {fmt.pct(r.test_acc)} |")
    return "\n".join(lines)


class Compute(Axis):
    name = "compute"
    tables = {"compute.csv": "training"}
    title = "Compute"
    about = ("Per method, the mean FLOPs of its search and of its training (counted per pass; "
             "tests check the counts against torch's FlopCounterMode), the search's share of "
             "the total, seconds and accuracy.")

    def active(self, cfg: Config) -> bool:
        return True  # every run counts its work

    def training_tables(self, cfg: Config, searches: list[dict], trainings: list[dict]) -> dict:
        return {"compute.csv": cost.table(cost.search_costs(searches), trainings)}

    def _recorded(self, read) -> pd.DataFrame | None:
        """compute.csv where its FLOPs were recorded (runs from before: None)."""
        try:
            table = read("compute.csv")
        except FileNotFoundError:
            return None
        return table if table["total_flops"].notna().any() else None

    def figures(self, cfg: Config, read) -> dict:
        table = self._recorded(read)
        return {} if table is None else {"compute": methods_viz.plot_compute(table)}

    def summary(self, cfg: Config, read) -> list:
        table = self._recorded(read)
        return [] if table is None else [("Mean cost per network", cost.summary(table))]

    def report(self, root: Path, preset: str) -> str:
        return render_compute(root, preset)
