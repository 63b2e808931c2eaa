"""The README's claims block (`python -m weedout.report.readme` rebuilds it): per preset,
dataset and model, dense accuracy, the drop at 80% node sparsity and weedout vs random over the
levels, from each committed run's stats.csv, accuracy.csv and run.json."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..config import paths
from ..viz import fmt

# Presets whose committed results the README reports, in this order (others are not evidence
# the README cites, e.g. a local smoke run).
PRESETS = ("cpu", "fashion", "paper", "cpu_evolution", "cpu_search_after")
DROP_AT = 0.8  # the paper's headline level: "about a 15% drop at 80% sparsity"
ALPHA = 0.05


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


def search_comparison(root: Path, strategy_preset: str = "cpu_evolution", base: str = "cpu") -> str | None:
    """How often another strategy's winner scores below the random search's, same searches."""
    files = [root / "results" / p / "search.csv" for p in (base, strategy_preset)]
    if not all(f.exists() for f in files):
        return None
    keys = ["dataset", "model", "sparsity", "seed"]
    base_w, other_w = (pd.read_csv(f).query("chosen").set_index(keys).score for f in files)
    both = pd.concat([base_w.rename("base"), other_w.rename("other")], axis=1, join="inner")
    lower = (both.other < both.base).mean()
    return (f"The `{strategy_preset}` winners score below the `{base}` (random search) winners in "
            f"{lower:.0%} of the {len(both)} searches, by {(both.base - both.other).mean():.4f} "
            "nats on average (`search.csv` of both presets).")


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
    lines += ["", "Weedout vs random, over all sparsity levels of a dataset and model (verdict rule "
              "below; p-values Holm-adjusted across the levels; AUC = area under the test-accuracy "
              "curve, weedout − random; ρ = Spearman correlation of a network's initial score with "
              "its trained accuracy, mean over levels):", "",
              "| preset | dataset / model | levels | equivalent | inconclusive | weedout better | "
              "weedout worse | raw p < 0.05 | smallest p (Holm) | AUC difference | smallest AUC p "
              "(Holm) | levels faster/slower to the 95% bar | ρ(init score, accuracy) |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| `{r['preset']}` | {r['cell']} | {r['levels']} | {r['equivalent']} | "
              f"{r['inconclusive']} | {r['better']} | {r['worse']} | {r['raw_p']} | {r['min_p']} | "
              f"{r['auc']} | {r['min_auc_p']} | {r['epochs']} | {r['rho']} |" for r in rows]
    comparison = search_comparison(root)
    return "\n".join(lines + (["", comparison] if comparison else []))
