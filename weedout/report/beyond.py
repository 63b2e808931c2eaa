"""The README's generated blocks for the work beyond the paper (`python -m weedout.report.readme`
rebuilds them with the others): the comparators, the search variants, the compute and the
search after some training. Formatting and the evidence line are readme.py's.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from ..analysis import comparison, cost, headstart
from ..axes import variants
from ..config import paths
from ..viz import fmt
from .claims import DROP_AT


METHODS_PRESET = "cpu_pai"


def render_methods(root: Path = paths.ROOT, preset: str = METHODS_PRESET) -> str:
    """Per dataset, model and method of the comparator run: verdicts vs random over the levels,
    mean difference, smallest Holm p, the drop vs dense at 80% and the search cost."""
    folder = root / "results" / preset
    if not (folder / "methods.csv").exists() or not (folder / "run.json").exists():
        return f"No committed `{preset}` run yet (`python -m weedout --preset {preset}`)."
    methods = pd.read_csv(folder / "methods.csv")
    run = json.loads((folder / "run.json").read_text())
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


BUDGET_PRESET = "cpu_budget"
COMPUTE_PRESET = "cpu_pai"


def _committed(root: Path, preset: str, *tables: str) -> tuple[Path, dict] | str:
    folder = root / "results" / preset
    if not all((folder / t).exists() for t in (*tables, "run.json")):
        return f"No committed `{preset}` run yet (`python -m weedout --preset {preset}`)."
    return folder, json.loads((folder / "run.json").read_text())


def render_budget(root: Path = paths.ROOT, preset: str = BUDGET_PRESET) -> str:
    """Per dataset, model and search setting: how far below the random control's loss its
    winner lands, how often, and how its trained networks compare with random."""
    got = _committed(root, preset, "variants.csv", "methods.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    found = variants.summary(pd.read_csv(folder / "variants.csv")).sort_values(
        ["dataset", "model", "candidates", "method"]).set_index(["dataset", "model", "method"])
    verdicts = comparison.summary(pd.read_csv(folder / "methods.csv")).set_index(
        ["dataset", "model", "method"])
    lines = [f"From {fmt.evidence(preset, run)}.", "",
             "| dataset / model | method | candidates | score | batch | loss below random's "
             "(nats) | searches below random | equivalent / inconclusive / better / worse | mean Δ "
             "accuracy vs random (pp) | smallest p (Holm) |",
             "|---|---|---:|---|---:|---:|---:|---|---:|---:|"]
    for key, r in found.iterrows():
        if key[2] == "random":
            continue
        v = verdicts.loc[key] if key in verdicts.index else None
        counts = ("n/a" if v is None else
                  " / ".join(str(int(v[k])) for k in ("equivalent", "inconclusive", "better",
                                                       "worse")))
        lines.append(f"| {key[0]} / {key[1]} | {key[2]} | {r.candidates} | {r.score} | "
                     f"{r.score_batch} | {fmt.signed(r.loss_gain, 4)} | {fmt.pct(r.below_random, 0)}% | "
                     f"{counts} | {'n/a' if v is None else fmt.signed(100 * v.mean_diff, 2)} | "
                     f"{'n/a' if v is None else fmt.p(v.min_p_holm, 2)} |")
    return "\n".join(lines)


def render_compute(root: Path = paths.ROOT, preset: str = COMPUTE_PRESET) -> str:
    """Per dataset, model and method: mean FLOPs and seconds of search and training per
    network, the search's share of the FLOPs, and accuracy (means over levels and seeds)."""
    got = _committed(root, preset, "compute.csv")
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


AFTER_PRESET = "cpu_search_after"


AFTER_LEVELS = (0.5, 0.8, 0.9)


def render_after(root: Path = paths.ROOT) -> str:
    """The methods block of the run that searches after some training, then the head start:
    the winner's score below the median candidate's (at initialisation in `cpu`, after the
    parent's first epochs here) and each method's accuracy lead over random one epoch after
    the cut and at the end (`weedout.headstart`)."""
    got = _committed(root, AFTER_PRESET, "search.csv", "curves.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    k, last = run["config"]["search_after"], run["config"]["epochs"]
    gap = headstart.search_gap(pd.read_csv(folder / "search.csv"))
    at_init = (root / "results" / "cpu" / "search.csv")
    init = headstart.search_gap(pd.read_csv(at_init)) if at_init.exists() else gap.iloc[:0]
    lead = headstart.gap_by_epoch(pd.read_csv(folder / "curves.csv"), (k + 1, last))
    methods = [m for m in run["config"]["comparators"] if not m.endswith("_inverted")]
    keys = ["dataset", "model", "sparsity"]
    gap, init = gap.set_index(keys), init.set_index(keys)
    lead = lead.set_index(keys + ["epoch", "method"])["diff"]
    names = " / ".join(["weedout", *methods])
    lines = [render_methods(root, AFTER_PRESET), "",
             f"The head start (`weedout/analysis/headstart.py`): the winner's loss below the median "
             f"candidate's (nats; at initialisation from `cpu`, after {k} epochs from this run), "
             f"and the accuracy lead over random ({names}, pp, mean over seeds) one epoch after "
             f"the cut and at the end:", "",
             f"| dataset / model | sparsity | loss below median: at init / after {k} epochs | "
             f"lead at epoch {k + 1} | lead at epoch {last} |", "|---|---:|---:|---:|---:|"]
    for key in gap.index:
        if not any(abs(key[2] - s) < 1e-9 for s in AFTER_LEVELS):
            continue
        before = f"{init.loc[key, 'gap']:.4f}" if key in init.index else "n/a"
        leads = [" / ".join(fmt.signed(lead.get((*key, e, m), math.nan), 1)
                            for m in ("weedout", *methods)) for e in (k + 1, last)]
        lines.append(f"| {key[0]} / {key[1]} | {fmt.pct(key[2], 0)}% | {before} / "
                     f"{gap.loc[key, 'gap']:.4f} | {leads[0]} | {leads[1]} |")
    return "\n".join(lines)
