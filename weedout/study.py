"""The study notebooks' numbers (notebooks/study/): every number their prose states is computed
here from the committed files under results/ and figures/, so a notebook and a README block that
call the same function cannot disagree, and nbval (strict) fails when a committed table changes.

    claims_*      01_claims: the paper's claims on the `cpu` and `fashion` runs
    evolution_*   02_stronger_search: the evolutionary search (`cpu_evolution`) vs random search
    ANSWERS       one line per study notebook, for a table of questions and answers
    result_digits the prose check: digits in hand-written prose that look like results

Every function takes `root`, the folder holding results/ (a notebook passes ../.., so a copy of
the repository's layout works as well as the clone).
"""
from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import readme, stats
from .plotting import METHOD_COLORS

CLAIMS = ("cpu", "fashion")            # the runs that reproduce the paper's claims
EVOLUTION, BASE = "cpu_evolution", "cpu"
PAPER_DROP = 0.15                      # the paper: "about a 15% test-accuracy drop at 80% sparsity"
ALPHA = readme.ALPHA


def table(root: Path, preset: str, name: str) -> pd.DataFrame:
    return pd.read_csv(Path(root) / "results" / preset / f"{name}.csv")


def run_of(root: Path, preset: str) -> dict:
    return json.loads((Path(root) / "results" / preset / "run.json").read_text())


def _span(values, fmt: str = "{:.1f}") -> str:
    """'a–b' of the smallest and largest value ('from -a to +b' for signed formats)."""
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo if lo == hi else (f"from {lo} to {hi}" if "+" in fmt else f"{lo}–{hi}")


def figure(root: Path, preset: str, name: str, width: int = 1000):
    """A committed figure (figures/<preset>/<name>.png) for a notebook: scaled to `width` pixels
    and reduced to 128 colours, so a notebook committed with its outputs stays small."""
    from IPython.display import Image
    from PIL import Image as Pil

    im = Pil.open(Path(root) / "figures" / preset / f"{name}.png").convert("RGB")
    im = im.resize((width, round(im.height * width / im.width)), Pil.LANCZOS).quantize(colors=128)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return Image(data=buf.getvalue(), format="png")


def verdict_table(st: pd.DataFrame) -> pd.DataFrame:
    """Per level: the means, the paired difference and the Holm-adjusted p-values, and the verdict
    rule (`stats.verdict`) applied to them; raises if stats.csv holds another verdict."""
    rule = [stats.verdict(p, q, d, ALPHA) for p, q, d in zip(st.p_holm, st.tost_p_holm, st.diff_mean)]
    if rule != list(st.verdict):
        raise ValueError("stats.csv's verdicts are not the verdict rule applied to its p-values")
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    return pd.DataFrame({
        "dataset / model": st.dataset + " / " + st.model,
        "sparsity (%)": [f"{100 * s:g}" for s in st.sparsity],
        "weedout (%)": st.mean_weedout.map(pct), "random (%)": st.mean_random.map(pct),
        "weedout − random (points, 95% CI)": [
            f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
            for d, lo, hi in zip(st.diff_mean, st.diff_ci_low, st.diff_ci_high)],
        "p (Holm)": st.p_holm.map(readme._p), "TOST p (Holm)": st.tost_p_holm.map(readme._p),
        "verdict": rule}).set_index(["dataset / model", "sparsity (%)"])


def verdict_counts(st: pd.DataFrame, who: str = "weedout") -> str:
    n = st.verdict.value_counts()
    return (f"{n.get('equivalent', 0)} equivalent within ±{100 * st.margin.iloc[0]:g} point, "
            f"{n.get('inconclusive', 0)} inconclusive, {n.get(f'{who} better', 0)} {who} "
            f"better, {n.get(f'{who} worse', 0)} {who} worse")


def better(st: pd.DataFrame, who: str = "weedout", than: str = "random") -> str:
    """'never better than random', or at how many levels the verdict says better."""
    k = int((st.verdict == f"{who} better").sum())
    return f"never better than {than}" if k == 0 else f"better than {than} at {k} of {len(st)} levels"


def claims_stats(root: Path) -> pd.DataFrame:
    return pd.concat([table(root, p, "stats").assign(preset=p) for p in CLAIMS], ignore_index=True)


def drop_table(root: Path) -> pd.DataFrame:
    """The README's claims rows (`readme.claims_rows`): the drop at 80% sparsity per cell."""
    rows = [r for p in CLAIMS for r in readme.claims_rows(p, Path(root))[1]]
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
        s = table(root, p, "search").groupby(keys)
        best, med = s.score.min(), s.score.median()
        acc = table(root, p, "accuracy")
        rnd = acc[acc.method == "random"].set_index(keys).init_score.reindex(best.index)
        n, won, below = n + len(best), won + int((best < med).sum()), below + int((rnd > best).sum())
    return n, won, below


def claims_findings(root: Path) -> str:
    """The findings of 01_claims as Markdown, every number from the committed files."""
    st = claims_stats(root)
    at = st[(st.sparsity - readme.DROP_AT).abs() < 1e-9]
    cells = st.groupby(["preset", "dataset", "model"]).ngroups
    rho = pd.concat([readme._spearman_within_levels(table(root, p, "accuracy")) for p in CLAIMS])
    n, won, below = _search_margins(root)
    worst = st.loc[st.drop_weedout.idxmax()]
    return "\n".join([
        f"- **The drop against the dense parent.** At {readme.DROP_AT:.0%} node "
        f"sparsity ({_span(100 * at.param_sparsity, '{:.0f}')}% of the parameters removed) "
        f"weedout's networks are {_span(100 * at.drop_weedout)} points below their dense parents "
        f"({_span(100 * at.rel_drop_weedout)}% relative) over the {cells} dataset/model pairs, "
        f"where the paper reports about {PAPER_DROP:.0%}. The largest drop at any level is "
        f"{100 * worst.drop_weedout:.1f} points ({worst.dataset} / {worst.model} at "
        f"{worst.sparsity:.0%}).",
        f"- **Weedout against random.** Weedout is {better(st)}: over the {len(st)} levels, "
        f"{verdict_counts(st)}. A raw paired t-test p < {ALPHA} occurs at "
        f"{int((st.p_value < ALPHA).sum())} levels and at {int((st.p_holm < ALPHA).sum())} after "
        "Holm's correction.",
        f"- **Convergence.** The area under the learning curve differs at "
        f"{int((st.auc_p_holm < ALPHA).sum())} levels and the epochs to the common bar at "
        f"{int((st.epochs_p_holm < ALPHA).sum())} (Holm-adjusted p < {ALPHA}).",
        f"- **The search and what its score predicts.** The winner scores below the median "
        f"candidate of its draw in {won} of {n} searches, and the random mask scores above the "
        f"winner in {below} of {n}; the initial score's Spearman correlation with trained "
        f"accuracy within a level, averaged per dataset/model, is {_span(rho, '{:+.2f}')}."])


def claims_answer(root: Path) -> str:
    st = claims_stats(root)
    at = st[(st.sparsity - readme.DROP_AT).abs() < 1e-9]
    return (f"Weedout is {better(st)} ({verdict_counts(st)} of {len(st)} levels); the drop "
            f"against the dense parent at {readme.DROP_AT:.0%} sparsity is "
            f"{_span(100 * at.drop_weedout)} points (the paper: about {PAPER_DROP:.0%}).")


def one_search(root: Path, preset: str, cell: tuple) -> pd.DataFrame:
    """The candidates of one search (dataset, model, sparsity, seed) in the order scored, with
    the random control's score (accuracy.csv init_score) as the row `candidate` -1."""
    keys = ["dataset", "model", "sparsity", "seed"]
    s = table(root, preset, "search").set_index(keys).loc[cell].reset_index()
    a = table(root, preset, "accuracy").set_index(keys + ["method"]).loc[(*cell, "random")]
    return pd.concat([s, pd.DataFrame([{"candidate": -1, "score": float(a.init_score), "chosen": False}])],
                     ignore_index=True)[["candidate", "score", "chosen"]]


def _title(cell: tuple) -> str:
    return f"{cell[0]} / {cell[1]}, sparsity {cell[2]:.0%}, seed {cell[3]}"


def plot_one_search(root: Path, preset: str, cell: tuple) -> Figure:
    """Every candidate's score in the order scored, the winner and the random mask's score."""
    scores = one_search(root, preset, cell)
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    c = scores[scores.candidate >= 0]
    ax.scatter(c.candidate, c.score, s=12, color="0.6", label="candidate")
    w = c[c.chosen.astype(bool)]
    ax.scatter(w.candidate, w.score, marker="D", s=50, color=METHOD_COLORS["weedout"],
               label="winner (weedout)", zorder=3)
    ax.axhline(float(scores[scores.candidate == -1].score.iloc[0]), color=METHOD_COLORS["random"],
               ls="--", label="random mask")
    ax.set(xlabel="candidate, in the order scored", ylabel="loss at initialisation (nats)",
           title=f"{preset}: {_title(cell)}")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def recompute_masks(root: Path, preset: str, cell: tuple) -> dict:
    """Weedout's and random's masks of one search, recomputed by the package's own search code
    (`cells.search_trials`) from the run's committed config.json: the trial records holding them
    are not committed. Raises unless the winner's and the random mask's scores equal the committed
    ones (search.csv, accuracy.csv init_score)."""
    from . import cells, config
    saved = json.loads((Path(root) / "results" / preset / "config.json").read_text())
    names = {f.name for f in dataclasses.fields(config.Config)}
    cfg = config.Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()
                           if k in names})
    out: dict = {}
    cells.search_trials(dataclasses.replace(cfg, results_dir=None, device="cpu"), [cell],
                        lambda _, payload: out.update(payload), None)
    committed = one_search(root, preset, cell)
    want = (float(committed[committed.chosen.astype(bool)].score.iloc[0]),
            float(committed[committed.candidate == -1].score.iloc[0]))
    got = (out["scores"][out["best_index"]], out["random_score"])
    if not np.allclose(got, want, rtol=0, atol=1e-5):
        raise ValueError(f"recomputed scores {got} differ from the committed {want}")
    widths = cells.setup(cfg, cell[0], cell[1])[1].widths
    return {"weedout": [set(layer[0]) for layer in out["weedout"]],
            "random": [set(layer[0]) for layer in out["random"]], "widths": widths}


def plot_masks(m: dict) -> Figure:
    """Kept (dark) and removed nodes of each hidden layer, weedout's mask above random's."""
    fig = Figure(figsize=(9, 0.9 + 0.8 * len(m["widths"])), layout="constrained")
    axes = fig.subplots(len(m["widths"]), 1, squeeze=False)[:, 0]
    for layer, (ax, width) in enumerate(zip(axes, m["widths"])):
        grid = np.array([[i in m[k][layer] for i in range(width)] for k in ("weedout", "random")])
        ax.imshow(grid, aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set_yticks([0, 1], ["weedout", "random"])
        ax.set_title(f"hidden layer {layer + 1}: {len(m['weedout'][layer])} of {width} nodes kept",
                     fontsize=9)
    axes[-1].set_xlabel("node")
    return fig


def masks_findings(m: dict) -> str:
    parts = [f"layer {i + 1}: {len(w & r)} shared (two random masks share "
             f"{len(w) * len(r) / width:.1f} on average)"
             for i, (w, r, width) in enumerate(zip(m["weedout"], m["random"], m["widths"]))]
    return "Nodes kept by both masks, " + "; ".join(parts) + "."


def _winners(root: Path) -> pd.DataFrame:
    """The random search's and the evolutionary search's winning scores of the same searches
    (same parent, level and seed), whether evolution's is lower, and the gain (nats)."""
    keys = ["dataset", "model", "sparsity", "seed"]
    base, evo = (table(root, p, "search").query("chosen").set_index(keys).score for p in (BASE, EVOLUTION))
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
    acc = {p: table(root, p, "accuracy").query("method == 'weedout'") for p in (EVOLUTION, BASE)}
    rows = []
    for level, e in acc[EVOLUTION].groupby(keys):
        b = acc[BASE].set_index(keys).loc[level].set_index("seed").test_acc
        e = e.set_index("seed").test_acc.reindex(b.index)
        rows.append(dict(zip(keys, level)) | stats.paired_test(e.values, b.values))
    return stats.pairs_table(rows, ["dataset", "model"], ALPHA, "evolution better", "evolution worse")


def same_controls(root: Path) -> tuple[int, int]:
    """(random networks of cpu_evolution with the cpu run's test accuracy, all of them)."""
    keys = ["dataset", "model", "sparsity", "seed"]
    r = [table(root, p, "accuracy").query("method == 'random'").set_index(keys).test_acc
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
    st, vs = table(root, EVOLUTION, "stats"), evolution_vs_search(root)
    same, n = same_controls(root)
    return "\n".join([
        f"- **Scores.** {readme.search_comparison(Path(root))}",
        f"- **Against random masks.** The evolutionary winners are {better(st)}: over the "
        f"{len(st)} levels of `{EVOLUTION}`, {verdict_counts(st)}.",
        f"- **Against random search's winners.** Paired by seed at each of the {len(vs)} "
        f"levels, the evolutionary winners' accuracy minus the random-search winners' ranges "
        f"{_span(vs.diff_mean, '{:+.2f}')} points; the verdict rule gives "
        f"{verdict_counts(vs, 'evolution')}.{_significant(vs)}",
        f"- **Same parents, same controls.** {same} of the {n} random networks of the two runs "
        f"reach exactly the same test accuracy."])


def evolution_answer(root: Path) -> str:
    st = table(root, EVOLUTION, "stats")
    return (f"An evolutionary search's winners score lower than random search's in "
            f"{_winners(root).lower.mean():.0%} of "
            f"the searches, and are {better(st)} after training ({verdict_counts(st)} of "
            f"{len(st)} levels).")


def plot_traces(root: Path, cell: tuple) -> Figure:
    """Best score so far against masks scored, for the random and the evolutionary search of one
    seed, with the random mask's score."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    for preset, label, color in ((BASE, "random search", "0.45"),
                                 (EVOLUTION, "evolutionary search", METHOD_COLORS["weedout"])):
        s = one_search(root, preset, cell)
        c = s[s.candidate >= 0]
        ax.plot(c.candidate + 1, c.score.cummin(), label=label, color=color, drawstyle="steps-post")
    ax.axhline(float(s[s.candidate == -1].score.iloc[0]), color=METHOD_COLORS["random"], ls="--",
               label="random mask")
    ax.set(xlabel="masks scored", ylabel="best loss so far (nats)",
           title=_title(cell))
    ax.legend(fontsize=8)
    return fig


def provenance(root: Path, preset: str) -> str:
    """Where a run came from, as Markdown: settings, hardware, code and command (run.json)."""
    run = run_of(root, preset)
    cfg = run.get("config") or json.loads((Path(root) / "results" / preset / "config.json").read_text())
    stages = run.get("stages", {})
    code = [f"{name} " + (f"`{c[:10]}`" if (c := (s.get("records", {}).get("commits")
                                                  or [s.get("commit")])[0]) else "not recorded")
            for name, s in stages.items()]
    argv = run.get("command", {}).get("argv")
    command = (f"`{' '.join(argv)}`" if argv else
               f"not recorded in run.json (the run predates that field); "
               f"`python -m weedout --preset {preset}` remakes it")
    return "\n".join([f"- {readme.evidence(preset, run)}",
                      f"- datasets: {', '.join(cfg['datasets'])}; sparsities "
                      f"{', '.join(f'{s:g}' for s in cfg['sparsities'])}; config digest "
                      f"`{run.get('digest')}` (`results/{preset}/config.json`)",
                      f"- code per stage: {'; '.join(code)}", f"- command: {command}"])


ANSWERS = {"01_claims": claims_answer, "02_stronger_search": evolution_answer}


# The prose check. Removed before looking: generated README blocks, HTML comments, fenced code,
# code spans, link targets and bare URLs. Then a number is a result unless an allow-rule says
# what it is; digits inside a word (mnist1d, cnn1d, 01_search, x86_64, H1) are names, not numbers.
_SKIP = re.compile(r"<!-- generated:(\w+) -->.*?<!-- /generated:\1 -->|<!--.*?-->|```.*?```"
                   r"|`[^`\n]*`|\]\([^)\s]*\)|https?://\S+", re.S)
ALLOWED = {
    "section number": r"§\s*\d+(?:\.\d+)*|^\s*\d+[.)]\s|^#{1,6}\s+\d+(?:\.\d+)*\b",
    "year": r"\b(?:199\d|20[0-4]\d)\b",
    "arXiv id": r"\b\d{4}\.\d{4,5}(?:v\d+)?\b",
    "version": r"\bv\d+(?:\.\d+)*\b|\b\d+\.\d+\.\d+\b|(?:Python|torch|≥|>=)\s*\d+(?:\.\d+)+",
    "command unit": r"--[\w-]+[ =]\d+\b|\b\d+[- ](?:CPU |GPU )?(?:cores?|CPUs?|GPUs?|threads?)\b",
    "name": r"\b[Pp]hase \d\b|\b\d-D\b",   # the method's phases; 1-D and 2-D convolutions
    "statistical convention": r"\b95% CIs?\b|α\s*=\s*0\.\d+",
}
_ALLOWED = re.compile("|".join(f"(?:{p})" for p in ALLOWED.values()), re.M)
_NUMBER = re.compile(r"(?<![\w.\-])[-+−]?\d+(?:[.,]\d+)*%?(?!\w)")


def _blank(m: re.Match) -> str:
    return re.sub(r"[^\n]", " ", m.group())  # same length and lines: positions stay valid


def result_digits(text: str) -> list[str]:
    """The numbers in hand-written Markdown that no allow-rule (`ALLOWED`) explains, each with
    its context: candidate result numbers, which should come from a file through code instead."""
    kept = _ALLOWED.sub(_blank, _SKIP.sub(_blank, text))
    return [f"{m.group()!r} in …{' '.join(text[max(0, m.start() - 40):m.end() + 30].split())}…"
            for m in _NUMBER.finditer(kept)]


def markdown_cells(path: Path) -> str:
    """The hand-written prose of a notebook: its Markdown cells (outputs are generated)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
