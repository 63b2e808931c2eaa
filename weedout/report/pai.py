"""Is anything better than random? (notebooks/study/03_anything_better): the node-level
pruning-at-initialisation scores, their inverted twins and the two controls of the `cpu_pai` run,
each against the random network of its seed (results/cpu_pai/methods.csv, written by
weedout.analysis.comparison; the verdict rule as in the paper's claims)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core import saliency
from ..viz import fmt
from . import study

PRESET = "cpu_pai"
CONTROLS = ("scratch", "rescaled")
INVERTED = "_inverted"

# What each method keeps (the text of weedout.core.saliency and weedout.core.search, short).
METHODS = {
    "weedout": "the paper's random search: the mask of lowest loss among the run's candidates",
    "magnitude": "the nodes with the largest L1 norm of incoming weights (Li et al. 2017)",
    "snip": "the largest |∂L/∂gate| on the seed's scoring batch (Lee et al. 2019, node level)",
    "grasp": "the largest effect on the gradient flow ½‖∇θL‖², a Hessian-gradient product "
             "(Wang et al. 2020)",
    "synflow": "the largest gate · ∂R/∂gate, R the output sum of the |weights| network on an "
               f"all-ones input, pruned in {saliency.SYNFLOW_ITERATIONS} rounds (Tanaka et al. 2020)",
    "*_inverted": "the same scores, keeping the least salient nodes (Frankle et al. 2021's "
                  "sanity check)",
    "scratch": "control: a freshly initialised dense network with the random mask's widths "
               "(Liu et al. 2019)",
    "rescaled": "control: the random mask, its kept weights rescaled to the sparse network's "
                "fan-in",
}


def methods(root: Path, preset: str = PRESET) -> pd.DataFrame:
    return study.table(root, preset, "methods")


def method_table(root: Path) -> pd.DataFrame:
    """What every method keeps, and what its search costs one network (mean passes over the
    scoring batch and MFLOPs, from cost.csv)."""
    cost = study.table(root, PRESET, "cost").groupby("method")[["forward", "backward", "flops"]].mean()

    def paid(name: str) -> str:
        if name in CONTROLS:
            return "no search"
        if name.endswith(INVERTED):
            return "as the score it inverts"
        c = cost.loc[name]
        return (f"{c.forward:.0f} forward / {c.backward:.0f} backward, {c.flops / 1e6:.1f} MFLOPs"
                if c.forward + c.backward else "no pass over data")

    return pd.DataFrame([{"method": name, "keeps": keeps, "search cost per network (mean over the run)": paid(name)}
                         for name, keeps in METHODS.items()]).set_index("method")


def notable(table: pd.DataFrame, verdicts=("better", "worse")) -> list[str]:
    """'method on dataset / model at s% (+d points, Holm p)' for every level whose verdict is
    one of `verdicts` (differences as fractions, as in methods.csv)."""
    hit = table[table.verdict.isin(verdicts)].sort_values(["dataset", "model", "sparsity", "method"])
    return [f"{r.method} on {r.dataset} / {r.model} at {r.sparsity:.0%} "
            f"({fmt.signed(100 * r.diff_mean, 2)} points, Holm p {fmt.p(r.p_holm, 3)})"
            for r in hit.itertuples()]


def _level_context(m: pd.DataFrame) -> list[str]:
    """For every level with a *better* verdict: how many of that level's methods are above the
    random control too, and where random's mean sits among them."""
    out = []
    for (ds, model, s), _ in m[m.verdict == "better"].groupby(["dataset", "model", "sparsity"]):
        lv = m[(m.dataset == ds) & (m.model == model) & (m.sparsity == s)]
        out.append(f"at {ds} / {model} {s:.0%}, {int((lv.diff_mean > 0).sum())} of the {len(lv)} "
                   f"methods are above random (random {fmt.pct(lv.mean_random.iloc[0])}%, the "
                   f"methods {study.span(100 * lv['mean'])}%)")
    return out


def _inverted(m: pd.DataFrame) -> str:
    """The inverted twins against their originals: mean differences from random and verdicts."""
    scored = m[~m.method.isin(("weedout",) + CONTROLS)]
    inv = scored.method.str.endswith(INVERTED)
    mean = 100 * scored.groupby(["dataset", "model", "method"]).diff_mean.mean()
    is_inv = mean.index.get_level_values("method").str.endswith(INVERTED)
    count = lambda g: int(g.verdict.isin(["better", "worse"]).sum())  # noqa: E731
    return (f"Averaged over the levels of a dataset/model, an inverted twin's difference from "
            f"random ranges {study.span(mean[is_inv], '{:+.2f}')} points, an original score's "
            f"{study.span(mean[~is_inv], '{:+.2f}')}; the inverted twins get {count(scored[inv])} "
            f"better or worse verdicts, the originals {count(scored[~inv])}.")


def controls_table(root: Path) -> pd.DataFrame:
    """The two controls at the highest level of every dataset/model: their difference from
    random (points, raw and Holm p) and the drop vs dense they leave, beside random's
    (stats.csv, same seeds)."""
    m = methods(root)
    top = m.sparsity.max()
    c = m[(m.sparsity == top) & m.method.isin(CONTROLS)]
    st = study.table(root, PRESET, "stats").set_index(["dataset", "model", "sparsity"])
    return pd.DataFrame({
        "dataset / model": c.dataset + " / " + c.model, "sparsity (%)": f"{100 * top:g}",
        "control": c.method, "Δ vs random (points)": (100 * c.diff_mean).map(lambda d: fmt.signed(d, 1)),
        "raw p": c.p_value.map(lambda p: fmt.p(p, 2)), "p (Holm)": c.p_holm.map(lambda p: fmt.p(p, 2)),
        "drop vs dense (points)": c["drop"].map(fmt.pct),
        "random's drop (points)": [fmt.pct(st.loc[(d, mo, top), "drop_random"])
                                   for d, mo in zip(c.dataset, c.model)],
    }).set_index(["dataset / model", "sparsity (%)", "control"])


def _controls(root: Path) -> str:
    t = controls_table(root).reset_index()
    t.columns = ["cell", "level", "control", "diff", "p", "p_holm", "drop", "random_drop"]
    return (f"At {t.level.iloc[0]}% sparsity, the highest level, against random: "
            + "; ".join(f"{r.control} {r.diff} points on {r.cell} (raw p {r.p}, Holm {r.p_holm}; "
                        f"drop vs dense {r.drop} against random's {r.random_drop})"
                        for r in t.itertuples()) + ".")


def by_cell(items: pd.DataFrame) -> str:
    """'dataset / model: method at s%, ...' for the rows of a methods table, grouped by cell."""
    return "; ".join(f"{ds} / {model}: " + ", ".join(f"{r.method} at {r.sparsity:.0%}"
                                                      for r in g.itertuples())
                     for (ds, model), g in items.groupby(["dataset", "model"]))


def _counts(m: pd.DataFrame) -> str:
    n = m.verdict.value_counts()
    return (f"{n.get('equivalent', 0)} equivalent within ±{100 * m.margin.iloc[0]:g} point, "
            f"{n.get('inconclusive', 0)} inconclusive, {n.get('better', 0)} better, "
            f"{n.get('worse', 0)} worse")


def pai_findings(root: Path) -> str:
    m = methods(root)
    cells = m.groupby(["dataset", "model"])
    better, worse = notable(m, ("better",)), notable(m, ("worse",))
    context = f" At those levels: {'; '.join(_level_context(m))}." if better else ""
    return "\n".join([
        f"- **Verdicts.** {m.method.nunique()} methods, each at {m.sparsity.nunique()} levels of "
        f"{cells.ngroups} dataset/models, against the random network of the same seed: "
        f"{_counts(m)}. Per dataset/model: "
        + "; ".join(f"{ds} / {model}, {_counts(g)}" for (ds, model), g in cells) + ".",
        f"- **Better than random** (Holm-adjusted): {'; '.join(better) or 'nowhere'}.{context} "
        f"**Worse**: {'; '.join(worse) or 'nowhere'}.",
        f"- **Inverting a score.** {_inverted(m)}",
        f"- **The controls.** {_controls(root)}"])


def pai_answer(root: Path) -> str:
    m = methods(root)
    better, worse = (m[m.verdict == v] for v in ("better", "worse"))
    return (f"{len(better)} of {len(m)} method-levels are better than random after Holm's "
            f"correction ({by_cell(better) or 'none'}), {len(worse)} worse"
            f"{f' ({by_cell(worse)})' if len(worse) else ''}; the others: "
            f"{(m.verdict == 'equivalent').sum()} equivalent within ±{100 * m.margin.iloc[0]:g} "
            f"point, {(m.verdict == 'inconclusive').sum()} inconclusive.")
