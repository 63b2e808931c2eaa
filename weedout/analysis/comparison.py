"""Every method of a run against the same random controls: statistics, table and figure.

A run with `comparators` or `controls` (e.g. the `cpu_pai` preset) trains more networks per
level than weedout and random: node-level saliency methods, their inverted twins, and the
`scratch` / `rescaled` controls. Each of them (and weedout) is compared with the random network of
the same seed exactly as `stats.compute_stats` compares weedout: paired t-test, TOST at the same
margin, Holm across the sparsity levels of one dataset x model *and method* (one family per
question "is method m better than random?"), the same four verdicts, plus its drop vs dense and
its search cost. `stats.csv`, the main table and its figure stay as they are; the table and
figure of this comparison are weedout.viz.methods'.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from . import stats
from .cost import SEARCH_COST as COST
from .stats import LEVEL

KEYS = LEVEL + ["method"]


def compare_methods(accuracy: pd.DataFrame, cost: pd.DataFrame | None = None,
                    margin: float = 0.01, alpha: float = 0.05) -> pd.DataFrame:
    """One row per (dataset, model, sparsity, method) for every method but dense and random."""
    acc = stats.with_dead(accuracy)
    by_seed = lambda g: g.set_index("seed")["test_acc"]  # noqa: E731
    dense = {k: by_seed(g) for k, g in acc[acc.method == "dense"].groupby(["dataset", "model"])}
    rows = []
    for (ds, model, s), level in acc[acc.sparsity > 0].groupby(LEVEL, sort=True):
        rnd = by_seed(level[level.method == "random"])
        for m in sorted(set(level.method) - {"dense", "random"}):
            g = level[level.method == m]
            row = dict(dataset=ds, model=model, sparsity=s, method=m,
                       node_sparsity=float(g["node_sparsity"].mean()) if "node_sparsity" in g
                       else np.nan)  # achieved: whole nodes
            row.update(stats.mean_ci(g["test_acc"], alpha))
            r = stats.mean_ci(rnd, alpha)
            row.update(mean_random=r["mean"], ci_low_random=r["ci_low"], ci_high_random=r["ci_high"])
            row.update(stats.paired_test(*stats.paired(by_seed(g), rnd), margin=margin, alpha=alpha))
            d = stats.diffs(*stats.paired(dense.get((ds, model), rnd.iloc[:0]), by_seed(g)))
            row["drop"] = float(d.mean()) if d.size else np.nan
            row["n_diverged"] = int(g["dead"].sum())
            rows.append(row)
    out = pd.DataFrame(rows)
    family = out.groupby(["dataset", "model", "method"])
    out["p_holm"] = family["p_value"].transform(stats.holm)
    out["tost_p_holm"] = family["tost_p"].transform(stats.holm)
    out["verdict"] = [stats.verdict(p, t, d, alpha).replace("weedout ", "")
                      for p, t, d in zip(out["p_holm"], out["tost_p_holm"], out["diff_mean"])]
    if cost is not None and len(cost):
        mean_cost = cost.groupby(KEYS)[list(COST)].mean().reset_index()
        out = out.merge(mean_cost, on=KEYS, how="left")
    else:
        for c in COST:
            out[c] = np.nan
    return out


def summary(methods: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model x method: verdict counts over the levels, the smallest Holm p, the
    mean difference vs random (pp) and the search cost: the README's one-line-per-method view."""
    rows = []
    for (ds, model, m), g in methods.groupby(["dataset", "model", "method"], sort=True):
        v = g["verdict"].value_counts()
        rows.append({"dataset": ds, "model": model, "method": m, "levels": len(g),
                     **{k: int(v.get(k, 0)) for k in ("equivalent", "inconclusive", "better",
                                                      "worse")},
                     "min_p_holm": g["p_holm"].min(), "mean_diff": g["diff_mean"].mean(),
                     **{c: g[c].mean() if c in g else np.nan for c in COST}})
    return pd.DataFrame(rows)


# paired_runs' results by the content of its inputs: its exact Wilcoxon p-values (a permutation
# test wherever differences tie) take seconds per run, and a study notebook and the axis report
# it shows ask for the same pairs; keyed by content, a changed table is never served stale.
_PAIRED: dict[tuple, pd.DataFrame] = {}


def _digest(df: pd.DataFrame) -> str:
    return hashlib.sha1(pd.util.hash_pandas_object(df).values.tobytes()
                        + repr(list(df.columns)).encode()).hexdigest()


def paired_runs(local: pd.DataFrame, other: pd.DataFrame, margin: float = 0.01,
                alpha: float = 0.05) -> pd.DataFrame:
    """`_paired_runs`, computed once per content of the two tables in a process."""
    key = (_digest(local), _digest(other), margin, alpha)
    if key not in _PAIRED:
        if len(_PAIRED) >= 16:
            _PAIRED.clear()
        _PAIRED[key] = _paired_runs(local, other, margin, alpha)
    return _PAIRED[key].copy()


def _paired_runs(local: pd.DataFrame, other: pd.DataFrame, margin: float = 0.01,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Per dataset x model x sparsity x method (weedout, random) of two accuracy tables whose
    networks differ in one setting only (two runs' accuracy.csv, e.g. local vs non-uniform
    structure; or a run's re-searched networks vs their fixed twins): `other`'s test accuracy
    minus `local`'s, paired by seed (parents, scoring batches and data orders are shared),
    with t-interval, paired t-test and TOST at `margin`, Holm over the levels of a dataset x
    model x method, and both runs' kept widths and parameter counts."""
    a, b = stats.with_dead(local), stats.with_dead(other)
    rows = []
    keys = ["dataset", "model", "sparsity", "method"]
    for key, g in b[(b.sparsity > 0) & b.method.isin(["weedout", "random"])].groupby(keys):
        base = a[(a[keys] == pd.Series(key, index=keys)).all(axis=1)]
        if base.empty:
            continue
        x, y = stats.paired(g.set_index("seed").test_acc, base.set_index("seed").test_acc)
        rows.append({**dict(zip(keys, key)), "kept": g.widths.iloc[0],
                     "kept_local": base.widths.iloc[0], "params": float(g.params.mean()),
                     "params_local": float(base.params.mean()),
                     "mean": 100 * float(np.nanmean(x)), "mean_local": 100 * float(np.nanmean(y)),
                     **stats.paired_test(x, y, margin=margin, alpha=alpha)})
    return stats.pairs_table(rows, ["dataset", "model", "method"], alpha)
