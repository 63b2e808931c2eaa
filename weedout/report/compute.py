"""Compute (notebooks/study/09_compute): what each method of the `cpu_pai` run costs, search and
training together (compute.csv; per method, `weedout.analysis.cost.summary`: means over levels and
seeds; FLOPs by the formulas of weedout.core.flops, checked against torch's FlopCounterMode)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis import cost
from ..viz import fmt
from . import pai, study

PRESET = pai.PRESET
CELL = ["dataset", "model"]


def per_method(root: Path) -> pd.DataFrame:
    return cost.summary(study.table(root, PRESET, "compute"))


def _searched(s: pd.DataFrame) -> pd.DataFrame:
    return s[~s.method.isin(cost.NO_SEARCH)]


def _weedout(s: pd.DataFrame) -> str:
    w = s[s.method == "weedout"]
    return "; ".join(f"{r.dataset} / {r.model} {r.search_gflops:.2f} GFLOPs per network, "
                     f"{fmt.pct(r.search_share)}% of its search and training"
                     for r in w.itertuples())


def _scores(s: pd.DataFrame) -> str:
    sc = _searched(s)
    sc = sc[sc.method != "weedout"]
    free = sorted(set(sc[sc.search_gflops == 0].method))
    paid = sc[sc.search_gflops > 0]
    return (f"The saliency scores cost {study.span(paid.search_gflops, '{:.2f}')} GFLOPs per "
            f"network ({study.span(100 * paid.search_share, '{:.1f}')}% of the total); "
            f"{', '.join(free) or 'none'} need no pass over data.")


def _accuracy(s: pd.DataFrame) -> str:
    """Per dataset/model: the most accurate sparse method's mean accuracy against random's,
    which costs no search."""
    sparse = s[s.method != "dense"]
    parts = []
    for (ds, model), g in sparse.groupby(CELL):
        g = g.set_index("method")
        best = g.test_acc.idxmax()
        parts.append(f"{ds} / {model}: {best} {fmt.pct(g.test_acc[best])}% (search "
                     f"{g.search_gflops[best]:.2f} GFLOPs) against random's "
                     f"{fmt.pct(g.test_acc['random'])}%")
    return ("Means over levels and seeds, the most accurate sparse method against the random "
            f"control, whose search costs nothing — {'; '.join(parts)}.")


def compute_findings(root: Path) -> str:
    s = per_method(root)
    return "\n".join([f"- **Weedout's search.** {_weedout(s)}.",
                      f"- **The other searches.** {_scores(s)}",
                      f"- **What it buys.** {_accuracy(s)} Whether any of these differences is "
                      "more than chance is 03_anything_better's question, level by level."])


def compute_answer(root: Path) -> str:
    s = per_method(root)
    w = s[s.method == "weedout"]
    paid = _searched(s)
    paid = paid[(paid.method != "weedout") & (paid.search_gflops > 0)]
    most = "the costliest, " if w.search_gflops.min() > paid.search_gflops.max() else ""
    return (f"Weedout's search is {most}{study.span(w.search_gflops, '{:.1f}')} GFLOPs per network "
            f"({study.span(100 * w.search_share, '{:.0f}')}% of search and training), the saliency "
            f"scores' {study.span(paid.search_gflops, '{:.2f}')} or nothing; the random control and "
            f"the controls {', '.join(c for c in pai.CONTROLS)} search nothing.")
