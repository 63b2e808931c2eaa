"""Every method against the same random controls: the view of any run that trains more methods
than weedout and random (comparators, controls, search variants, fixed twins). Its tables:
cost.csv (each searched network's search cost) and methods.csv (every method vs the random
network of its seed: weedout.analysis.comparison), its figure and Markdown/LaTeX table
(weedout.viz.methods), its 03_analysis summary and its report block.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..analysis import comparison, cost
from ..config import Config
from ..viz import fmt
from ..viz import methods as methods_viz
from . import registry
from .base import Axis, committed

DROP_AT = 0.8  # the level whose drop vs dense the report shows (the paper's headline level)


def render_methods(root: Path, preset: str) -> str:
    """Per dataset, model and method of a run: verdicts vs random over the levels, mean
    difference, smallest Holm p, the drop vs dense at 80% and the search cost."""
    got = committed(root, preset, "methods.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    methods = pd.read_csv(folder / "methods.csv")
    at = methods[(methods.sparsity - DROP_AT).abs() < 1e-9].set_index(["dataset", "model", "method"])
    lines = [f"From {fmt.evidence(preset, run)}.", "",
             "| dataset / model | method | equivalent | inconclusive | better | worse | mean Δ vs "
             "random (pp) | smallest p (Holm) | drop vs dense at 80% (pp) | search cost: forward / "
             "backward passes, MFLOPs, ms |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in comparison.summary(methods).itertuples(index=False):
        key = (r.dataset, r.model, r.method)
        drop = fmt.pct(at.loc[key, "drop"]) if key in at.index else "n/a"
        mflops = "n/a" if math.isnan(r.flops) else f"{r.flops / 1e6:.1f}"
        paid = ("–" if math.isnan(r.forward) else
                f"{r.forward:.0f} / {r.backward:.0f}, {mflops}, {1000 * r.seconds:.1f}")
        lines.append(f"| {r.dataset} / {r.model} | {r.method} | {r.equivalent} | {r.inconclusive} "
                     f"| {r.better} | {r.worse} | {fmt.signed(100 * r.mean_diff, 2)} | "
                     f"{fmt.p(r.min_p_holm, 2)} | {drop} | {paid} |")
    return "\n".join(lines)


class Methods(Axis):
    name = "methods"
    tables = {"cost.csv": "search", "methods.csv": "analysis"}
    title = "Every method against random"
    about = ("One line per method: its verdicts against the random network of the same seed "
             "over the sparsity levels (Holm per method), the smallest adjusted p-value, the "
             "mean difference and the search cost.")

    def active(self, cfg: Config) -> bool:
        return bool(registry.trained_methods(cfg))

    def search_tables(self, cfg: Config, records: list[dict]) -> dict:
        return {"cost.csv": cost.search_costs(records)}

    def analysis_tables(self, cfg: Config, read, stats_table: pd.DataFrame) -> dict:
        return {"methods.csv": comparison.compare_methods(
            read("accuracy.csv"), read("cost.csv"), margin=cfg.equivalence_margin)}

    def figures(self, cfg: Config, read) -> dict:
        accuracy = read("accuracy.csv")
        return {"methods_vs_sparsity": methods_viz.plot_methods(
            read("methods.csv"), accuracy[accuracy.method == "dense"])}

    def text_tables(self, cfg: Config, read) -> dict:
        return {"methods_table": (read("methods.csv"), methods_viz.methods_table)}

    def summary(self, cfg: Config, read) -> list:
        return [("Verdicts against random over the levels", comparison.summary(
            read("methods.csv")))]

    def report(self, root: Path, preset: str) -> str:
        return render_methods(root, preset)
