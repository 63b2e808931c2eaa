"""Figures of a run: one style, fixed colours per method, no computation beyond summaries.

Every ``plot_*`` function takes the tidy tables the pipeline writes, returns a
:class:`~matplotlib.figure.Figure` and neither shows nor saves it; :func:`savefig` writes it.
Accuracies arrive as fractions and are drawn in %. The backend is never set here, so figures
still appear inline in notebooks.
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy import stats as sps

# Okabe-Ito: colour-blind safe, and the same method always has the same colour.
METHOD_COLORS = {"dense": "#444444", "weedout": "#D55E00", "random": "#0072B2"}
METHODS = ("dense", "weedout", "random")
SPARSITY_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "p", "<", ">")  # >= 9 levels: distinct
PANEL_KEYS = ["dataset", "model"]
MAX_STRIP = 400  # candidates drawn as dots per sparsity level (boxes use all of them)


def set_style() -> None:
    """Seaborn white grid with readable font sizes; call once before plotting."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 100, "axes.titlesize": 11, "legend.fontsize": 8.5,
                         "legend.framealpha": 0.85, "axes.spines.top": False,
                         "axes.spines.right": False})


# No creation date in PDFs (PNGs have none): the same figure gives the same bytes, so redrawing
# committed figures from unchanged tables leaves them (and git status) untouched.
_METADATA = {"png": None, "pdf": {"CreationDate": None}}


def savefig(fig: Figure, name: str, figures_dir: str | os.PathLike) -> list[Path]:
    """Write ``<figures_dir>/<name>.png`` (150 dpi) and ``.pdf``; each via a temp file + rename,
    and not at all where the file already holds exactly the new bytes."""
    out = Path(figures_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        path = out / f"{name}.{ext}"
        tmp = out / f".{name}.{ext}.tmp"
        fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight", metadata=_METADATA[ext])
        if path.exists() and path.read_bytes() == tmp.read_bytes():
            tmp.unlink()
        else:
            os.replace(tmp, path)
        paths.append(path)
    return paths


def panel_cells(df: pd.DataFrame) -> list[tuple]:
    if df.empty:
        raise ValueError("nothing to plot: the table is empty")
    return sorted(df[PANEL_KEYS].drop_duplicates().itertuples(index=False, name=None))


def subplots(nrows: int, ncols: int, w: float = 4.3, h: float = 3.3, **kw):
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False,
                             layout="constrained", **kw)
    return fig, axes


def finish(fig: Figure, axes, title: str) -> Figure:
    """How a row of panels ends: one legend right of the last panel, the title above them all."""
    axes.flat[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.suptitle(title, fontsize=11.5)
    return fig


def _mean_ci(values: pd.Series) -> tuple[float, float]:
    """Mean and 95% t-interval half-width (NaN for fewer than two values)."""
    v = values.dropna().to_numpy(float)
    if len(v) < 2:
        return (float(v.mean()) if len(v) else np.nan), np.nan
    return float(v.mean()), float(sps.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def in_range(percent):
    """A CI bound clipped to what an accuracy can be: with 2 seeds the t-interval is 12.7 s.d.
    wide on each side and would draw bands from -50% to 200%."""
    return np.clip(np.asarray(percent, dtype=float), 0, 100)


def seeds_label(lo, hi=None) -> str:
    """'(n = 10 seeds)', or '(n = 8–10 seeds)' where curves of one panel have different n."""
    hi = lo if hi is None else hi
    if lo != lo:  # NaN: n unknown
        return ""
    n = f"{lo:.0f}" if lo == hi else f"{lo:.0f}–{hi:.0f}"
    return f"(n = {n} seed{'' if n == '1' else 's'})"


def plot_accuracy_vs_sparsity(stats: pd.DataFrame) -> Figure:
    """Test accuracy (%) vs node sparsity per dataset x model: weedout and random with 95% CI
    bands, the dense parent as a horizontal line with its band; top axis: parameter sparsity."""
    panels = panel_cells(stats)
    ncols = min(len(panels), 3)
    fig, axes = subplots(-(-len(panels) // ncols), ncols)
    for ax in axes.flat[len(panels):]:
        fig.delaxes(ax)
    for ax, (dataset, model) in zip(axes.flat, panels):
        d = stats[(stats.dataset == dataset) & (stats.model == model)].sort_values("sparsity")
        # at the achieved node sparsity (whole nodes), not the nominal level, where known
        known = "node_sparsity" in d and d.node_sparsity.notna().all()
        # unstructured (weight) masks keep every node: their x is the nominal level
        achieved = known and bool((d.node_sparsity > 0).all())
        x = (d.node_sparsity if achieved else d.sparsity).to_numpy(float) * 100
        dense = d.iloc[0]
        ax.axhline(dense.mean_dense * 100, color=METHOD_COLORS["dense"], ls="--", lw=1.5,
                   label="dense")
        ax.axhspan(*in_range([dense.ci_low_dense * 100, dense.ci_high_dense * 100]),
                   color=METHOD_COLORS["dense"], alpha=0.12, lw=0)
        # random: wide line, hollow squares; weedout on top, thin with dots -> both visible
        for m, marker, ms, lw, z in (("weedout", "o", 3.5, 1.5, 4), ("random", "s", 6.5, 2.6, 3)):
            c = METHOD_COLORS[m]
            ax.plot(x, d[f"mean_{m}"] * 100, marker=marker, ms=ms, color=c, lw=lw, label=m,
                    mfc="white" if m == "random" else c, zorder=z)
            # light fill plus coloured bounds: overlapping bands (the usual case) stay legible
            lo, hi = in_range(d[f"ci_low_{m}"] * 100), in_range(d[f"ci_high_{m}"] * 100)
            ax.fill_between(x, lo, hi, color=c, alpha=0.1, lw=0)
            for bound in (lo, hi):
                ax.plot(x, bound, color=c, lw=0.7, alpha=0.7, label="_ci")
        ax.set_xlim(0, x.max() + 5)
        ax.set_xlabel("node sparsity (%, achieved)" if achieved else
                      "sparsity level (%; weight masks)" if known else "node sparsity (%)")
        ax.set_ylabel("test accuracy (%)")
        n = d["n_pairs"].max() if "n_pairs" in d else np.nan
        ax.set_title(f"{dataset} · {model}   {seeds_label(n)}".rstrip(), fontsize=10.5)
        if "param_sparsity" in d and d.param_sparsity.notna().any():
            top = ax.secondary_xaxis("top")
            top.set_xticks(x, [f"{p:.0f}" for p in d.param_sparsity * 100], fontsize=7.5,
                           color="0.35")
            top.set_xlabel("parameter sparsity (%)", fontsize=8.5, color="0.35")
    axes.flat[0].legend(loc="lower left")
    fig.suptitle("Test accuracy after training vs sparsity (mean, shaded 95% CI across seeds)",
                 fontsize=11.5)
    return fig


def _default_levels(levels: list[float]) -> list[float]:
    if len(levels) <= 3:
        return levels
    return [levels[0], levels[(len(levels) - 1) // 2], levels[-1]]


def plot_learning_curves(curves: pd.DataFrame, sparsities=None) -> Figure:
    """Test accuracy (%) vs epoch, mean over seeds with a 95% CI band; rows dataset x model,
    columns sparsity levels (default: low / mid / high of those present); dense faint."""
    levels = sorted(float(s) for s in curves.sparsity.unique() if s > 0)
    cols = _default_levels(levels) if sparsities is None else [float(s) for s in sparsities]
    panels = panel_cells(curves)
    fig, axes = subplots(len(panels), len(cols), w=3.8, h=3.0, sharey="row")
    for i, (dataset, model) in enumerate(panels):
        p = curves[(curves.dataset == dataset) & (curves.model == model)]
        for j, s in enumerate(cols):
            ax, ns = axes[i, j], []
            for m in METHODS:
                d = p[p.method == m] if m == "dense" else p[(p.method == m)
                                                          & np.isclose(p.sparsity, s)]
                if d.empty:
                    continue
                g = d.groupby("epoch").test_acc.apply(_mean_ci)
                ep = g.index.to_numpy()
                mu = np.array([v[0] for v in g]) * 100
                hw = np.array([v[1] for v in g]) * 100
                faint = m == "dense"  # random wide underneath weedout: overlap stays visible
                ax.plot(ep, mu, color=METHOD_COLORS[m], lw={"dense": 1.2, "weedout": 1.5,
                                                            "random": 2.6}[m],
                        ls="--" if faint else "-", alpha=0.6 if faint else 1, label=m,
                        zorder=3 if m == "weedout" else 2)
                ax.fill_between(ep, in_range(mu - hw), in_range(mu + hw),
                                color=METHOD_COLORS[m], alpha=0.08 if faint else 0.18, lw=0)
                if m != "dense":  # seeds behind each sparse curve: those with a final accuracy
                    ns.append(int(d[d.epoch == d.epoch.max()].test_acc.notna().sum()))
            if not ax.lines:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            n = seeds_label(min(ns), max(ns)) if ns else ""
            ax.set_title(f"{dataset} · {model} · sparsity {s * 100:g}%\n{n}".strip(), fontsize=10)
            ax.set_xlabel("epoch" if i == len(panels) - 1 else "")
            if j == 0:
                ax.set_ylabel("test accuracy (%)")
    axes[0, 0].legend(loc="lower right")
    fig.suptitle("Learning curves (mean over seeds, shaded 95% CI; epoch 0 = before training)",
                 fontsize=11.5)
    return fig


def _spearman_text(d: pd.DataFrame) -> str:
    def rho(x: pd.DataFrame) -> tuple[float, float]:
        if len(x) < 3 or x.init_score.nunique() < 2 or x.test_acc.nunique() < 2:
            return np.nan, np.nan
        r, p = sps.spearmanr(x.init_score, x.test_acc)
        return float(r), float(p)

    pooled, p = rho(d)
    within = [r for _, g in d.groupby("sparsity") if np.isfinite(r := rho(g)[0])]
    within = float(np.mean(within)) if within else np.nan
    fmt = lambda v: "n/a" if not np.isfinite(v) else f"{v:+.2f}"  # noqa: E731
    pt = "" if not np.isfinite(p) else f", p = {p:.2g}"
    return (f"Spearman ρ (all) = {fmt(pooled)} (n = {len(d)}{pt})\n"
            f"mean ρ within a sparsity level = {fmt(within)}")


def _candidates_panel(ax, s: pd.DataFrame, random: pd.DataFrame, rng, title: str) -> None:
    """Candidate scores per level, centred on their draw's median (`s.med`): box, a strip of
    dots, the chosen masks and the random controls (`random`, its init_score)."""
    levels = sorted(s.sparsity.unique())
    pos = {lv: k for k, lv in enumerate(levels)}
    rel = [(g.score - g.med).to_numpy() for _, g in s.groupby("sparsity")]
    ax.boxplot(rel, positions=range(len(levels)), widths=0.5, showfliers=False,
               medianprops={"color": "0.3"}, boxprops={"color": "0.5"},
               whiskerprops={"color": "0.5"}, capprops={"color": "0.5"})
    shown = s.sample(frac=1, random_state=0).groupby("sparsity").head(MAX_STRIP)
    xs = shown.sparsity.map(pos) + rng.uniform(-0.18, 0.18, len(shown))
    ax.scatter(xs, shown.score - shown.med, s=6, color="0.55", alpha=0.35, lw=0,
               label="candidate")
    w = s[s.chosen.astype(bool)]
    ax.scatter(w.sparsity.map(pos), w.score - w.med, marker="D", s=30, zorder=3,
               color=METHOD_COLORS["weedout"], edgecolor="white", lw=0.6,
               label="chosen (weedout)")
    a = random[random.sparsity.isin(pos)]
    ax.scatter(a.sparsity.map(pos), a.init_score - a.med, marker="x", s=28, zorder=3,
               color=METHOD_COLORS["random"], lw=1.2, label="random control")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(range(len(levels)), [f"{lv * 100:g}" for lv in levels])
    ax.set_xlabel("node sparsity (%)")
    ax.set_ylabel("score − median of its draw (nats)")
    ax.set_title(f"{title}: candidate scores at init", fontsize=10)
    ax.legend(loc="best", fontsize=7.5)


def _prediction_panel(bx, d: pd.DataFrame, title: str) -> None:
    """Initial score against final test accuracy of weedout and random networks, with rho."""
    acc_levels = sorted(d.sparsity.unique())
    for m in ("weedout", "random"):
        for k, lv in enumerate(acc_levels):
            g = d[(d.method == m) & (d.sparsity == lv)]
            bx.scatter(g.init_score, g.test_acc * 100, color=METHOD_COLORS[m], alpha=0.75,
                       marker=SPARSITY_MARKERS[k % len(SPARSITY_MARKERS)], s=24, lw=0)
    bx.text(0.98, 0.97, _spearman_text(d), transform=bx.transAxes, ha="right", va="top",
            fontsize=8, bbox={"boxstyle": "round", "fc": "white", "ec": "0.8", "alpha": 0.85})
    handles = [Line2D([], [], ls="", marker="o", color=METHOD_COLORS[m], label=m)
               for m in ("weedout", "random")]
    handles += [Line2D([], [], ls="", marker=SPARSITY_MARKERS[k % len(SPARSITY_MARKERS)],
                       color="0.4", label=f"{lv * 100:g}% sparse")
                for k, lv in enumerate(acc_levels)]
    bx.legend(handles=handles, loc="best", fontsize=7.5)
    bx.set_xlabel("score at initialisation (loss, nats; lower = better)")
    bx.xaxis.set_major_locator(MaxNLocator(4))  # long decimals overlap otherwise
    bx.set_ylabel("final test accuracy (%)")
    bx.set_title(f"{title}: does the initial score predict accuracy?", fontsize=10)


def plot_search(search: pd.DataFrame, accuracy: pd.DataFrame) -> Figure:
    """Per dataset x model: (a) candidate scores at each sparsity, centred on the median of
    their (sparsity, seed) draw, with the chosen and the random-control masks marked;
    (b) initial score vs final test accuracy of weedout / random nets, with Spearman's rho."""
    panels = panel_cells(search)
    fig, axes = subplots(len(panels), 2, w=5.0, h=3.5)
    rng = np.random.default_rng(0)  # one stream across the panels: the strips' jitter
    keys = PANEL_KEYS + ["sparsity", "seed"]
    med = search.groupby(keys).score.median().rename("med")
    for i, (dataset, model) in enumerate(panels):
        cell = accuracy[(accuracy.dataset == dataset) & (accuracy.model == model)]
        s = search[(search.dataset == dataset) & (search.model == model)].join(med, on=keys)
        random = cell[cell.method == "random"].join(med, on=keys)
        _candidates_panel(axes[i][0], s, random, rng, f"{dataset} · {model}")
        d = cell[cell.method.isin(["weedout", "random"])].dropna(subset=["init_score", "test_acc"])
        _prediction_panel(axes[i][1], d, f"{dataset} · {model}")
    fig.suptitle("Random search: candidate scores and their relation to trained accuracy",
                 fontsize=11.5)
    return fig
