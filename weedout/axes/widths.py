"""The degree of overparameterization (the paper's future work), as a grid axis: parents of
several widths, `Config.widths` (factors of the preset's parent: 0.5 and 2 are half and twice
its nodes per layer). Each factor is a cell of its own, named "mlp-x2" (`config.width_model`),
so it has its own records, parent seeds and Holm families, and every table of the run carries
`width` and `parent` columns (`tag`). Two views of one grid:

- the same sparsity across parent widths (`table`): each width's drop versus its own dense
  parent, and where a drop the size of the paper's (about 15 points at 80%) appears (`summary`);
- the same final network carved from parents of increasing width (`pool_tests`): does a larger
  pool to search in help? Levels carve networks of one size when parent x (1 - s) is equal
  (64 nodes at 0.5 = 128 at 0.75 = 256 at 0.875); they are matched by the kept widths the
  trained networks actually have, not by arithmetic on the nominal levels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from ..analysis import stats
from ..config import Config, grid
from ..viz import fmt, plotting
from .base import Axis, committed

LEVEL = ["dataset", "base", "width", "parent", "sparsity"]


def parent(cfg, model: str) -> tuple[int, ...]:
    """The hidden widths of a cell's parent ("mlp-x2" with mlp_widths 256-256: (512, 512))."""
    base, factor = grid.parent_of(model)
    return grid.parent_widths(cfg.mlp_widths if base == "mlp" else cfg.cnn_channels, factor)


def tag(cfg, df: pd.DataFrame) -> pd.DataFrame:
    """`df` with `width` (the factor) and `parent` (its widths, "512-512") after `model`, in a
    run with a widths axis; the tables of other runs are returned as they are."""
    if not cfg.widths or "model" not in df.columns or "width" in df.columns:
        return df
    out = df.copy()
    at = out.columns.get_loc("model") + 1
    out.insert(at, "width", out["model"].map(lambda m: grid.parent_of(m)[1]))
    out.insert(at + 1, "parent", out["model"].map(lambda m: "-".join(map(str, parent(cfg, m)))))
    return out


def table(cfg, stats_df: pd.DataFrame, accuracy: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x parent width x sparsity: the kept widths of the sparse networks,
    mean test accuracy of dense, weedout and random (points), their drops versus the dense
    parent of the same width and seed, and weedout vs random (difference, Holm p, verdict:
    families are per parent width, as the statistics of every cell)."""
    s = tag(cfg, stats_df[stats_df.sparsity > 0])
    kept = (accuracy[accuracy.method == "random"].groupby(["dataset", "model", "sparsity"])
            ["widths"].agg(lambda w: "/".join(sorted(set(map(str, w))))).rename("kept"))
    s = s.merge(kept.reset_index(), on=["dataset", "model", "sparsity"], how="left")
    pts = lambda c: 100 * s[c]  # noqa: E731 (accuracies in points)
    out = pd.DataFrame({
        "dataset": s.dataset, "base": s.model.map(lambda m: grid.parent_of(m)[0]),
        "width": s.width, "parent": s.parent,
        "parent_nodes": s.model.map(lambda m: parent(cfg, m)[0]),  # first hidden layer
        "sparsity": s.sparsity, "node_sparsity": s.node_sparsity, "kept": s.kept,
        "kept_nodes": s.kept.map(_nodes),
        "dense": pts("mean_dense"), "weedout": pts("mean_weedout"), "random": pts("mean_random"),
        **{f"{m}_{e}": pts(f"ci_{e}_{m}") for m in ("weedout", "random") for e in ("low", "high")},
        "drop_weedout": pts("drop_weedout"), "drop_random": pts("drop_random"),
        "diff": pts("diff_mean"), "p_holm": s.p_holm, "verdict": s.verdict})
    return out.sort_values(LEVEL, ignore_index=True)


def _nodes(kept) -> float:
    """Hidden nodes kept in all ("32-32": 64); NaN where the seeds' networks differ in size."""
    return float(sum(map(int, kept.split("-")))) if isinstance(kept, str) and "/" not in kept \
        else np.nan


def pool_tests(cfg, widths_table: pd.DataFrame, accuracy: pd.DataFrame,
               alpha: float = 0.05) -> pd.DataFrame:
    """For every final network size carved from two or more parent widths, per method (weedout
    and random): the trained accuracy from the widest parent minus that from the narrowest, paired
    by seed (the same data order and scoring batch; the parents' initialisations differ), with
    t-interval, paired t-test, TOST at the run's margin and Holm over the sizes of a dataset x
    model x method. A positive difference: the larger pool gave the better network."""
    acc = stats.with_dead(accuracy)
    t = widths_table.dropna(subset=["kept_nodes"])
    rows = []
    for (ds, base, kept), g in t.groupby(["dataset", "base", "kept"], sort=True):
        if g.width.nunique() < 2:
            continue
        small, large = g.loc[g.width.idxmin()], g.loc[g.width.idxmax()]
        for method in ("weedout", "random"):
            seeds = {r.width: _by_seed(acc, ds, grid.width_model(base, r.width), r.sparsity,
                                       method) for r in (small, large)}
            x, y = stats.paired(seeds[large.width], seeds[small.width])
            rows.append({"dataset": ds, "base": base, "kept": kept, "method": method,
                         "small_parent": small.parent, "small_sparsity": small.sparsity,
                         "large_parent": large.parent, "large_sparsity": large.sparsity,
                         "parents": int(g.width.nunique()),
                         "mean_small": 100 * float(np.nanmean(y)) if len(y) else np.nan,
                         "mean_large": 100 * float(np.nanmean(x)) if len(x) else np.nan,
                         **stats.paired_test(x, y, margin=cfg.equivalence_margin, alpha=alpha)})
    return stats.pairs_table(rows, ["dataset", "base", "method"], alpha,
                             "larger better", "larger worse")


def _by_seed(acc: pd.DataFrame, ds: str, model: str, s: float, method: str) -> pd.Series:
    g = acc[(acc.dataset == ds) & (acc.model == model) & np.isclose(acc.sparsity, s)
            & (acc.method == method)]
    return g.set_index("seed")["test_acc"]


def summary(widths_table: pd.DataFrame, level: float = 0.8, drop: float = 15.0) -> pd.DataFrame:
    """Per dataset x model x parent width at one sparsity `level` (default 0.8, the paper's):
    dense and random accuracy, random's drop versus dense (points), and whether it reaches
    `drop` (the paper's "about 15%"). Relative drop too: the paper's % may be either."""
    t = widths_table[np.isclose(widths_table.sparsity, level)]
    out = t[["dataset", "base", "width", "parent", "kept", "dense", "random", "drop_random",
             "weedout", "diff", "verdict"]].copy()
    out["rel_drop_random"] = 100 * out.drop_random / out.dense
    out[f"drop_ge_{drop:g}"] = out.drop_random >= drop
    return out.reset_index(drop=True)


def plot(widths_table: pd.DataFrame):
    """Per dataset, two panels over the parent's nodes per layer (log scale): left, random's drop
    versus the dense parent at each sparsity (the dotted line: 15 points); right, trained
    accuracy of networks of one final size (one colour per size) carved from parents of
    increasing width, weedout solid and random dashed, with 95% CIs of the mean over seeds."""
    t = widths_table
    cells = sorted(t[["dataset", "base"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = plotting.subplots(len(cells), 2, w=5.4, h=3.6)
    cmap = plotting.plt.get_cmap("viridis")
    levels = sorted(t.sparsity.unique())
    for row, (ds, base) in enumerate(cells):
        c = t[(t.dataset == ds) & (t.base == base)]
        ax = axes[row, 0]
        for i, s in enumerate(levels):
            g = c[np.isclose(c.sparsity, s)].sort_values("parent_nodes")
            ax.plot(g.parent_nodes, g.drop_random, marker=plotting.SPARSITY_MARKERS[i % 12],
                    color=cmap(i / max(1, len(levels) - 1)), lw=1.2, ms=4, label=f"{100 * s:g}%")
        ax.axhline(15, color="black", lw=0.8, ls=":")
        ax.set_ylabel("drop vs dense parent (pp, random)")
        ax.set_title(f"{ds} · {base}: same sparsity", fontsize=10.5)
        ax.legend(title="sparsity", fontsize=7.5, title_fontsize=8)
        ax = axes[row, 1]
        sizes = [k for k, g in c.groupby("kept") if g.width.nunique() >= 2]
        handles = []
        for i, k in enumerate(sorted(sizes, key=_nodes)):
            g = c[c.kept == k].sort_values("parent_nodes")
            color = plotting.plt.get_cmap("tab10")(i % 10)
            for method, ls in (("weedout", "-"), ("random", "--")):
                err = [g[method] - g[f"{method}_low"], g[f"{method}_high"] - g[method]]
                ax.errorbar(g.parent_nodes * (1.03 if method == "random" else 1), g[method],
                            yerr=err, ls=ls, marker="o", ms=4, color=color, capsize=2, lw=1.2)
            handles.append(Line2D([], [], color=color, marker="o", ms=4, label=k))
        handles += [Line2D([], [], color="black", ls=ls, label=m)
                    for m, ls in (("weedout", "-"), ("random", "--"))]
        ax.set_ylabel("test accuracy (%, 95% CI)")
        ax.set_title(f"{ds} · {base}: same final network", fontsize=10.5)
        ax.legend(handles=handles, fontsize=7.5, title="kept nodes per layer",
                  title_fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
        for ax in axes[row]:
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlabel("parent nodes per layer")
    fig.suptitle("Degree of overparameterization: parents of increasing width", fontsize=11.5)
    return fig


def render_widths(root: Path, preset: str) -> str:
    """Per dataset and parent width: dense accuracy, random's drop at every level, and weedout
    vs random over the levels; then, per final network size carved from several parents, the
    widest parent's network minus the narrowest's (`pool_tests`)."""
    got = committed(root, preset, "widths.csv", "pools.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    t, pools = pd.read_csv(folder / "widths.csv"), pd.read_csv(folder / "pools.csv")
    levels = sorted(t.sparsity.unique())
    head = " / ".join(f"{100 * s:g}%" for s in levels)
    lines = [f"From {fmt.evidence(preset, run)}.", "",
             f"| dataset / model | parent (nodes per layer) | dense (%) | random's drop vs dense at "
             f"{head} (pp) | weedout vs random: equivalent / inconclusive / better / worse | "
             "mean Δ (pp) | smallest p (Holm) |", "|---|---|---:|---:|---|---:|---:|"]
    for (ds, base, width), g in t.groupby(["dataset", "base", "width"], sort=True):
        g = g.sort_values("sparsity")
        counts = [int((g.verdict == v).sum()) for v in ("equivalent", "inconclusive")] + \
                 [int((g.verdict == f"weedout {v}").sum()) for v in ("better", "worse")]
        lines.append(f"| {ds} / {base} | {g.parent.iloc[0]} | {g.dense.iloc[0]:.1f} | "
                     f"{' / '.join(f'{d:.1f}' for d in g.drop_random)} | "
                     f"{' / '.join(map(str, counts))} | {fmt.signed(g['diff'].mean(), 2)} | "
                     f"{fmt.p(g.p_holm.min(), 2)} |")
    lines += ["", "The same final network from the widest and the narrowest parent that carve it "
              "(pp, paired by seed, 95% CI; verdict at ±1 point with the Holm-adjusted p of its test, "
              "TOST for equivalent, else the paired t-test; Holm over the sizes of a dataset and "
              "method):", "",
              "| dataset / model | kept per layer | parents (nodes per layer) | weedout: widest − "
              "narrowest | verdict | random: widest − narrowest | verdict |",
              "|---|---|---|---:|---|---:|---|"]
    pools = pools.assign(nodes=pools.kept.map(lambda k: sum(map(int, k.split("-")))))
    for (ds, base, _, kept), g in pools.groupby(["dataset", "base", "nodes", "kept"], sort=True):
        r = g.set_index("method")
        # the p of the test behind the verdict: TOST for "equivalent", else the paired t-test
        p_of = lambda m: r.loc[m, "tost_p_holm" if r.loc[m, "verdict"] == "equivalent"  # noqa: E731
                               else "p_holm"]
        cells = [f"{fmt.signed(r.loc[m, 'diff_mean'], 2)} ({r.loc[m, 'diff_ci_low']:+.2f} … "
                 f"{r.loc[m, 'diff_ci_high']:+.2f}) | {r.loc[m, 'verdict']} ({fmt.p(p_of(m), 2)})"
                 for m in ("weedout", "random")]
        lines.append(f"| {ds} / {base} | {kept} | {r.small_parent.iloc[0]} → "
                     f"{r.large_parent.iloc[0]} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


class Widths(Axis):
    name = "widths"
    fields = ("widths",)
    tables = {"widths.csv": "analysis", "pools.csv": "analysis"}
    title = "Degree of overparameterization"
    about = ("Per parent width at 80% sparsity: dense and random accuracy and random's drop "
             "against its own dense parent (the paper reports about 15% there); then the same "
             "final network carved from the widest and the narrowest parent that can make it, "
             "paired by seed (a positive difference: the larger pool gave the better network).")

    def tag(self, cfg: Config, df: pd.DataFrame) -> pd.DataFrame:
        return tag(cfg, df)

    def analysis_tables(self, cfg: Config, read, stats_table: pd.DataFrame) -> dict:
        accuracy = read("accuracy.csv")
        by_width = table(cfg, stats_table, accuracy)
        return {"widths.csv": by_width, "pools.csv": pool_tests(cfg, by_width, accuracy)}

    def figures(self, cfg: Config, read) -> dict:
        return {"overparam": plot(read("widths.csv"))}

    def summary(self, cfg: Config, read) -> list:
        pools = read("pools.csv")
        if len(pools):
            pools = pools[["dataset", "base", "kept", "method", "small_parent", "large_parent",
                           "mean_small", "mean_large", "diff_mean", "diff_ci_low",
                           "diff_ci_high", "p_holm", "verdict"]]
        return [("Per parent width at 80% sparsity", summary(read("widths.csv"), 0.8)),
                ("The same final network from the widest vs the narrowest parent", pools)]

    def report(self, root: Path, preset: str) -> str:
        return render_widths(root, preset)
