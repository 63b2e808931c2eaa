"""Every method of a run against the same random controls: statistics, table and figure.

A run with `comparators` or `controls` (e.g. the `cpu_pai` preset) trains more networks per
level than weedout and random: node-level saliency methods, their inverted twins, and the
`scratch` / `rescaled` controls. Each of them (and weedout) is compared with the random network of
the same seed exactly as `stats.compute_stats` compares weedout: paired t-test, TOST at the same
margin, Holm across the sparsity levels of one dataset x model *and method* (one family per
question "is method m better than random?"), the same four verdicts, plus its drop vs dense and
its search cost. `stats.csv`, the main table and its figure stay as they are.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import compute, plotting, stats, tables
from .stats import LEVEL

KEYS = LEVEL + ["method"]
COST = compute.SEARCH_COST


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
            row.update(stats.paired_test(*stats._paired(by_seed(g), rnd), margin=margin, alpha=alpha))
            d = stats._diffs(*stats._paired(dense.get((ds, model), rnd.iloc[:0]), by_seed(g)))
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


def _cost(r) -> str:
    if not tables._ok(r.forward):
        return "–"
    flops = f"{r.flops / 1e6:.1f}" if tables._ok(getattr(r, "flops", None)) else tables.NA
    return f"{r.forward:.0f} / {r.backward:.0f} / {flops} / {r.seconds:.3f} s"


def methods_table(methods: pd.DataFrame) -> pd.DataFrame:
    """The main table's row blocks, one per method: accuracy, difference vs random, Holm p,
    TOST verdict and the search cost (forward / backward passes / MFLOPs / seconds per search)."""
    rows = []
    for r in methods.sort_values(["dataset", "model", "method", "sparsity"]).itertuples(index=False):
        rows.append({
            "Dataset": str(r.dataset), "Model": str(r.model), "Method": str(r.method),
            "Sparsity (%)": f"{100 * r.sparsity:g}",
            "Achieved (%)": (f"{100 * r.node_sparsity:.1f}" if tables._ok(r.node_sparsity)
                             else tables.NA),
            "n": f"{r.n_pairs:.0f}" if tables._ok(r.n_pairs) else tables.NA,
            "Accuracy (%)": tables.fmt_mean_ci(r.mean, r.ci_low, r.ci_high),
            "Random (%)": tables.fmt_mean_ci(r.mean_random, r.ci_low_random, r.ci_high_random),
            "Δ vs random [95% CI] (pp)": tables.fmt_diff(r.diff_mean, r.diff_ci_low, r.diff_ci_high),
            "p (Holm)": tables.fmt_p(r.p_holm),
            "TOST p (Holm, ±margin)": f"{tables.fmt_p(r.tost_p_holm)} (±{100 * r.margin:.2f} pp)",
            "Verdict": str(r.verdict),
            "Cost: fwd / bwd / MFLOPs / s": _cost(r),
        })
    return pd.DataFrame(rows)


def _style(method: str, order: list[str]):
    """Colour per base method (its inverted twin shares it, dashed; none close to random's
    blue band); controls in black and grey, dotted."""
    base = method.removesuffix("_inverted")
    palette = dict(zip(sorted({m.removesuffix("_inverted") for m in order}
                              - {"scratch", "rescaled", "weedout"}),
                       ["#009E73", "#CC79A7", "#E69F00", "#6A3D9A", "#A6761D", "#999999"]))
    palette.update(weedout=plotting.METHOD_COLORS["weedout"], scratch="#000000", rescaled="#777777")
    ls = "--" if method.endswith("_inverted") else (":" if base in ("scratch", "rescaled") else "-")
    return palette.get(base, "#999999"), ls


def plot_methods(methods: pd.DataFrame, dense: pd.DataFrame | None = None):
    """Test accuracy vs node sparsity, every method, the random control as the reference band
    (its mean and 95% CI), the dense parent's mean as a dashed line."""
    panels = plotting._panels(methods)
    fig, axes = plotting._grid(1, len(panels), w=5.2, h=4.2)
    order = sorted(methods.method.unique())
    for ax, (ds, model) in zip(axes.flat, panels):
        d = methods[(methods.dataset == ds) & (methods.model == model)]
        ref = d.drop_duplicates("sparsity").sort_values("sparsity")
        x = ref.sparsity.to_numpy(float) * 100
        ax.fill_between(x, *(plotting._in_range(ref[c] * 100) for c in ("ci_low_random", "ci_high_random")),
                        color=plotting.METHOD_COLORS["random"], alpha=0.18, lw=0, label="random (95% CI)")
        ax.plot(x, ref.mean_random * 100, color=plotting.METHOD_COLORS["random"], lw=1.2)
        if dense is not None:
            dm = dense[(dense.dataset == ds) & (dense.model == model)].test_acc.mean()
            ax.axhline(dm * 100, color=plotting.METHOD_COLORS["dense"], ls="--", lw=1, label="dense")
        for m in order:
            g = d[d.method == m].sort_values("sparsity")
            c, ls = _style(m, order)
            ax.plot(g.sparsity * 100, g["mean"] * 100, color=c, ls=ls, lw=1.3, marker=".", ms=4, label=m)
        ax.set_xlabel("node sparsity (%)")
        ax.set_ylabel("test accuracy (%)")
        n = d["n_pairs"].max()
        ax.set_title(f"{ds} · {model}   {plotting._seeds_label(n)}".rstrip(), fontsize=10.5)
    axes.flat[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.suptitle("Every method vs the random control (mean over seeds; band: random's 95% CI)",
                 fontsize=11.5)
    return fig


def paired_runs(local: pd.DataFrame, other: pd.DataFrame, margin: float = 0.01,
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
        x, y = stats._paired(g.set_index("seed").test_acc, base.set_index("seed").test_acc)
        rows.append({**dict(zip(keys, key)), "kept": g.widths.iloc[0],
                     "kept_local": base.widths.iloc[0], "params": float(g.params.mean()),
                     "params_local": float(base.params.mean()),
                     "mean": 100 * float(np.nanmean(x)), "mean_local": 100 * float(np.nanmean(y)),
                     **stats.paired_test(x, y, margin=margin, alpha=alpha)})
    return stats.pairs_table(rows, ["dataset", "model", "method"], alpha)
