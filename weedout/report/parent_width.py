"""The degree of overparameterization (notebooks/study/07_parent_width): the `cpu_widths` run's
parents of several widths (weedout.axes.widths): the drop at one sparsity across widths
(widths.csv, `widths.summary`), weedout against random at every width, and the same final
network carved from the widest and the narrowest parent that can make it (pools.csv)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..axes import widths
from ..viz import fmt
from . import claims, study

PRESET = "cpu_widths"
LEVEL = claims.DROP_AT          # the paper's headline level
PAPER = 100 * claims.PAPER_DROP  # "about a 15% drop", read as accuracy points


def by_width(root: Path) -> pd.DataFrame:
    return study.table(root, PRESET, "widths")


def drop_table(root: Path) -> pd.DataFrame:
    """Per dataset and parent at the paper's level: dense and random accuracy, random's drop in
    points and relative to dense (`widths.summary`)."""
    s = widths.summary(by_width(root), LEVEL, PAPER)
    out = s[["dataset", "parent", "kept", "dense", "random", "drop_random", "rel_drop_random"]]
    return out.round(1).set_index(["dataset", "parent"]).rename(columns={
        "kept": "kept per layer", "dense": "dense (%)", "random": "random (%)",
        "drop_random": "drop (points)", "rel_drop_random": "drop (% of dense)"})


def _drops(root: Path) -> str:
    s = widths.summary(by_width(root), LEVEL, PAPER)
    per = "; ".join(f"{ds}: " + ", ".join(f"{r.parent.split('-')[0]} nodes {r.drop_random:.1f}"
                                          for r in g.itertuples()) for ds, g in s.groupby("dataset"))
    t = by_width(root)
    big = t[t.drop_random >= PAPER].sort_values(["dataset", "parent_nodes", "sparsity"])
    where = "; ".join(f"{r.dataset}, parent {r.parent} at {100 * r.sparsity:g}% ({r.kept} kept, "
                      f"{r.drop_random:.1f} points)" for r in big.itertuples())
    return (f"At {LEVEL:.0%} sparsity, random's drop against its own dense parent, by the parent's "
            f"nodes per layer (points) — {per}. A drop of {PAPER:.0f} points or more appears "
            f"at {len(big)} of {len(t)} width-levels: {where or 'none'}.")


def _random(root: Path) -> str:
    t = by_width(root)
    n = t.verdict.value_counts()
    top = t.loc[t["diff"].abs().idxmax()]
    return (f"Over {t.parent.nunique()} parent widths × {t.sparsity.nunique()} levels × "
            f"{t.dataset.nunique()} datasets: {n.get('equivalent', 0)} equivalent, "
            f"{n.get('inconclusive', 0)} inconclusive, {n.get('weedout better', 0)} weedout better, "
            f"{n.get('weedout worse', 0)} weedout worse. The largest gap, "
            f"{fmt.signed(top['diff'], 1)} points ({top.dataset}, parent {top.parent} at "
            f"{top.sparsity:.0%}, {top.kept} kept), has Holm p {fmt.p(top.p_holm, 2)}.")


def pools(root: Path) -> pd.DataFrame:
    return study.table(root, PRESET, "pools")


def _pools(root: Path) -> str:
    p = pools(root)
    study.rule(p, "larger better", "larger worse")  # the verdicts are the rule's
    per = "; ".join(f"{ds}: " + ", ".join(f"{n} {v}" for v, n in g.verdict.value_counts().items())
                    for ds, g in p.groupby("dataset"))
    hit = p[p.verdict.isin(["larger better", "larger worse"])]
    sig = "; ".join(f"{r.method}'s {r.kept} from parent {r.large_parent} against {r.small_parent}: "
                    f"{fmt.signed(r.diff_mean, 2)} points, Holm p {fmt.p(r.p_holm, 3)} ({r.verdict})"
                    for r in hit.itertuples())
    return (f"{len(p)} comparisons ({p.kept.nunique()} final sizes × weedout and random), widest "
            f"parent minus narrowest — {per}. Not equivalent or inconclusive: {sig or 'none'}.")


def width_findings(root: Path) -> str:
    return "\n".join([f"- **Where the paper's drop appears.** {_drops(root)}",
                      f"- **Weedout against random at every width.** {_random(root)}",
                      f"- **A larger pool, the same final network.** {_pools(root)}"])


def width_answer(root: Path) -> str:
    t, p = by_width(root), pools(root)
    left = t[t.drop_random >= PAPER].kept.str.split("-").str[0].astype(int)
    return (f"A drop of {PAPER:.0f} points or more appears only at width-levels that leave "
            f"{study.span(left, '{:.0f}')} nodes per layer; weedout is better than "
            f"random at {int((t.verdict == 'weedout better').sum())} of {len(t)} width-levels, and "
            f"the widest parent gives the better network of the same size in "
            f"{int((p.verdict == 'larger better').sum())} of {len(p)} comparisons.")
