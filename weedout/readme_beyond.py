"""The README's generated blocks for the work beyond the paper (`python -m weedout.readme`
rebuilds them with the others): the comparators, the search variants, the compute and the
search after some training. Formatting and the evidence line are readme.py's.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from . import paths
from .readme import DROP_AT, _p, _pct, _signed, evidence


METHODS_PRESET = "cpu_pai"


def render_methods(root: Path = paths.ROOT, preset: str = METHODS_PRESET) -> str:
    """Per dataset, model and method of the comparator run: verdicts vs random over the levels,
    mean difference, smallest Holm p, the drop vs dense at 80% and the search cost."""
    from . import comparison
    folder = root / "results" / preset
    if not (folder / "methods.csv").exists() or not (folder / "run.json").exists():
        return f"No committed `{preset}` run yet (`python -m weedout --preset {preset}`)."
    methods = pd.read_csv(folder / "methods.csv")
    run = json.loads((folder / "run.json").read_text())
    at = methods[(methods.sparsity - DROP_AT).abs() < 1e-9].set_index(["dataset", "model", "method"])
    lines = [f"From {evidence(preset, run)}.", "",
             "| dataset / model | method | equivalent | inconclusive | better | worse | mean Δ vs "
             "random (pp) | smallest p (Holm) | drop vs dense at 80% (pp) | search cost: forward / "
             "backward passes, MFLOPs, ms |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in comparison.summary(methods).itertuples(index=False):
        key = (r.dataset, r.model, r.method)
        drop = _pct(at.loc[key, "drop"]) if key in at.index else "n/a"
        flops = "n/a" if math.isnan(r.flops) else f"{r.flops / 1e6:.1f}"
        cost = ("–" if math.isnan(r.forward) else
                f"{r.forward:.0f} / {r.backward:.0f}, {flops}, {1000 * r.seconds:.1f}")
        lines.append(f"| {r.dataset} / {r.model} | {r.method} | {r.equivalent} | {r.inconclusive} "
                     f"| {r.better} | {r.worse} | {_signed(100 * r.mean_diff, 2)} | "
                     f"{_p(r.min_p_holm)} | {drop} | {cost} |")
    return "\n".join(lines)


BUDGET_PRESET = "cpu_budget"
COMPUTE_PRESET = "cpu_pai"


def _committed(root: Path, preset: str, *tables: str) -> tuple[Path, dict] | str:
    folder = root / "results" / preset
    if not all((folder / t).exists() for t in (*tables, "run.json")):
        return f"No committed `{preset}` run yet (`python -m weedout --preset {preset}`)."
    return folder, json.loads((folder / "run.json").read_text())


def render_budget(root: Path = paths.ROOT, preset: str = BUDGET_PRESET) -> str:
    """Per dataset, model and search setting: how far below the random control's loss its
    winner lands, how often, and how its trained networks compare with random."""
    from . import budget, comparison
    got = _committed(root, preset, "variants.csv", "methods.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    found = budget.summary(pd.read_csv(folder / "variants.csv")).sort_values(
        ["dataset", "model", "candidates", "method"]).set_index(["dataset", "model", "method"])
    verdicts = comparison.summary(pd.read_csv(folder / "methods.csv")).set_index(
        ["dataset", "model", "method"])
    lines = [f"From {evidence(preset, run)}.", "",
             "| dataset / model | method | candidates | score | batch | loss below random's "
             "(nats) | searches below random | equivalent / inconclusive / better / worse | mean Δ "
             "accuracy vs random (pp) | smallest p (Holm) |",
             "|---|---|---:|---|---:|---:|---:|---|---:|---:|"]
    for key, r in found.iterrows():
        if key[2] == "random":
            continue
        v = verdicts.loc[key] if key in verdicts.index else None
        counts = ("n/a" if v is None else
                  " / ".join(str(int(v[k])) for k in ("equivalent", "inconclusive", "better",
                                                       "worse")))
        lines.append(f"| {key[0]} / {key[1]} | {key[2]} | {r.candidates} | {r.score} | "
                     f"{r.score_batch} | {_signed(r.loss_gain, 4)} | {_pct(r.below_random, 0)}% | "
                     f"{counts} | {'n/a' if v is None else _signed(100 * v.mean_diff, 2)} | "
                     f"{'n/a' if v is None else _p(v.min_p_holm)} |")
    return "\n".join(lines)


def render_compute(root: Path = paths.ROOT, preset: str = COMPUTE_PRESET) -> str:
    """Per dataset, model and method: mean FLOPs and seconds of search and training per
    network, the search's share of the FLOPs, and accuracy (means over levels and seeds)."""
    from . import compute
    got = _committed(root, preset, "compute.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    table = pd.read_csv(folder / "compute.csv")
    lines = [f"From {evidence(preset, run)}.", "",
             "| dataset / model | method | search GFLOPs | training GFLOPs | search share of "
             "FLOPs | search s | training s (stack share) | test accuracy (%) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in compute.summary(table).itertuples(index=False):
        lines.append(f"| {r.dataset} / {r.model} | {r.method} | {r.search_gflops:.4f} | "
                     f"{r.train_gflops:.2f} | {_pct(r.search_share)}% | {r.search_seconds:.3f} | "
                     f"{r.train_seconds:.2f} | {_pct(r.test_acc)} |")
    return "\n".join(lines)


AFTER_PRESET = "cpu_search_after"


AFTER_LEVELS = (0.5, 0.8, 0.9)


def render_after(root: Path = paths.ROOT) -> str:
    """The methods block of the run that searches after some training, then the head start:
    the winner's score below the median candidate's (at initialisation in `cpu`, after the
    parent's first epochs here) and each method's accuracy lead over random one epoch after
    the cut and at the end (`weedout.headstart`)."""
    from . import headstart
    got = _committed(root, AFTER_PRESET, "search.csv", "curves.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    k, last = run["config"]["search_after"], run["config"]["epochs"]
    gap = headstart.search_gap(pd.read_csv(folder / "search.csv"))
    at_init = (root / "results" / "cpu" / "search.csv")
    init = headstart.search_gap(pd.read_csv(at_init)) if at_init.exists() else gap.iloc[:0]
    lead = headstart.gap_by_epoch(pd.read_csv(folder / "curves.csv"), (k + 1, last))
    methods = [m for m in run["config"]["comparators"] if not m.endswith("_inverted")]
    keys = ["dataset", "model", "sparsity"]
    gap, init = gap.set_index(keys), init.set_index(keys)
    lead = lead.set_index(keys + ["epoch", "method"])["diff"]
    names = " / ".join(["weedout", *methods])
    lines = [render_methods(root, AFTER_PRESET), "",
             f"The head start (`weedout/headstart.py`): the winner's loss below the median "
             f"candidate's (nats; at initialisation from `cpu`, after {k} epochs from this run), "
             f"and the accuracy lead over random ({names}, pp, mean over seeds) one epoch after "
             f"the cut and at the end:", "",
             f"| dataset / model | sparsity | loss below median: at init / after {k} epochs | "
             f"lead at epoch {k + 1} | lead at epoch {last} |", "|---|---:|---:|---:|---:|"]
    for key in gap.index:
        if not any(abs(key[2] - s) < 1e-9 for s in AFTER_LEVELS):
            continue
        before = f"{init.loc[key, 'gap']:.4f}" if key in init.index else "n/a"
        leads = [" / ".join(_signed(lead.get((*key, e, m), math.nan), 1)
                            for m in ("weedout", *methods)) for e in (k + 1, last)]
        lines.append(f"| {key[0]} / {key[1]} | {_pct(key[2], 0)}% | {before} / "
                     f"{gap.loc[key, 'gap']:.4f} | {leads[0]} | {leads[1]} |")
    return "\n".join(lines)


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
    lines = [f"From {evidence(preset, run)}.", "",
             f"| dataset / model | parent (nodes per layer) | dense (%) | random's drop vs dense at "
             f"{head} (pp) | weedout vs random: equivalent / inconclusive / better / worse | "
             "mean Δ (pp) | smallest p (Holm) |", "|---|---|---:|---:|---|---:|---:|"]
    for (ds, base, width), g in t.groupby(["dataset", "base", "width"], sort=True):
        g = g.sort_values("sparsity")
        counts = [int((g.verdict == v).sum()) for v in ("equivalent", "inconclusive")] + \
                 [int((g.verdict == f"weedout {v}").sum()) for v in ("better", "worse")]
        lines.append(f"| {ds} / {base} | {g.parent.iloc[0]} | {g.dense.iloc[0]:.1f} | "
                     f"{' / '.join(f'{d:.1f}' for d in g.drop_random)} | "
                     f"{' / '.join(map(str, counts))} | {_signed(g['diff'].mean(), 2)} | "
                     f"{_p(g.p_holm.min())} |")
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
        cells = [f"{_signed(r.loc[m, 'diff_mean'], 2)} ({r.loc[m, 'diff_ci_low']:+.2f} … "
                 f"{r.loc[m, 'diff_ci_high']:+.2f}) | {r.loc[m, 'verdict']} ({_p(p_of(m))})"
                 for m in ("weedout", "random")]
        lines.append(f"| {ds} / {base} | {kept} | {r.small_parent.iloc[0]} → "
                     f"{r.large_parent.iloc[0]} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


STRUCTURE_PRESET, LOCAL_PRESET = "cpu_structure", "cpu_pai"


def _verdicts(v: pd.Series) -> str:
    """"equivalent / inconclusive / better / worse" counts of a verdict column."""
    names = ("equivalent", "inconclusive", "better", "worse")
    return " / ".join(str(int(v.str.endswith(n).sum())) for n in names)


def render_structure(root: Path = paths.ROOT) -> str:
    """Per dataset and model of the non-uniform run: weedout vs random over the levels; then,
    per level, its networks against the local ones of `cpu_pai` (same machine, parents, seeds
    and data orders), paired by seed (`comparison.paired_runs`)."""
    from . import comparison
    got = _committed(root, STRUCTURE_PRESET, "stats.csv", "accuracy.csv")
    local = root / "results" / LOCAL_PRESET / "accuracy.csv"
    if isinstance(got, str) or not local.exists():
        return got if isinstance(got, str) else f"No committed `{LOCAL_PRESET}` run to compare with."
    folder, run = got
    st = pd.read_csv(folder / "stats.csv")
    pairs = comparison.paired_runs(pd.read_csv(local), pd.read_csv(folder / "accuracy.csv"))
    lines = [f"From {evidence(STRUCTURE_PRESET, run)}; local networks from `{LOCAL_PRESET}`.", "",
             "| dataset / model | weedout vs random, non-uniform: equivalent / inconclusive / "
             "better / worse | smallest p (Holm) | non-uniform vs local, random: equivalent / "
             "inconclusive / better / worse | the same, weedout |", "|---|---|---:|---|---|"]
    for (ds, model), g in st.groupby(["dataset", "model"], sort=True):
        p = pairs[(pairs.dataset == ds) & (pairs.model == model)]
        lines.append(f"| {ds} / {model} | {_verdicts(g.verdict)} | {_p(g.p_holm.min())} | "
                     f"{_verdicts(p[p.method == 'random'].verdict)} | "
                     f"{_verdicts(p[p.method == 'weedout'].verdict)} |")
    lines += ["", "Per level: kept nodes per layer and parameters (non-uniform vs local), and "
              "test accuracy non-uniform − local (pp, paired by seed, 95% CI, Holm p):", "",
              "| dataset / model | sparsity | kept: non-uniform / local | parameters | random Δ | "
              "weedout Δ |", "|---|---:|---|---:|---:|---:|"]
    for key, g in pairs.groupby(["dataset", "model", "sparsity"], sort=True):
        r = g.set_index("method")
        cell = [f"{_signed(r.loc[m, 'diff_mean'], 1)} ({r.loc[m, 'diff_ci_low']:+.1f} … "
                f"{r.loc[m, 'diff_ci_high']:+.1f}; {_p(r.loc[m, 'p_holm'])})"
                for m in ("random", "weedout")]
        lines.append(f"| {key[0]} / {key[1]} | {_pct(key[2], 0)}% | {r.kept.iloc[0]} / "
                     f"{r.kept_local.iloc[0]} | {r.params.iloc[0]:,.0f} / "
                     f"{r.params_local.iloc[0]:,.0f} | {cell[0]} | {cell[1]} |")
    return "\n".join(lines)


THROUGHOUT_PRESET = "cpu_throughout"


def render_throughout(root: Path = paths.ROOT) -> str:
    """Per dataset, model and moving method of the run that searches throughout training: how
    often a re-search moved nodes, and the moving networks against their fixed twins over the
    levels; then the fixed twins against the uncut networks of `cpu_pai` (what the cuts alone,
    optimizer restarts included, cost)."""
    from . import comparison, throughout
    got = _committed(root, THROUGHOUT_PRESET, "researches.csv", "throughout.csv", "accuracy.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    every = run["config"]["search_every"]
    summary = throughout.summary(pd.read_csv(folder / "researches.csv"),
                                 pd.read_csv(folder / "throughout.csv"))
    lines = [f"From {evidence(THROUGHOUT_PRESET, run)}.", "",
             f"| dataset / model | method (every {every} epochs) | re-searches | moved any node | "
             "nodes moved (mean) | vs fixed twin: equivalent / inconclusive / better / worse | "
             "levels identical to the twin | mean Δ (pp) | smallest p (Holm) |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for r in summary.itertuples(index=False):
        what = "weedout: searched again" if r.method == "weedout" else "random: drawn again"
        lines.append(f"| {r.dataset} / {r.model} | {what} | {r.researches} | "
                     f"{_pct(r.moved_share)}% | {r.moved_mean:.1f} | {r.equivalent} / "
                     f"{r.inconclusive} / {r.better} / {r.worse} | {int(r.identical)} | "
                     f"{_signed(r.mean_diff, 2)} | "
                     f"{_p(r.min_p_holm)} |")
    local = root / "results" / LOCAL_PRESET / "accuracy.csv"
    if local.exists():
        acc = pd.read_csv(folder / "accuracy.csv")
        fixed = acc[acc.method.isin(throughout.FIXED)].assign(
            method=lambda d: d.method.str.replace("_fixed", "", regex=False))
        pairs = comparison.paired_runs(pd.read_csv(local), fixed)
        lines += ["", f"The fixed twins against the uncut networks of `{LOCAL_PRESET}` (same "
                  "parents, masks, seeds and data orders; what the cuts and optimizer restarts "
                  "alone do), over the levels:", "",
                  "| dataset / model | method | equivalent / inconclusive / better / worse | "
                  "mean Δ (pp) | smallest p (Holm) |", "|---|---|---|---:|---:|"]
        for (ds, model, m), g in pairs.groupby(["dataset", "model", "method"], sort=True):
            lines.append(f"| {ds} / {model} | {m}_fixed | {_verdicts(g.verdict)} | "
                         f"{_signed(g.diff_mean.mean(), 2)} | {_p(g.p_holm.min())} |")
    return "\n".join(lines)
