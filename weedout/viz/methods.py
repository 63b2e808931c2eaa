"""The figures and tables of runs with more methods than weedout and random: every method
against the random control (`plot_methods`, `methods_table`, from weedout.analysis.comparison)
and every method's accuracy against its compute (`plot_compute`, from compute.csv)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import fmt, plotting


def _cost(r) -> str:
    if not fmt.present(r.forward):
        return "–"
    flops = f"{r.flops / 1e6:.1f}" if fmt.present(getattr(r, "flops", None)) else fmt.NA
    return f"{r.forward:.0f} / {r.backward:.0f} / {flops} / {r.seconds:.3f} s"


def methods_table(methods: pd.DataFrame) -> pd.DataFrame:
    """The main table's row blocks, one per method: accuracy, difference vs random, Holm p,
    TOST verdict and the search cost (forward / backward passes / MFLOPs / seconds per search)."""
    rows = []
    for r in methods.sort_values(["dataset", "model", "method", "sparsity"]).itertuples(index=False):
        rows.append({
            "Dataset": str(r.dataset), "Model": str(r.model), "Method": str(r.method),
            "Sparsity (%)": f"{100 * r.sparsity:g}",
            "Achieved (%)": (f"{100 * r.node_sparsity:.1f}" if fmt.present(r.node_sparsity)
                             else fmt.NA),
            "n": f"{r.n_pairs:.0f}" if fmt.present(r.n_pairs) else fmt.NA,
            "Accuracy (%)": fmt.mean_ci(r.mean, r.ci_low, r.ci_high),
            "Random (%)": fmt.mean_ci(r.mean_random, r.ci_low_random, r.ci_high_random),
            "Δ vs random [95% CI] (pp)": fmt.diff(r.diff_mean, r.diff_ci_low, r.diff_ci_high),
            "p (Holm)": fmt.p(r.p_holm),
            "TOST p (Holm, ±margin)": f"{fmt.p(r.tost_p_holm)} (±{100 * r.margin:.2f} pp)",
            "Verdict": str(r.verdict),
            "Cost: fwd / bwd / MFLOPs / s": _cost(r),
        })
    return pd.DataFrame(rows)


def style(method: str, order: list[str]):
    """Colour per base method (its inverted twin shares it, dashed; none close to random's
    blue band); controls in black and grey, dotted; dense, weedout and random in the house
    colours, solid."""
    if method in plotting.METHOD_COLORS:
        return plotting.METHOD_COLORS[method], "-"
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
    panels = plotting.panel_cells(methods)
    fig, axes = plotting.subplots(1, len(panels), w=5.2, h=4.2)
    order = sorted(methods.method.unique())
    for ax, (ds, model) in zip(axes.flat, panels):
        d = methods[(methods.dataset == ds) & (methods.model == model)]
        ref = d.drop_duplicates("sparsity").sort_values("sparsity")
        x = ref.sparsity.to_numpy(float) * 100
        ax.fill_between(x, *(plotting.in_range(ref[c] * 100) for c in ("ci_low_random", "ci_high_random")),
                        color=plotting.METHOD_COLORS["random"], alpha=0.18, lw=0, label="random (95% CI)")
        ax.plot(x, ref.mean_random * 100, color=plotting.METHOD_COLORS["random"], lw=1.2)
        if dense is not None:
            dm = dense[(dense.dataset == ds) & (dense.model == model)].test_acc.mean()
            ax.axhline(dm * 100, color=plotting.METHOD_COLORS["dense"], ls="--", lw=1, label="dense")
        for m in order:
            g = d[d.method == m].sort_values("sparsity")
            c, ls = style(m, order)
            ax.plot(g.sparsity * 100, g["mean"] * 100, color=c, ls=ls, lw=1.3, marker=".", ms=4, label=m)
        ax.set_xlabel("node sparsity (%)")
        ax.set_ylabel("test accuracy (%)")
        n = d["n_pairs"].max()
        ax.set_title(f"{ds} · {model}   {plotting.seeds_label(n)}".rstrip(), fontsize=10.5)
    return plotting.finish(
        fig, axes, "Every method vs the random control (mean over seeds; band: random's 95% CI)")


def plot_compute(compute: pd.DataFrame):
    """Test accuracy against total compute (search + training, GFLOPs, log scale): one line per
    method through its sparsity levels (mean over seeds; the marker grows with the sparsity),
    the dense parent as a star. Methods of equal accuracy further left are cheaper."""
    d = compute[np.isfinite(compute.total_flops)]
    panels = plotting.panel_cells(d)
    fig, axes = plotting.subplots(1, len(panels), w=5.2, h=4.2)
    order = sorted(set(d.method) - {"dense"})
    for ax, (ds, model) in zip(axes.flat, panels):
        cell = d[(d.dataset == ds) & (d.model == model)]
        means = cell.groupby(["method", "sparsity"])[["total_flops", "test_acc"]].mean().reset_index()
        for m in order:
            g = means[means.method == m].sort_values("sparsity")
            c, ls = style(m, order)
            ax.plot(g.total_flops / 1e9, g.test_acc * 100, color=c, ls=ls, lw=1.2, label=m)
            ax.scatter(g.total_flops / 1e9, g.test_acc * 100, color=c, s=6 + 30 * g.sparsity,
                       zorder=3)
        dense = means[means.method == "dense"]
        if len(dense):
            ax.scatter(dense.total_flops / 1e9, dense.test_acc * 100, marker="*", s=140,
                       color=plotting.METHOD_COLORS["dense"], zorder=4, label="dense")
        ax.set_xscale("log")   # ticks at 1-2-5 steps, labelled plainly (no 2x10^-2 clutter)
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("search + training compute per network (GFLOPs)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{ds} · {model}", fontsize=10.5)
    return plotting.finish(
        fig, axes, "Accuracy against compute (mean over seeds; larger marker = sparser)")


def plot_split(split: pd.DataFrame):
    """How each method spreads its node budget over the layers (global masks): the first hidden
    layer's share of the kept nodes against sparsity, mean over seeds with ± sd, one line per
    method (`split`: weedout.axes.structure.allocation)."""
    panels = plotting.panel_cells(split)
    fig, axes = plotting.subplots(1, len(panels), w=5.2, h=4.2)
    order = sorted(split.method.unique())
    for ax, (ds, model) in zip(axes.flat, panels):
        d = split[(split.dataset == ds) & (split.model == model)]
        for m in order:
            g = d[d.method == m].sort_values("sparsity")
            c, ls = style(m, order)
            x = 100 * g.sparsity
            ax.plot(x, g.first_share, color=c, ls=ls, lw=1.3, marker=".", ms=4, label=m)
            ax.fill_between(x, g.first_share - g.first_share_sd, g.first_share + g.first_share_sd,
                            color=c, alpha=0.08, lw=0)
        ax.set_xlabel("node sparsity (%)")
        ax.set_ylabel("first hidden layer's share of the kept nodes")
        ax.set_title(f"{ds} · {model}", fontsize=10.5)
    return plotting.finish(
        fig, axes, "The split of the node budget over the layers (mean over seeds, band: ± sd)")
