"""A stronger search (notebooks/study/02_stronger_search): the evolutionary search's run
(`cpu_evolution`) against the random search's (`cpu`), same grid, parents, seeds and budget."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis import stats
from . import study

EVOLUTION, BASE = "cpu_evolution", "cpu"
ALPHA = study.ALPHA


def search_comparison(root: Path, strategy_preset: str = EVOLUTION, base: str = BASE) -> str | None:
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


def _winners(root: Path) -> pd.DataFrame:
    """The random search's and the evolutionary search's winning scores of the same searches
    (same parent, level and seed), whether evolution's is lower, and the gain (nats)."""
    keys = ["dataset", "model", "sparsity", "seed"]
    base, evo = (study.table(root, p, "search").query("chosen").set_index(keys).score for p in (BASE, EVOLUTION))
    both = pd.concat([base.rename("base"), evo.rename("evo")], axis=1, join="inner").reset_index()
    return both.assign(lower=both.evo < both.base, gain=both.base - both.evo)


def winner_scores(root: Path) -> pd.DataFrame:
    """Per dataset/model: how often the evolutionary winner scores lower, and the mean gain."""
    g = _winners(root).groupby(["dataset", "model"])
    return pd.DataFrame({"searches": g.size(),
                         "evolution lower (%)": (100 * g.lower.mean()).round().astype(int),
                         "mean gain (nats)": g.gain.mean().map("{:.4f}".format)})


def evolution_vs_search(root: Path) -> pd.DataFrame:
    """Trained accuracy of the evolutionary winners vs the random-search winners, paired by seed
    per level (`stats.pairs_table`: Holm per dataset/model, the verdict rule)."""
    keys = ["dataset", "model", "sparsity"]
    acc = {p: study.table(root, p, "accuracy").query("method == 'weedout'") for p in (EVOLUTION, BASE)}
    rows = []
    for level, e in acc[EVOLUTION].groupby(keys):
        b = acc[BASE].set_index(keys).loc[level].set_index("seed").test_acc
        e = e.set_index("seed").test_acc.reindex(b.index)
        rows.append(dict(zip(keys, level)) | stats.paired_test(e.values, b.values))
    return stats.pairs_table(rows, ["dataset", "model"], ALPHA, "evolution better", "evolution worse")


def same_controls(root: Path) -> tuple[int, int]:
    """(random networks of cpu_evolution with the cpu run's test accuracy, all of them)."""
    keys = ["dataset", "model", "sparsity", "seed"]
    r = [study.table(root, p, "accuracy").query("method == 'random'").set_index(keys).test_acc
         for p in (EVOLUTION, BASE)]
    return int((r[0] == r[1].reindex(r[0].index)).sum()), len(r[0])


def _significant(vs: pd.DataFrame) -> str:
    """The levels whose paired t-test survives Holm, with their difference and verdict."""
    hit = vs[vs.p_holm < ALPHA]
    return "" if hit.empty else (f" The t-test alone (Holm-adjusted p < {ALPHA}) separates them at "
                                 + "; ".join(f"{r.dataset} / {r.model} at {r.sparsity:.0%} "
                                             f"({r.diff_mean:+.2f} points, {r.verdict})"
                                             for r in hit.itertuples()) + ".")


def evolution_findings(root: Path) -> str:
    st, vs = study.table(root, EVOLUTION, "stats"), evolution_vs_search(root)
    same, n = same_controls(root)
    return "\n".join([
        f"- **Scores.** {search_comparison(Path(root))}",
        f"- **Against random masks.** The evolutionary winners are {study.better(st)}: over the "
        f"{len(st)} levels of `{EVOLUTION}`, {study.verdict_counts(st)}.",
        f"- **Against random search's winners.** Paired by seed at each of the {len(vs)} "
        f"levels, the evolutionary winners' accuracy minus the random-search winners' ranges "
        f"{study.span(vs.diff_mean, '{:+.2f}')} points; the verdict rule gives "
        f"{study.verdict_counts(vs, 'evolution')}.{_significant(vs)}",
        f"- **Same parents, same controls.** {same} of the {n} random networks of the two runs "
        f"reach exactly the same test accuracy."])


def evolution_answer(root: Path) -> str:
    st = study.table(root, EVOLUTION, "stats")
    return (f"An evolutionary search's winners score lower than random search's in "
            f"{_winners(root).lower.mean():.0%} of "
            f"the searches, and are {study.better(st)} after training ({study.verdict_counts(st)} of "
            f"{len(st)} levels).")
