"""Searching after some training (notebooks/study/05_search_after): the `cpu_search_after` run
trains each dense parent for a few epochs, then searches it as it is (weedout.axes.search_after).
The head start (weedout.analysis.headstart): how far below the median candidate the winner
scores, here and at initialisation in `cpu`, and each method's lead over random epoch by epoch;
the verdicts at the end from methods.csv."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from ..analysis import headstart
from ..viz import fmt
from ..viz.plotting import METHOD_COLORS
from . import pai, study

PRESET, AT_INIT = "cpu_search_after", "cpu"
KEYS = ["dataset", "model", "sparsity"]
OTHERS = ("C2", "C4", "C9", "C6", "C8")  # the other methods' colours: none near weedout's or random's


def cut_epoch(root: Path) -> tuple[int, int]:
    """(epochs the parent trains before the search, epochs in all), from run.json."""
    cfg = study.run_of(root, PRESET)["config"]
    return cfg["search_after"], cfg["epochs"]


def plot_spread(root: Path, cell: tuple) -> Figure:
    """One seed's candidates at one level (dataset, model, sparsity, seed): their scores minus
    the median candidate's, at initialisation (`cpu`) and after the parent's first epochs; the
    winner is the lowest point of each row."""
    k, _ = cut_epoch(root)
    fig = Figure(figsize=(8, 2.8), layout="constrained")
    ax = fig.subplots()
    for row, (preset, label) in enumerate(((AT_INIT, "at initialisation"),
                                           (PRESET, f"after {k} epochs"))):
        s = study.table(root, preset, "search").set_index(KEYS + ["seed"]).loc[cell]
        d = s.score - s.score.median()
        ax.scatter(d, [row] * len(d), s=12, color="0.55", alpha=0.7)
        ax.scatter(d[s.chosen.astype(bool)], [row], marker="D", s=50,
                   color=METHOD_COLORS["weedout"], zorder=3)
    ax.axvline(0, color="black", lw=0.8, ls=":")
    ax.set_yticks([0, 1], ["at initialisation", f"after {k} epochs"])
    ax.set(ylim=(-0.6, 1.6), xlabel="candidate's loss minus the median candidate's (nats); "
           "diamond: the winner", title=f"{cell[0]} / {cell[1]}, sparsity {cell[2]:.0%}, seed {cell[3]}")
    return fig


def gaps(root: Path) -> pd.DataFrame:
    """Per level: the winner's loss below the median candidate's at initialisation (`cpu`) and
    after the parent's first epochs (this run), means over seeds, and their ratio."""
    after = headstart.search_gap(study.table(root, PRESET, "search")).set_index(KEYS).gap
    init = headstart.search_gap(study.table(root, AT_INIT, "search")).set_index(KEYS).gap
    out = pd.DataFrame({"at init": init.reindex(after.index), "after": after})
    return out.assign(ratio=out["after"] / out["at init"])


def leads(root: Path) -> pd.DataFrame:
    """Each method's test accuracy minus random's (points, paired by seed, mean over seeds) at
    every epoch from the cut on."""
    k, last = cut_epoch(root)
    return headstart.gap_by_epoch(study.table(root, PRESET, "curves"), range(k + 1, last + 1))


def plot_leads(root: Path, levels=(0.5, 0.8, 0.9)) -> Figure:
    """The lead over random against the epoch, one panel per dataset/model and level."""
    lead = leads(root)
    cells = sorted(set(zip(lead.dataset, lead.model)))
    fig = Figure(figsize=(3.2 * len(levels), 2.6 * len(cells)), layout="constrained")
    axes = fig.subplots(len(cells), len(levels), squeeze=False, sharex=True)
    for (i, cell), (j, s) in ((a, b) for a in enumerate(cells) for b in enumerate(levels)):
        ax = axes[i, j]
        d = lead[(lead.dataset == cell[0]) & (lead.model == cell[1]) & ((lead.sparsity - s).abs() < 1e-9)]
        for i, (method, g) in enumerate(d.groupby("method")):
            ax.plot(g.epoch, g["diff"], label=method, lw=1.2, ls="--" if "inverted" in method
                    else "-", color=METHOD_COLORS.get(method, OTHERS[i % len(OTHERS)]))
        ax.axhline(0, color="black", lw=0.8, ls=":")
        ax.set_title(f"{cell[0]} / {cell[1]}, {s:.0%}", fontsize=9)
        ax.set(xlabel="epoch" if i == len(cells) - 1 else None,
               ylabel="lead over random (points)" if j == 0 else None)
    axes[0, -1].legend(fontsize=7)
    return fig


def _search(root: Path) -> str:
    k, _ = cut_epoch(root)
    g = gaps(root).reset_index()
    halves = [(g.sparsity < 0.5, "below 50%"), (g.sparsity >= 0.5, "from 50% on")]
    parts = [f"{label}, {study.span(g[m].ratio, '{:.0f}')} times (winner "
             f"{study.span(g[m]['after'], '{:.3f}')} nats below the median, against "
             f"{study.span(g[m]['at init'], '{:.3f}')} at initialisation)" for m, label in halves]
    return (f"After {k} epochs the winner lies further below the median candidate than at "
            f"initialisation: {'; '.join(parts)}.")


def _weedout(lead: pd.DataFrame) -> pd.Series:
    return lead[lead.method == "weedout"]["diff"]


def _leads(root: Path, middle: int = 10) -> str:
    k, last = cut_epoch(root)
    lead = leads(root)
    at = {e: lead[lead.epoch == e] for e in (k + 1, middle, last)}
    top = at[k + 1].loc[at[k + 1]["diff"].idxmax()]
    searched = lambda d: d[~d.method.str.endswith("_inverted")]["diff"]  # noqa: E731
    return (f"One epoch after the cut (epoch {k + 1}) the leads over random reach "
            f"{fmt.signed(searched(at[k + 1]).max(), 1)} points ({top.method}, {top.dataset} / "
            f"{top.model} at {top.sparsity:.0%}); weedout's alone reach "
            f"{fmt.signed(_weedout(at[k + 1]).max(), 1)}. By epoch "
            f"{middle} the kept-score methods' leads are {study.span(searched(at[middle]), '{:+.1f}')} "
            f"points, and at epoch {last} {study.span(searched(at[last]), '{:+.1f}')}.")


def _verdicts(root: Path) -> str:
    m = pai.methods(root, PRESET)
    worse = pai.notable(m, ("worse",))
    better = pai.notable(m, ("better",))
    return (f"After training, against random over {m.sparsity.nunique()} levels × "
            f"{m.groupby(['dataset', 'model']).ngroups} dataset/models: "
            + "; ".join(f"{meth} {', '.join(f'{n} {v}' for v, n in g.verdict.value_counts().items())}"
                        for meth, g in m.groupby("method"))
            + f". Better: {'; '.join(better) or 'nowhere'}. Worse: {'; '.join(worse) or 'nowhere'}.")


def _drop(root: Path, level: float = 0.8) -> str:
    """weedout's drop vs dense at `level` here and when searching at initialisation (cpu_pai,
    the same machine type)."""
    here, init = (study.table(root, p, "stats").set_index(KEYS).drop_weedout
                  for p in (PRESET, pai.PRESET))
    return "; ".join(f"{ds} / {model}, {fmt.pct(v)} points here and {fmt.pct(init.loc[(ds, model, s)])} "
                     f"in `{pai.PRESET}`" for (ds, model, s), v in here.items() if abs(s - level) < 1e-9)


def after_findings(root: Path) -> str:
    return "\n".join([f"- **The search gets more selective.** {_search(root)}",
                      f"- **A head start that does not last.** {_leads(root)}",
                      f"- **Verdicts at the end.** {_verdicts(root)}",
                      f"- **Weedout's drop against dense at 80%**: {_drop(root)}."])


def after_answer(root: Path) -> str:
    k, last = cut_epoch(root)
    m = pai.methods(root, PRESET)
    kept = m[~m.method.str.endswith("_inverted")]
    n = kept.verdict.value_counts()
    return (f"{'No' if n.get('better', 0) == 0 else 'At some levels'}: searched after {k} epochs, the winner lies {study.span(gaps(root).ratio, '{:.0f}')} "
            f"times further below the median candidate than at initialisation and its network starts "
            f"up to {fmt.signed(_weedout(leads(root)[lambda d: d.epoch == k + 1]).max(), 1)} points "
            f"ahead of random, but after {last} epochs {', '.join(sorted(kept.method.unique()))} are "
            f"better than random at {n.get('better', 0)} and worse at {n.get('worse', 0)} of "
            f"{len(kept)} method-levels.")
