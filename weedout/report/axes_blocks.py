"""The README's generated blocks for the paper's future-work axes that change the networks
themselves: the parent's width, the sparsity structure (non-uniform, global) and searching
throughout training (`python -m weedout.report.readme` rebuilds them with the others). Formatting and
the evidence line are fmt's; `_committed` is report/beyond's.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..analysis import comparison
from ..axes import search_every, structure
from ..config import paths
from ..viz import fmt
from .beyond import _committed


WIDTHS_PRESET = "cpu_widths"


def render_widths(root: Path = paths.ROOT, preset: str = WIDTHS_PRESET) -> str:
    """Per dataset and parent width: dense accuracy, random's drop at every level, and weedout
    vs random over the levels; then, per final network size carved from several parents, the
    widest parent's network minus the narrowest's (`weedout.overparam`)."""
    got = _committed(root, preset, "widths.csv", "pools.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    t, pools = pd.read_csv(folder / "widths.csv"), pd.read_csv(folder / "pools.csv")
    levels = sorted(t.sparsity.unique())
    head = " / ".join(f"{100 * s:g}%" for s in levels)
    lines = [f"From {fmt.evidence(preset, run)}.", "",
             f"| dataset / model | parent (nodes per layer) | dense (%) | random's drop vs dense at "
             f"{head} (pp) | weedout vs random: equivalent / inconclusive / better / worse | "
             "mean Δ (pp) | smallest p (Holm) |", "|---|---|---:|---:|---|---:|---:|"]
    for (ds, base, width), g in t.groupby(["dataset", "base", "width"], sort=True):
        g = g.sort_values("sparsity")
        counts = [int((g.verdict == v).sum()) for v in ("equivalent", "inconclusive")] + \
                 [int((g.verdict == f"weedout {v}").sum()) for v in ("better", "worse")]
        lines.append(f"| {ds} / {base} | {g.parent.iloc[0]} | {g.dense.iloc[0]:.1f} | "
                     f"{' / '.join(f'{d:.1f}' for d in g.drop_random)} | "
                     f"{' / '.join(map(str, counts))} | {fmt.signed(g['diff'].mean(), 2)} | "
                     f"{fmt.p(g.p_holm.min(), 2)} |")
    lines += ["", "The same final network from the widest and the narrowest parent that carve it "
              "(pp, paired by seed, 95% CI; verdict at ±1 point with the Holm-adjusted p of its test, "
              "TOST for equivalent, else the paired t-test; Holm over the sizes of a dataset and "
              "method):", "",
              "| dataset / model | kept per layer | parents (nodes per layer) | weedout: widest − "
              "narrowest | verdict | random: widest − narrowest | verdict |",
              "|---|---|---|---:|---|---:|---|"]
    pools = pools.assign(nodes=pools.kept.map(lambda k: sum(map(int, k.split("-")))))
    for (ds, base, _, kept), g in pools.groupby(["dataset", "base", "nodes", "kept"], sort=True):
        r = g.set_index("method")
        # the p of the test behind the verdict: TOST for "equivalent", else the paired t-test
        p_of = lambda m: r.loc[m, "tost_p_holm" if r.loc[m, "verdict"] == "equivalent"  # noqa: E731
                               else "p_holm"]
        cells = [f"{fmt.signed(r.loc[m, 'diff_mean'], 2)} ({r.loc[m, 'diff_ci_low']:+.2f} … "
                 f"{r.loc[m, 'diff_ci_high']:+.2f}) | {r.loc[m, 'verdict']} ({fmt.p(p_of(m), 2)})"
                 for m in ("weedout", "random")]
        lines.append(f"| {ds} / {base} | {kept} | {r.small_parent.iloc[0]} → "
                     f"{r.large_parent.iloc[0]} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


STRUCTURE_PRESET, LOCAL_PRESET = "cpu_structure", "cpu_pai"


def _verdicts(v: pd.Series) -> str:
    """"equivalent / inconclusive / better / worse" counts of a verdict column."""
    names = ("equivalent", "inconclusive", "better", "worse")
    return " / ".join(str(int(v.str.endswith(n).sum())) for n in names)


def _vs_local(preset: str, run: dict, name: str, st: pd.DataFrame, pairs: pd.DataFrame) -> list:
    """Evidence line and one row per dataset x model: weedout vs random under structure `name`
    (stats.csv), and its networks vs the local ones of LOCAL_PRESET (`pairs`), per method."""
    lines = [f"From {fmt.evidence(preset, run)}; local networks from `{LOCAL_PRESET}`.", "",
             f"| dataset / model | weedout vs random, {name}: equivalent / inconclusive / "
             f"better / worse | smallest p (Holm) | {name} vs local, random: equivalent / "
             "inconclusive / better / worse | the same, weedout |", "|---|---|---:|---|---|"]
    for (ds, model), g in st.groupby(["dataset", "model"], sort=True):
        p = pairs[(pairs.dataset == ds) & (pairs.model == model)]
        lines.append(f"| {ds} / {model} | {_verdicts(g.verdict)} | {fmt.p(g.p_holm.min(), 2)} | "
                     f"{_verdicts(p[p.method == 'random'].verdict)} | "
                     f"{_verdicts(p[p.method == 'weedout'].verdict)} |")
    return lines


def render_structure(root: Path = paths.ROOT, preset: str = STRUCTURE_PRESET,
                     name: str = "non-uniform") -> str:
    """Per dataset and model of a run with another structure (non-uniform; unstructured):
    weedout vs random over the levels; then, per level, its networks against the local ones of
    `cpu_pai` (same machine, parents, seeds and data orders), paired by seed
    (`comparison.paired_runs`), with kept nodes per layer (node masks) and parameters."""
    got = _committed(root, preset, "stats.csv", "accuracy.csv")
    local = root / "results" / LOCAL_PRESET / "accuracy.csv"
    if isinstance(got, str) or not local.exists():
        return got if isinstance(got, str) else f"No committed `{LOCAL_PRESET}` run to compare with."
    folder, run = got
    st = pd.read_csv(folder / "stats.csv")
    pairs = comparison.paired_runs(pd.read_csv(local), pd.read_csv(folder / "accuracy.csv"))
    nodes = name != "unstructured"  # weight masks keep every node
    lines = _vs_local(preset, run, name, st, pairs)
    lines += ["", f"Per level: {'kept nodes per layer and ' if nodes else 'nonzero '}parameters "
              f"({name} vs local), and test accuracy {name} − local (pp, paired by seed, 95% "
              "CI, Holm p):", "",
              f"| dataset / model | sparsity | {f'kept: {name} / local | ' if nodes else ''}"
              "parameters | random Δ | weedout Δ |",
              f"|---|---:|{'---|' if nodes else ''}---:|---:|---:|"]
    for key, g in pairs.groupby(["dataset", "model", "sparsity"], sort=True):
        r = g.set_index("method")
        cell = [f"{fmt.signed(r.loc[m, 'diff_mean'], 1)} ({r.loc[m, 'diff_ci_low']:+.1f} … "
                f"{r.loc[m, 'diff_ci_high']:+.1f}; {fmt.p(r.loc[m, 'p_holm'], 2)})"
                for m in ("random", "weedout")]
        kept = f"{r.kept.iloc[0]} / {r.kept_local.iloc[0]} | " if nodes else ""
        lines.append(f"| {key[0]} / {key[1]} | {fmt.pct(key[2], 0)}% | {kept}"
                     f"{r.params.iloc[0]:,.0f} / {r.params_local.iloc[0]:,.0f} | {cell[0]} | "
                     f"{cell[1]} |")
    return "\n".join(lines)


UNSTRUCTURED_PRESET = "cpu_unstructured"


def render_unstructured(root: Path = paths.ROOT) -> str:
    """The structure block of the unstructured run."""
    return render_structure(root, UNSTRUCTURED_PRESET, "unstructured")


THROUGHOUT_PRESET = "cpu_throughout"


def render_throughout(root: Path = paths.ROOT) -> str:
    """Per dataset, model and moving method of the run that searches throughout training: how
    often a re-search moved nodes, and the moving networks against their fixed twins over the
    levels; then the fixed twins against the uncut networks of `cpu_pai` (what the cuts alone,
    optimizer restarts included, cost)."""
    got = _committed(root, THROUGHOUT_PRESET, "researches.csv", "throughout.csv", "accuracy.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    every = run["config"]["search_every"]
    summary = search_every.summary(pd.read_csv(folder / "researches.csv"),
                                 pd.read_csv(folder / "throughout.csv"))
    lines = [f"From {fmt.evidence(THROUGHOUT_PRESET, run)}.", "",
             f"| dataset / model | method (every {every} epochs) | re-searches | moved any node | "
             "nodes moved (mean) | vs fixed twin: equivalent / inconclusive / better / worse | "
             "levels identical to the twin | mean Δ (pp) | smallest p (Holm) |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for r in summary.itertuples(index=False):
        what = "weedout: searched again" if r.method == "weedout" else "random: drawn again"
        lines.append(f"| {r.dataset} / {r.model} | {what} | {r.researches} | "
                     f"{fmt.pct(r.moved_share)}% | {r.moved_mean:.1f} | {r.equivalent} / "
                     f"{r.inconclusive} / {r.better} / {r.worse} | {int(r.identical)} | "
                     f"{fmt.signed(r.mean_diff, 2)} | "
                     f"{fmt.p(r.min_p_holm, 2)} |")
    local = root / "results" / LOCAL_PRESET / "accuracy.csv"
    if local.exists():
        acc = pd.read_csv(folder / "accuracy.csv")
        fixed = acc[acc.method.isin(search_every.FIXED)].assign(
            method=lambda d: d.method.str.replace("_fixed", "", regex=False))
        pairs = comparison.paired_runs(pd.read_csv(local), fixed)
        lines += ["", f"The fixed twins against the uncut networks of `{LOCAL_PRESET}` (same "
                  "parents, masks, seeds and data orders; what the cuts and optimizer restarts "
                  "alone do), over the levels:", "",
                  "| dataset / model | method | equivalent / inconclusive / better / worse | "
                  "mean Δ (pp) | smallest p (Holm) |", "|---|---|---|---:|---:|"]
        for (ds, model, m), g in pairs.groupby(["dataset", "model", "method"], sort=True):
            lines.append(f"| {ds} / {model} | {m}_fixed | {_verdicts(g.verdict)} | "
                         f"{fmt.signed(g.diff_mean.mean(), 2)} | {fmt.p(g.p_holm.min(), 2)} |")
    return "\n".join(lines)


GLOBAL_PRESET = "cpu_global"


def render_global(root: Path = paths.ROOT) -> str:
    """Per dataset and model of the global run: weedout vs random over the levels, and the
    global networks against the local ones of `cpu_pai`; per level, the allocation the search
    and the random draw end with (mean kept nodes per layer, first layer's share)."""
    got = _committed(root, GLOBAL_PRESET, "stats.csv", "accuracy.csv")
    local = root / "results" / LOCAL_PRESET / "accuracy.csv"
    if isinstance(got, str) or not local.exists():
        return got if isinstance(got, str) else f"No committed `{LOCAL_PRESET}` run to compare with."
    folder, run = got
    st, acc = pd.read_csv(folder / "stats.csv"), pd.read_csv(folder / "accuracy.csv")
    pairs = comparison.paired_runs(pd.read_csv(local), acc)
    lines = _vs_local(GLOBAL_PRESET, run, "global", st, pairs)
    alloc = structure.allocation(acc).set_index(["dataset", "model", "sparsity", "method"])
    stats_at = st.set_index(["dataset", "model", "sparsity"])
    lines += ["", "Per level: mean kept nodes per layer over the seeds (the local split in "
              "`cpu_pai` is even), the first layer's share (mean ± sd over seeds), and weedout − "
              "random (pp, Holm p):", "",
              "| dataset / model | sparsity | weedout: kept, first share | random: kept, first "
              "share | weedout − random |", "|---|---:|---|---|---:|"]
    for (ds, model, s), r in stats_at.iterrows():
        cells = [f"{alloc.loc[(ds, model, s, m), 'kept_mean']}, "
                 f"{alloc.loc[(ds, model, s, m), 'first_share']:.2f} ± "
                 f"{alloc.loc[(ds, model, s, m), 'first_share_sd']:.2f}"
                 for m in ("weedout", "random")]
        lines.append(f"| {ds} / {model} | {fmt.pct(s, 0)}% | {cells[0]} | {cells[1]} | "
                     f"{fmt.signed(100 * r.diff_mean, 2)} ({fmt.p(r.p_holm, 2)}) |")
    return "\n".join(lines)
