"""The paper's claims, from the committed `cpu` and `fashion` runs (and the other runs the README
cites): the README's claims block (`python -m weedout.report.readme` rebuilds it) and the findings
of notebooks/study/01_claims, computed by the same functions from each run's stats.csv,
accuracy.csv, search.csv and run.json."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..config import paths
from ..viz import fmt
from . import evolution, study

# Presets whose committed results the README reports, in this order (others are not evidence
# the README cites, e.g. a local smoke run).
PRESETS = ("cpu", "fashion", "paper", "cpu_evolution", "cpu_search_after")
DROP_AT = 0.8  # the paper's headline level: "about a 15% drop at 80% sparsity"
ALPHA = study.ALPHA
CLAIMS = ("cpu", "fashion")  # the runs that reproduce the paper's claims
PAPER_DROP = 0.15  # the paper: "about a 15% test-accuracy drop at 80% sparsity"


def _spearman_within_levels(acc: pd.DataFrame) -> pd.Series:
    """Mean over sparsity levels of Spearman's rho between a network's initial (search) score
    and its trained test accuracy, weedout and random networks pooled."""
    sparse = acc[acc.method.isin(["weedout", "random"])].dropna(subset=["test_acc"])
    rho = sparse.groupby(["dataset", "model", "sparsity"]).apply(
        lambda g: g.init_score.corr(g.test_acc, method="spearman"), include_groups=False)
    return rho.groupby(level=["dataset", "model"]).mean()


def claims_rows(preset: str, root: Path = paths.ROOT) -> tuple[str, list[dict]] | None:
    folder = root / "results" / preset
    if not (folder / "stats.csv").exists() or not (folder / "run.json").exists():
        return None
    stats = pd.read_csv(folder / "stats.csv")
    run = json.loads((folder / "run.json").read_text())
    rho = _spearman_within_levels(pd.read_csv(folder / "accuracy.csv"))
    rows = []
    for (ds, model), g in stats.groupby(["dataset", "model"], sort=False):
        at = g[(g.sparsity - DROP_AT).abs() < 1e-9]
        a = at.iloc[0] if len(at) else None
        verdicts = g.verdict.value_counts()
        rows.append({
            "preset": preset, "cell": f"{ds} / {model}", "seeds": int(g.n_dense.max()),
            "dense": f"{fmt.pct(g.mean_dense.iloc[0])} ± {fmt.pct((g.ci_high_dense - g.ci_low_dense).iloc[0] / 2)}",
            "w80": fmt.pct(a.mean_weedout) if a is not None else "n/a",
            "drop": (f"{fmt.pct(a.drop_weedout)} ({fmt.pct(a.rel_drop_weedout)}% rel.)" if a is not None else "n/a"),
            "r80": fmt.pct(a.mean_random) if a is not None else "n/a",
            "params80": fmt.pct(a.param_sparsity) if a is not None else "n/a",
            "levels": len(g),
            "equivalent": int(verdicts.get("equivalent", 0)),
            "inconclusive": int(verdicts.get("inconclusive", 0)),
            "better": int(verdicts.get("weedout better", 0)),
            "worse": int(verdicts.get("weedout worse", 0)),
            "raw_p": int((g.p_value < ALPHA).sum()),
            "min_p": fmt.p(g.p_holm.min(), 2),
            "auc": f"{fmt.signed(g.auc_diff.min())} … {fmt.signed(g.auc_diff.max())}",
            "min_auc_p": fmt.p(g.auc_p_holm.min(), 2),
            "epochs": int((g.epochs_p_holm < ALPHA).sum()),
            "rho": fmt.signed(rho.get((ds, model), float("nan")), 2),
        })
    return fmt.evidence(preset, run), rows


def render_claims(root: Path = paths.ROOT) -> str:
    found = [c for c in (claims_rows(p, root) for p in PRESETS) if c is not None]
    lines = ["Where the runs came from:", ""]
    lines += [f"- {line}" for line, _ in found]
    rows = [r for _, rs in found for r in rs]
    lines += ["", f"Accuracy (%, mean ± 95% CI over seeds) and the drop at {DROP_AT:.0%} node sparsity "
              "(percentage points, weedout vs its dense parent, paired by seed):", "",
              "| preset | dataset / model | seeds | dense | weedout at 80% | drop | random at 80% "
              "| parameters removed at 80% |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| `{r['preset']}` | {r['cell']} | {r['seeds']} | {r['dense']} | {r['w80']} | "
              f"{r['drop']} | {r['r80']} | {r['params80']}% |" for r in rows]
    lines += ["", "Weedout vs random, over all sparsity levels of a dataset and model (the verdict rule "
              "above; p-values Holm-adjusted across the levels; AUC = area under the test-accuracy "
              "curve, weedout − random; ρ = Spearman correlation of a network's initial score with "
              "its trained accuracy, mean over levels):", "",
              "| preset | dataset / model | levels | equivalent | inconclusive | weedout better | "
              "weedout worse | raw p < 0.05 | smallest p (Holm) | AUC difference | smallest AUC p "
              "(Holm) | levels faster/slower to the 95% bar | ρ(init score, accuracy) |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| `{r['preset']}` | {r['cell']} | {r['levels']} | {r['equivalent']} | "
              f"{r['inconclusive']} | {r['better']} | {r['worse']} | {r['raw_p']} | {r['min_p']} | "
              f"{r['auc']} | {r['min_auc_p']} | {r['epochs']} | {r['rho']} |" for r in rows]
    comparison = evolution.search_comparison(root)
    return "\n".join(lines + (["", comparison] if comparison else []))


def claims_stats(root: Path) -> pd.DataFrame:
    return pd.concat([study.table(root, p, "stats").assign(preset=p) for p in CLAIMS], ignore_index=True)


def drop_table(root: Path) -> pd.DataFrame:
    """The README's claims rows (`readme.claims_rows`): the drop at 80% sparsity per cell."""
    rows = [r for p in CLAIMS for r in claims_rows(p, Path(root))[1]]
    names = {"cell": "dataset / model", "dense": "dense (%, 95% CI)", "w80": "weedout at 80% (%)",
             "drop": "drop (points)", "r80": "random at 80% (%)", "params80": "parameters removed (%)"}
    return pd.DataFrame(rows).set_index(["preset", "cell"])[list(names)[1:]].rename(
        columns=names).rename_axis(["preset", "dataset / model"])


def _search_margins(root: Path) -> tuple[int, int, int]:
    """(searches, searches whose winner beats the median candidate, random controls scoring
    above their search's winner)."""
    won = below = n = 0
    for p in CLAIMS:
        keys = ["dataset", "model", "sparsity", "seed"]
        s = study.table(root, p, "search").groupby(keys)
        best, med = s.score.min(), s.score.median()
        acc = study.table(root, p, "accuracy")
        rnd = acc[acc.method == "random"].set_index(keys).init_score.reindex(best.index)
        n, won, below = n + len(best), won + int((best < med).sum()), below + int((rnd > best).sum())
    return n, won, below


def claims_findings(root: Path) -> str:
    """The findings of 01_claims as Markdown, every number from the committed files."""
    st = claims_stats(root)
    at = st[(st.sparsity - DROP_AT).abs() < 1e-9]
    cells = st.groupby(["preset", "dataset", "model"]).ngroups
    rho = pd.concat([_spearman_within_levels(study.table(root, p, "accuracy")) for p in CLAIMS])
    n, won, below = _search_margins(root)
    worst = st.loc[st.drop_weedout.idxmax()]
    return "\n".join([
        f"- **The drop against the dense parent.** At {DROP_AT:.0%} node "
        f"sparsity ({study.span(100 * at.param_sparsity, '{:.0f}')}% of the parameters removed) "
        f"weedout's networks are {study.span(100 * at.drop_weedout)} points below their dense parents "
        f"({study.span(100 * at.rel_drop_weedout)}% relative) over the {cells} dataset/model pairs, "
        f"where the paper reports about {PAPER_DROP:.0%}. The largest drop at any level is "
        f"{100 * worst.drop_weedout:.1f} points ({worst.dataset} / {worst.model} at "
        f"{worst.sparsity:.0%}).",
        f"- **Weedout against random.** Weedout is {study.better(st)}: over the {len(st)} levels, "
        f"{study.verdict_counts(st)}. A raw paired t-test p < {ALPHA} occurs at "
        f"{int((st.p_value < ALPHA).sum())} levels and at {int((st.p_holm < ALPHA).sum())} after "
        "Holm's correction.",
        f"- **Convergence.** The area under the learning curve differs at "
        f"{int((st.auc_p_holm < ALPHA).sum())} levels and the epochs to the common bar at "
        f"{int((st.epochs_p_holm < ALPHA).sum())} (Holm-adjusted p < {ALPHA}).",
        f"- **The search and what its score predicts.** The winner scores below the median "
        f"candidate of its draw in {won} of {n} searches, and the random mask scores above the "
        f"winner in {below} of {n}; the initial score's Spearman correlation with trained "
        f"accuracy within a level, averaged per dataset/model, is {study.span(rho, '{:+.2f}')}."])


def claims_answer(root: Path) -> str:
    st = claims_stats(root)
    at = st[(st.sparsity - DROP_AT).abs() < 1e-9]
    return (f"Weedout is {study.better(st)} ({study.verdict_counts(st)} of {len(st)} levels); the drop "
            f"against the dense parent at {DROP_AT:.0%} sparsity is "
            f"{study.span(100 * at.drop_weedout)} points (the paper: about {PAPER_DROP:.0%}).")
