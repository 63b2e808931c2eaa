"""Conclusions that the design does not decide (issue 19; notebooks/study/11_designs): each
conclusion of the comparators, structure, widths and searching-throughout runs read again under
the designs that could have decided it: the initialisation (`INIT`: the parent's inherited
weights, or every kept unit rescaled to its kept fan-in), the ranking of the saliency scores
(within each layer at random's counts, or across the layers), the non-uniform allocation's
budget (equal nodes or equal parameters), the weight masks' allocation (uniform or ERK) and the
way a mask moves during training (re-search, SET-like or RigL-like drop-and-grow); and the
dataset: the conclusions beyond the paper again on real images, the Fashion-MNIST MLP.

Every number comes from committed runs, paired by seed (same parents, data orders and, where
the setting allows, the same draws). A conclusion "holds" under a design when the rule written
in its row says so for that run's tables; runs not committed yet are left out of the table and
named by `missing`.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd

from ..analysis import comparison, stats
from ..axes import registry
from ..axes import structure as structure_axis
from ..viz import fmt
from . import study

ALPHA = study.ALPHA
VERDICTS = ("equivalent", "inconclusive", "better", "worse")
SALIENCY = ("magnitude", "snip", "grasp", "synflow")  # and their inverted twins
# The runs each conclusion is read in, by design; the local networks a structure is paired with.
INIT = {"inherited": "", "rescaled": "_rescaled"}
LOCAL = {"inherited": "cpu_pai", "rescaled": "cpu_rescaled"}
STRUCTURES = {"non-uniform": "cpu_structure", "global": "cpu_global",
              "unstructured": "cpu_unstructured"}
# What the inherited runs found (notebooks/study/06_structure): worse than local somewhere, or not.
WORSE = {"non-uniform": True, "global": False, "unstructured": True}
ALLOCATION = {"non-uniform": {"equal nodes": "cpu_structure",
                              "equal parameters": "cpu_structure_params"},
              "unstructured": {"uniform": "cpu_unstructured", "ERK": "cpu_unstructured_erk"}}
RANKING = {"within each layer": "cpu_pai", "across the layers": "cpu_pai_global"}
MOVING = {"re-search": "cpu_throughout", "drop-and-grow, SET": "cpu_dst_set",
          "drop-and-grow, RigL": "cpu_dst_rigl"}
# Issue 19, part 5: the conclusions that go beyond the paper, on real images (the Fashion-MNIST
# MLP of `fashion`'s grid), each read as a design of its own under both initialisations.
FASHION = "Fashion-MNIST"
FASHION_LOCAL = structure_axis.FASHION_LOCAL
FASHION_UNSTRUCTURED = "fashion_unstructured"
FASHION_RANKING = {"within each layer": "fashion_pai", "across the layers": "fashion_pai_global"}


def has(root: Path, *presets: str) -> bool:
    return all((Path(root) / "results" / p / "accuracy.csv").exists() for p in presets)


def counts(verdicts: pd.Series) -> dict:
    """Verdict counts; "weedout better" and "larger better" count as better."""
    v = verdicts.astype(str)
    return {k: int(v.str.endswith(k).sum()) for k in VERDICTS}


def said(c: dict) -> str:
    return " / ".join(str(c[k]) for k in VERDICTS)


def vs_local(root: Path, preset: str, local: str, method: str = "random") -> pd.DataFrame:
    """A run's networks minus those of `local`, paired by seed, per level (points)."""
    pairs = comparison.paired_runs(study.table(root, local, "accuracy"),
                                   study.table(root, preset, "accuracy"))
    return pairs[pairs.method == method]


def against_random(root: Path, preset: str, control: str) -> pd.DataFrame:
    """Every method of `preset` but dense and random against the random networks of `control`
    (the same run or another with the same seeds and parents), paired by seed, per level:
    the verdict rule with Holm over a method's levels."""
    acc = study.table(root, preset, "accuracy")
    ref = study.table(root, control, "accuracy")
    ref = {k: g.set_index("seed").test_acc
           for k, g in ref[ref.method == "random"].groupby(["dataset", "model", "sparsity"])}
    rows = []
    keys = ["dataset", "model", "sparsity", "method"]
    for key, g in acc[~acc.method.isin(["dense", "random"])].groupby(keys):
        if key[:3] not in ref:
            continue
        x, y = stats.paired(g.set_index("seed").test_acc, ref[key[:3]])
        rows.append({**dict(zip(keys, key)), **stats.paired_test(x, y, alpha=ALPHA)})
    return stats.pairs_table(rows, ["dataset", "model", "method"], ALPHA)


def machines(root: Path, run: str, other: str) -> str:
    """The note for a pair of runs made on two CPU models: single networks differ by up to a
    couple of points from one model to another, and a pair across runs carries that spread."""
    a, b = (study.run_of(root, p).get("cpu", "?") for p in (run, other))
    return "" if a == b else f"; paired across machines ({a} / {b})"


def saliency(table: pd.DataFrame) -> pd.DataFrame:
    return table[table.method.str.replace("_inverted", "").isin(SALIENCY)]


def _row(conclusion: str, design: str, preset: str, evidence: str, holds: bool) -> dict:
    return {"conclusion": conclusion, "design": design, "run": f"`{preset}`",
            "evidence": evidence, "holds": bool(holds)}


def _never_better(root: Path) -> list[dict]:
    out = []
    for name, preset in {"paper's grid": "cpu", **STRUCTURES, "widths": "cpu_widths",
                         FASHION: FASHION_LOCAL["inherited"],
                         f"{FASHION}, unstructured": FASHION_UNSTRUCTURED}.items():
        for init, suffix in INIT.items():
            if has(root, preset + suffix):
                c = counts(study.table(root, preset + suffix, "stats").verdict)
                out.append(_row(f"weedout is never better than random ({name})",
                                f"init {init}", preset + suffix,
                                f"{said(c)} of the levels", c["better"] == 0))
    return out


def _structure_worse(root: Path) -> list[dict]:
    out = []
    for name, preset in STRUCTURES.items():
        designs = {f"init {i}": (preset + s, LOCAL[i]) for i, s in INIT.items()}
        designs.update({a: (p, LOCAL["inherited"])
                        for a, p in ALLOCATION.get(name, {}).items() if p != preset})
        if name == "unstructured":
            designs.update({f"{FASHION}, init {i}": (FASHION_UNSTRUCTURED + s, FASHION_LOCAL[i])
                            for i, s in INIT.items()})
        for design, (run, local) in designs.items():
            if has(root, run, local):
                p = vs_local(root, run, local)
                c = counts(p.verdict)
                worst = p.loc[p.diff_mean.idxmin()]
                claim = "worse than" if WORSE[name] else "no worse than"
                out.append(_row(f"{name} random networks train {claim} local ones", design,
                                run, f"{said(c)} of the levels; largest gap "
                                f"{worst.diff_mean:+.1f} points ({worst.dataset} / "
                                f"{worst.model}, {worst.sparsity:.0%}); parameters "
                                f"{study.span(100 * (p.params / p.params_local - 1), '{:+.0f}%')}"
                                " of the local ones'" + machines(root, run, local),
                                (c["worse"] > 0) == WORSE[name]))
    return out


def _saliency_not_better(root: Path) -> list[dict]:
    out = []
    grids = {"": RANKING, **{f"{FASHION}, init {i}, ": {k: p + s
                                                        for k, p in FASHION_RANKING.items()}
                             for i, s in INIT.items()}}
    for grid, ranks in grids.items():
        out += _rankings_read(ranks, grid, root)
    return out


def _rankings_read(ranks: dict, grid: str, root: Path) -> list[dict]:
    out = []
    for ranking, preset in ranks.items():
        for control, ref in ranks.items():
            if has(root, preset, ref):
                t = saliency(against_random(root, preset, ref))
                c = counts(t.verdict)
                out.append(_row("a saliency score is no better than random (better at no more "
                                f"than α = {ALPHA:g} of its method-levels)",
                                f"{grid}ranked {ranking}, random {control}", preset,
                                f"{said(c)} of {len(t)} method-levels"
                                + machines(root, preset, ref),
                                c["better"] <= ALPHA * len(t)))
    return out


def _pools(root: Path) -> list[dict]:
    out = []
    for init, suffix in INIT.items():
        if has(root, "cpu_widths" + suffix):
            c = counts(study.table(root, "cpu_widths" + suffix, "pools").verdict)
            out.append(_row("a larger pool gives no better network", f"init {init}",
                            "cpu_widths" + suffix, f"{said(c)} of the pool pairs",
                            c["better"] == 0))
    return out


def _moving(root: Path) -> list[dict]:
    out = []
    for design, preset in MOVING.items():
        if has(root, preset):
            t = study.table(root, preset, "throughout")
            for method, g in t.groupby("method"):
                c = counts(g.verdict)
                out.append(_row(f"moving the mask during training does not beat the fixed mask "
                                f"({method})", design, preset,
                                f"{said(c)} of the levels; mean change "
                                f"{study.span(g.diff_mean, '{:+.1f}')} points",
                                c["better"] == 0))
    return out


def conclusions(root: Path) -> pd.DataFrame:
    """One row per conclusion and design: the numbers that decide it (verdicts as equivalent /
    inconclusive / better / worse) and whether it holds there."""
    rows = (_never_better(root) + _structure_worse(root) + _saliency_not_better(root)
            + _pools(root) + _moving(root))
    return pd.DataFrame(rows, columns=["conclusion", "design", "run", "evidence", "holds"])


def holds(table: pd.DataFrame) -> pd.DataFrame:
    """Per conclusion: the designs it was read under, those where it holds, and whether it
    holds under every one."""
    g = table.groupby("conclusion", sort=False)
    return pd.DataFrame({"read under": g.size(), "holds under": g.holds.sum(),
                         "holds under all": g.holds.all()}).reset_index()


def wanted() -> list[str]:
    """Every run this report reads, in order."""
    runs = [p + s for p in ("cpu", *STRUCTURES.values(), "cpu_widths") for s in INIT.values()]
    runs += [*LOCAL.values(), *[p for d in (*ALLOCATION.values(), RANKING, MOVING)
                                for p in d.values()]]
    runs += [p + s for p in (FASHION_LOCAL["inherited"], FASHION_UNSTRUCTURED,
                             *FASHION_RANKING.values()) for s in INIT.values()]
    return list(dict.fromkeys(runs))


def missing(root: Path) -> list[str]:
    """The runs this report reads that are not committed."""
    return [p for p in wanted() if not has(root, p)]


def markdown(table: pd.DataFrame) -> str:
    lines = ["| conclusion | design | run | evidence | holds |", "|---|---|---|---|---|"]
    lines += [f"| {r.conclusion} | {r.design} | {r.run} | {r.evidence} | "
              f"{'yes' if r.holds else '**no**'} |" for r in table.itertuples()]
    return "\n".join(lines)


def holds_markdown(table: pd.DataFrame) -> str:
    lines = ["| conclusion | read under | holds under | under all |", "|---|---:|---:|---|"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {'yes' if r[3] else '**no**'} |"
              for r in holds(table).itertuples(index=False)]
    return "\n".join(lines)


def designs_answer(root: Path) -> str:
    t = holds(conclusions(root))
    read = t[t["read under"] > 1]
    moved, gone = read[~read["holds under all"]], missing(root)
    text = (f"Of {len(t)} conclusions, {len(read)} could be read under more than one design"
            f"{' so far' if gone else ''} and {len(read) - len(moved)} of those hold under every "
            "one"
            + "".join(f"; '{r[0]}' holds under {r[2]} of {r[1]}"
                      for r in moved.itertuples(index=False)))
    return text + (f" (not run yet: {', '.join(f'`{p}`' for p in gone)})." if gone else ".")


def rankings(root: Path) -> pd.DataFrame:
    """Per ranking of the saliency scores and random control: the verdicts of every score
    against that control, per dataset and model (`against_random`)."""
    rows = []
    for grid in (RANKING, FASHION_RANKING):  # the cpu grid's MLPs, then Fashion-MNIST's
        for (ranking, preset), (control, ref) in itertools.product(grid.items(), repeat=2):
            if has(root, preset, ref):
                for (ds, model), g in saliency(against_random(root, preset, ref)).groupby(
                        ["dataset", "model"]):
                    if not has(root, grid["across the layers"]) or model == "mlp":
                        rows.append({"scores ranked": ranking, "random": control,
                                     "dataset / model": f"{ds} / {model}",
                                     **counts(g.verdict), "method-levels": len(g)})
    return pd.DataFrame(rows)


def read(root: Path) -> list[str]:
    """Every committed run this report reads, in order."""
    return [p for p in wanted() if has(root, p)]


def init_findings(root: Path, level: float = 0.9) -> str:
    """What the initialisation explains, where both runs are committed: random's drop against
    its dense parent at `level` under each initialisation (the same masks and parents, so the
    pair isolates the scale), and the unstructured gap to the local networks."""
    out = []
    if has(root, "cpu", "cpu_rescaled"):
        a, b = (study.table(root, p, "stats").set_index(["dataset", "model", "sparsity"])
                for p in ("cpu", "cpu_rescaled"))
        both = a.join(b, rsuffix="_r", how="inner").xs(level, level="sparsity")
        test = vs_local(root, "cpu_rescaled", "cpu").set_index(["dataset", "model", "sparsity"])
        out += [f"- {ds} / {model} at {level:.0%}: random drops {100 * r.drop_random:.1f} "
                f"points below its dense parent inherited, {100 * r.drop_random_r:.1f} rescaled "
                f"(rescaling removes {1 - r.drop_random_r / r.drop_random:.0%} of the drop; "
                f"rescaled − inherited {test.loc[(ds, model, level)].diff_mean:+.1f} points, "
                f"Holm p {fmt.p(test.loc[(ds, model, level)].p_holm, 2)}, "
                f"{test.loc[(ds, model, level)].verdict})." for (ds, model), r in both.iterrows()]
    if has(root, "cpu_unstructured", "cpu_unstructured_rescaled", *LOCAL.values()):
        for init, suffix in INIT.items():
            p = vs_local(root, "cpu_unstructured" + suffix, LOCAL[init])
            worse = p[p.verdict == "worse"]
            out.append(f"- Unstructured random networks against local ones, init {init}: worse "
                       f"at {len(worse)} of {len(p)} levels, by "
                       f"{study.span(worse.diff_mean.abs(), '{:.1f}')} points.")
    return "\n".join(out) or "No pair of runs under both initialisations is committed yet."
