"""Sparsity structure (notebooks/study/06_structure): the non-uniform (`cpu_structure`), global
(`cpu_global`) and unstructured (`cpu_unstructured`) runs, each against random under its own
structure (stats.csv) and against the paper's local networks of `cpu_pai` (same parents, seeds
and data orders), paired by seed (`weedout.analysis.comparison.paired_runs`, as the axis's
report does)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis import comparison
from ..axes import structure as axis
from ..viz import fmt
from . import study

RUNS = {"non-uniform": "cpu_structure", "global": "cpu_global", "unstructured": "cpu_unstructured"}
LOCAL = axis.LOCAL_PRESET


def pairs(root: Path, preset: str) -> pd.DataFrame:
    """The run's weedout and random networks against the local ones, level by level (points)."""
    return comparison.paired_runs(study.table(root, LOCAL, "accuracy"), study.table(root, preset, "accuracy"))


def _levels(g: pd.DataFrame) -> str:
    return ", ".join(f"{s:.0%}" for s in g.sparsity)


def _against_local(p: pd.DataFrame, name: str) -> str:
    """Per dataset/model and method: the verdicts against local, where and by how much worse or
    better, and the parameters kept relative to local."""
    out = []
    for (ds, model, method), g in p.groupby(["dataset", "model", "method"]):
        line = f"{ds} / {model}, {method}: {axis.verdict_counts(g.verdict)}"
        for v in ("worse", "better"):
            hit = g[g.verdict == v]
            if len(hit):
                line += (f"; {v} at {_levels(hit)} by {study.span(hit.diff_mean.abs(), '{:.1f}')} "
                         "points")
        out.append(line)
    params = 100 * (p.params / p.params_local - 1)
    return (f"{name} against local (equivalent / inconclusive / better / worse) — "
            + "; ".join(out) + f". Its networks' parameters against the local ones' at the same "
            f"level: {study.span(params, '{:+.0f}%')}.")


def _against_random(root: Path, preset: str) -> str:
    st = study.table(root, preset, "stats")
    return (f"weedout is {study.better(st)} ({study.verdict_counts(st)} of {len(st)} levels; "
            f"smallest Holm p {fmt.p(st.p_holm.min(), 2)})")


def _global_split(root: Path) -> str:
    """Where the global masks put the budget: the first layer's share, weedout's and random's."""
    alloc = axis.allocation(study.table(root, RUNS["global"], "accuracy"))
    alloc = alloc[alloc.method.isin(["weedout", "random"])]
    share = {m: g.first_share for m, g in alloc.groupby("method")}
    return (f"The first layer's share of the kept nodes stays near even: its sd over seeds is "
            f"{study.span(alloc.first_share_sd, '{:.2f}')} across levels, and its mean is "
            f"{study.span(share['weedout'], '{:.2f}')} for weedout's masks and "
            f"{study.span(share['random'], '{:.2f}')} for random's.")


def structure_findings(root: Path) -> str:
    lines = []
    for name, preset in RUNS.items():
        lines.append(f"- **{name.capitalize()}** (`{preset}`): {_against_random(root, preset)}. "
                     f"{_against_local(pairs(root, preset), name.capitalize())}"
                     + (f" {_global_split(root)}" if name == "global" else ""))
    return "\n".join(lines)


def structure_answer(root: Path) -> str:
    worse, better, random = [], 0, 0
    for name, preset in RUNS.items():
        p = pairs(root, preset)
        better += int((p.verdict == "better").sum())
        random += int((study.table(root, preset, "stats").verdict == "weedout better").sum())
        worse.append(f"{name} ones are worse at {int((p.verdict == 'worse').sum())} of {len(p)}")
    return (f"Against the paper's local networks at the same budget (of nodes; of weights for unstructured masks), {'; '.join(worse)} "
            f"method-levels, better at {better}; weedout is better than random under these "
            f"structures at {random} levels.")
