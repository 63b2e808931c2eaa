"""Searching throughout training (notebooks/study/08_throughout): the `cpu_throughout` run stops
training every few epochs and cuts each network's parent again (weedout.axes.search_every):
weedout searches it again, random draws again, their fixed twins keep their masks. Re-searches
from researches.csv, moving against fixed twins from throughout.csv, the twins against the uncut
networks of `cpu_pai`."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis import comparison
from ..axes import search_every
from ..config.settings import FIXED
from ..viz import fmt
from . import study

PRESET, UNCUT = "cpu_throughout", "cpu_pai"
KEYS = ["dataset", "model", "sparsity"]


def researches(root: Path) -> pd.DataFrame:
    return study.table(root, PRESET, "researches")


def effects(root: Path) -> pd.DataFrame:
    return study.table(root, PRESET, "throughout")


def score_gap(root: Path) -> pd.DataFrame:
    """Per level, weedout's re-searches: the share of a fresh random mask's nodes that the current
    (trained) mask holds too (kept / parent, the expectation of a uniform draw), how much higher
    the best fresh candidate scores than the current mask (nats, mean and smallest over the
    re-searches), and how many re-searches moved nodes."""
    r = researches(root)
    w = r[r.method == "weedout"].assign(gap=lambda d: d.score_new - d.score_current)
    g = w.groupby(KEYS)
    parent = study.run_of(root, PRESET)["config"]["mlp_widths"][0]
    acc = study.table(root, PRESET, "accuracy")
    kept = acc[acc.method == "weedout"].groupby(KEYS).widths.first().str.split("-").str[0].astype(int)
    return pd.DataFrame({"trained share of a fresh mask (%)": (100 * kept / parent).round(0),
                         "fresh minus current, mean (nats)": g.gap.mean().round(3),
                         "fresh minus current, smallest (nats)": g.gap.min().round(3),
                         "re-searches": g.size(), "moved nodes": g.moved.apply(lambda m: int((m > 0).sum()))})


def twins_vs_uncut(root: Path) -> pd.DataFrame:
    """The fixed twins against the uncut networks of `cpu_pai` (what the cuts and optimizer
    restarts alone do), level by level."""
    acc = study.table(root, PRESET, "accuracy")
    fixed = acc[acc.method.isin(FIXED)].assign(method=lambda d: d.method.str.replace("_fixed", "", regex=False))
    return comparison.paired_runs(study.table(root, UNCUT, "accuracy"), fixed)


def _moves(root: Path) -> str:
    gap = score_gap(root).reset_index()
    r = researches(root)
    w = r[r.method == "weedout"]
    per = "; ".join(f"{ds}: {fmt.pct(g['trained share of a fresh mask (%)'].max() / 100, 0)}% at "
                    f"{g.sparsity.min():.0%} down to {fmt.pct(g['trained share of a fresh mask (%)'].min() / 100, 0)}% "
                    f"at {g.sparsity.max():.0%}, the best fresh candidate "
                    f"{study.span(g['fresh minus current, mean (nats)'], '{:.3f}')} nats above the current "
                    "mask on average, by level" for ds, g in gap.groupby("dataset"))
    share = gap.groupby("sparsity")["trained share of a fresh mask (%)"].mean()
    mostly = ", ".join(f"{s:.0%}" for s in share[share > 50].index)
    return (f"Weedout's re-searches moved nodes in {int((w.moved > 0).sum())} of {len(w)}; random's "
            f"re-draws in {int((r[r.method == 'random'].moved > 0).sum())} of "
            f"{int((r.method == 'random').sum())}. A fresh uniform mask holds trained nodes (those of "
            f"the current mask) in proportion to the kept share, so most of its nodes are trained "
            f"at {mostly or 'no level'} — {per}.")


def _moving(root: Path) -> str:
    e = effects(root)
    study.rule(e)
    parts = []
    for m, g in e.groupby("method"):
        worse = g[g.verdict == "worse"]
        same = int(((g.diff_mean == 0) & (g.diff_ci_low == 0) & (g.diff_ci_high == 0)).sum())
        parts.append(f"{m} ({'searched' if m == 'weedout' else 'drawn'} again): worse at "
                     f"{len(worse)} of {len(g)} levels"
                     + (f" by {study.span(worse.diff_mean.abs(), '{:.1f}')} points" if len(worse) else "")
                     + f", identical to the twin at every seed at {same}")
    return "; ".join(parts) + "."


def _cuts(root: Path) -> str:
    t = twins_vs_uncut(root)
    return (f"The fixed twins against the uncut networks of `{UNCUT}`: "
            f"{', '.join(f'{n} {v}' for v, n in t.verdict.value_counts().items())} of {len(t)} "
            f"method-levels (mean differences {study.span(t.diff_mean, '{:+.2f}')} points).")


def throughout_findings(root: Path) -> str:
    return "\n".join([f"- **Does a re-search move nodes?** {_moves(root)}",
                      f"- **Moving against the fixed twins.** {_moving(root)}",
                      f"- **What the cuts alone cost.** {_cuts(root)}"])


def throughout_answer(root: Path) -> str:
    r, e = researches(root), effects(root)
    w = r[r.method == "weedout"]
    rnd = e[e.method == "random"]
    every = study.run_of(root, PRESET)["config"]["search_every"]
    return (f"Searching again every {every} epochs moved nodes in {int((w.moved > 0).sum())} of "
            f"{len(w)} re-searches (in the others the trained mask scored lower than every fresh "
            f"candidate), so it is in effect the "
            f"search at initialisation; drawing random masks again is worse than keeping them at "
            f"{int((rnd.verdict == 'worse').sum())} of {len(rnd)} levels.")


def table(root: Path) -> pd.DataFrame:
    """search_every.summary: per dataset/model and moving method, the re-searches and the
    verdicts against the fixed twins."""
    return search_every.summary(researches(root), effects(root))
