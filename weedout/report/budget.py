"""Search budget and score (notebooks/study/04_search_budget): the `cpu_budget` run searches every
parent again with one search setting changed (weedout.axes.variants) and trains each winner
beside weedout and the random control. The winners' losses come from variants.csv, their trained
accuracy against random from methods.csv, their cost from compute.csv."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis import cost
from ..axes import variants
from ..viz import fmt
from . import pai, study

PRESET = "cpu_budget"
BASE = "cpu_pai"  # the same parents, seeds and data orders, trained with other networks beside
CELL = ["dataset", "model"]


def found(root: Path) -> pd.DataFrame:
    """variants.summary of the run: per dataset/model and search setting, the winner's loss below
    the random control's (nats, on the main scoring batch) and the share of searches below it."""
    return variants.summary(study.table(root, PRESET, "variants"))


def _budget_line(g: pd.DataFrame) -> str:
    """The settings that differ from weedout's in the budget only, by budget: 'n: gain (share)'."""
    return ", ".join(f"{r.candidates}: {fmt.signed(r.loss_gain, 4)} nats ({fmt.pct(r.below_random, 0)}%)"
                     for r in by_budget(g).itertuples())


def by_budget(f: pd.DataFrame) -> pd.DataFrame:
    """The rows of `found` that differ from weedout's search in the budget only (random's
    excluded), by budget."""
    main = f[f.method == "weedout"].iloc[0]
    b = f[(f.score == main.score) & (f.score_batch == main.score_batch) & (f.method != "random")]
    return b.sort_values(CELL + ["candidates"])


def recovered(root: Path) -> pd.DataFrame:
    """Per dataset/model: the loss gap to random that the error score and the smaller scoring
    batch recover, as a share of weedout's own (same masks, same budget)."""
    f = found(root).set_index(CELL + ["method"]).loss_gain.unstack("method")
    others = [m for m in f.columns if m.startswith(("score=", "score_batch="))]
    return f[others].div(f["weedout"], axis=0)


def _searches(root: Path) -> str:
    f = found(root)
    share = recovered(root)
    lines = [f"{ds} / {model}: {_budget_line(g)}" for (ds, model), g in f.groupby(CELL)]
    rec = "; ".join(f"{ds} / {model}: " + ", ".join(f"{m} {100 * v:.0f}%" for m, v in r.items())
                    for (ds, model), r in share.iterrows())
    return (f"By the number of candidates scored, the winner's loss below the random control's "
            f"and the share of searches where it is below at all — {'; '.join(lines)}. On the same masks, the other scores recover this "
            f"share of weedout's gap: {rec}.")


def _trained(root: Path) -> str:
    m = pai.methods(root, PRESET)
    others = m[m.method != "weedout"]
    hit = others[others.p_holm < study.ALPHA]
    sig = "; ".join(f"{r.method} on {r.dataset} / {r.model} at {r.sparsity:.0%}: "
                    f"{fmt.diff(r.diff_mean, r.diff_ci_low, r.diff_ci_high)} points, Holm p "
                    f"{fmt.p(r.p_holm, 3)}, {r.verdict}" for r in hit.itertuples())
    cells = "; ".join(f"{ds} / {model}: mean differences {study.span(100 * g.diff_mean, '{:+.2f}')} "
                      f"points, smallest Holm p {fmt.p(g.p_holm.min(), 2)}"
                      for (ds, model), g in others.groupby(CELL))
    return (f"Over {others.method.nunique()} search settings × {others.sparsity.nunique()} levels × "
            f"{others.groupby(CELL).ngroups} dataset/models against random: "
            f"{study.verdict_counts(others.assign(verdict=others.verdict.map(_as_weedout)), 'setting')}. "
            f"{cells}. Holm-adjusted t-test p < {study.ALPHA}: {sig or 'nowhere'}.")


def _as_weedout(v: str) -> str:
    """methods.csv's 'better'/'worse' in the form study.verdict_counts counts ('setting better')."""
    return f"setting {v}" if v in ("better", "worse") else v


def _one_draw(root: Path) -> str:
    """`candidates=1` (a second random draw) against the searched winners at the highest level."""
    m = pai.methods(root, PRESET)
    top = m[m.sparsity == m.sparsity.max()]
    parts = []
    for (ds, model), g in top.groupby(CELL):
        r = g.set_index("method")
        rest = ", ".join(f"{k} {fmt.signed(100 * v, 1)}" for k, v in r.diff_mean.items()
                         if k != "candidates=1")
        parts.append(f"{ds} / {model}: candidates=1 {fmt.signed(100 * r.loc['candidates=1', 'diff_mean'], 1)} "
                     f"points (raw p {fmt.p(r.loc['candidates=1', 'p_value'], 2)}); the others {rest}")
    return (f"At {m.sparsity.max():.0%}, a second random draw against the random control, beside "
            f"the searched and scored winners — {'; '.join(parts)}.")


def _compute(root: Path) -> str:
    s = cost.summary(study.table(root, PRESET, "compute")).set_index(CELL + ["method"])
    big = f"candidates={found(root).candidates.max()}"
    parts = [f"{ds} / {model}: {big} costs {s.loc[(ds, model, big), 'search_gflops']:.1f} search "
             f"GFLOPs per network against {s.loc[(ds, model, 'dense'), 'train_gflops']:.1f} to train "
             f"the dense parent and {s.loc[(ds, model, 'random'), 'train_gflops']:.1f} to train the "
             f"sparse network; weedout's search is {fmt.pct(s.loc[(ds, model, 'weedout'), 'search_share'], 0)}% "
             "of its network's FLOPs" for ds, model in s.index.droplevel("method").unique()]
    return "; ".join(parts) + "."


def same_networks(root: Path) -> tuple[int, int]:
    """(weedout, random and dense networks of this run with the test accuracy of the same network
    in `cpu_pai`, all of them)."""
    keys = ["dataset", "model", "sparsity", "method", "seed"]
    a, b = (study.table(root, p, "accuracy").query("method in ['weedout', 'random', 'dense']")
            .set_index(keys).test_acc for p in (PRESET, BASE))
    return int((a == b.reindex(a.index)).sum()), len(a)


def budget_findings(root: Path) -> str:
    same, n = same_networks(root)
    return "\n".join([f"- **Searching more finds lower losses.** {_searches(root)}",
                      f"- **Does it reach the trained network?** {_trained(root)}",
                      f"- **The second random draw calibrates the rest.** {_one_draw(root)}",
                      f"- **Where the compute goes** (search and training FLOPs per network, means "
                      f"over levels and seeds). {_compute(root)}",
                      f"- **Same networks as `{BASE}`.** {same} of the {n} weedout, random and "
                      f"dense networks train to exactly the test accuracy they reach there."])


def budget_answer(root: Path) -> str:
    b = by_budget(found(root))
    at = lambda n: " and ".join(fmt.signed(v, 4) for v in b[b.candidates == n].loss_gain)  # noqa: E731
    others = pai.methods(root, PRESET).query("method != 'weedout'")
    n = others.verdict.value_counts()
    return (f"Searching more lowers the winner's loss below random's ({at(b.candidates.min())} nats "
            f"with {b.candidates.min()} candidate, {at(b.candidates.max())} with "
            f"{b.candidates.max()}, per dataset/model); after training, the search settings are "
            f"better than random at {n.get('better', 0)} and worse at {n.get('worse', 0)} of "
            f"{len(others)} levels ({n.get('equivalent', 0)} equivalent).")
