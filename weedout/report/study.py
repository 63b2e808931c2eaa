"""What every study notebook (notebooks/study/) uses: the committed tables and figures of a run,
the verdict rule applied to a table, and where a run came from. Every function takes `root`, the
folder holding results/ and figures/ (a notebook passes ../.., so a copy of the repository's
layout works as well as the clone); every number the notebooks state is computed from there.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from ..analysis import stats
from ..viz import fmt

ALPHA = 0.05


def table(root: Path, preset: str, name: str) -> pd.DataFrame:
    return pd.read_csv(Path(root) / "results" / preset / f"{name}.csv")


def run_of(root: Path, preset: str) -> dict:
    return json.loads((Path(root) / "results" / preset / "run.json").read_text())


def span(values, fmt: str = "{:.1f}") -> str:
    """'a–b' of the smallest and largest value ('from -a to +b' for signed formats)."""
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo if lo == hi else (f"from {lo} to {hi}" if "+" in fmt else f"{lo}–{hi}")


def figure(root: Path, preset: str, name: str, width: int = 1000):
    """A committed figure (figures/<preset>/<name>.png) for a notebook: scaled to `width` pixels
    and reduced to 128 colours, so a notebook committed with its outputs stays small."""
    from IPython.display import Image  # late: notebooks only
    from PIL import Image as Pil

    im = Pil.open(Path(root) / "figures" / preset / f"{name}.png").convert("RGB")
    im = im.resize((width, round(im.height * width / im.width)), Pil.LANCZOS).quantize(colors=128)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return Image(data=buf.getvalue(), format="png")


def rule(table: pd.DataFrame, better: str = "better", worse: str = "worse") -> list[str]:
    """The verdict rule (`stats.verdict`) applied to a table's Holm-adjusted p-values and mean
    differences, "better"/"worse" named as the table names them; raises if the table's own
    verdict column says anything else."""
    out = [stats.verdict(p, q, d, ALPHA).replace("weedout better", better)
           .replace("weedout worse", worse)
           for p, q, d in zip(table.p_holm, table.tost_p_holm, table.diff_mean)]
    if out != list(table.verdict):
        raise ValueError("the table's verdicts are not the verdict rule applied to its p-values")
    return out


# How verdict_grid marks a verdict (every method against random, one level per row).
MARKS = {"equivalent": "=", "inconclusive": "?", "better": "▲", "worse": "▼"}


def verdict_grid(methods: pd.DataFrame) -> pd.DataFrame:
    """A methods.csv (every method against the random network of its seed) as one row per level
    and one column per method: the mean difference from random in points and the mark of the
    verdict the rule gives (`MARKS`); weedout first, then the others by name."""
    cells = [f"{100 * d:+.1f} {MARKS[v]}" for d, v in zip(methods.diff_mean, rule(methods))]
    grid = methods.assign(cell=cells, where=methods.dataset + " / " + methods.model,
                          level=[f"{100 * s:g}" for s in methods.sparsity]).pivot(
        index=["where", "level"], columns="method", values="cell")
    order = sorted(grid.columns, key=lambda m: (m != "weedout", m))
    grid = grid.loc[sorted(grid.index, key=lambda k: (k[0], float(k[1]))), order]
    return grid.rename_axis(index=["dataset / model", "sparsity (%)"], columns=None)


def verdict_table(st: pd.DataFrame) -> pd.DataFrame:
    """Per level: the means, the paired difference and the Holm-adjusted p-values, and the verdict
    rule (`stats.verdict`) applied to them; raises if stats.csv holds another verdict."""
    applied = rule(st, "weedout better", "weedout worse")
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    return pd.DataFrame({
        "dataset / model": st.dataset + " / " + st.model,
        "sparsity (%)": [f"{100 * s:g}" for s in st.sparsity],
        "weedout (%)": st.mean_weedout.map(pct), "random (%)": st.mean_random.map(pct),
        "weedout − random (points, 95% CI)": [
            f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
            for d, lo, hi in zip(st.diff_mean, st.diff_ci_low, st.diff_ci_high)],
        "p (Holm)": st.p_holm.map(lambda p: fmt.p(p, 2)),
        "TOST p (Holm)": st.tost_p_holm.map(lambda p: fmt.p(p, 2)),
        "verdict": applied}).set_index(["dataset / model", "sparsity (%)"])


def verdict_counts(st: pd.DataFrame, who: str = "weedout") -> str:
    n = st.verdict.value_counts()
    return (f"{n.get('equivalent', 0)} equivalent within ±{100 * st.margin.iloc[0]:g} point, "
            f"{n.get('inconclusive', 0)} inconclusive, {n.get(f'{who} better', 0)} {who} "
            f"better, {n.get(f'{who} worse', 0)} {who} worse")


def better(st: pd.DataFrame, who: str = "weedout", than: str = "random") -> str:
    """'never better than random', or at how many levels the verdict says better."""
    k = int((st.verdict == f"{who} better").sum())
    return f"never better than {than}" if k == 0 else f"better than {than} at {k} of {len(st)} levels"


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
    return "\n".join([f"- {fmt.evidence(preset, run)}",
                      f"- datasets: {', '.join(cfg['datasets'])}; sparsities "
                      f"{', '.join(f'{s:g}' for s in cfg['sparsities'])}; config digest "
                      f"`{run.get('digest')}` (`results/{preset}/config.json`)",
                      f"- code per stage: {'; '.join(code)}", f"- command: {command}"])
