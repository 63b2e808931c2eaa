"""`python -m weedout.readme`: the README's numbers, generated from the committed evidence.

Each block between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` in README.md is
rebuilt from files, never typed by hand:

    claims    per preset, dataset and model: dense accuracy, the drop at 80% node sparsity,
              weedout vs random over the sparsity levels (verdicts, Holm-adjusted p), convergence
              (from results/<preset>/stats.csv, accuracy.csv and run.json)
    speed     the benchmark's naive-vs-engine ratios (from results/bench/*.json)
    (these, beyond the paper, are built in readme_beyond.py and readme_axes.py)
    methods   every comparator and control vs random (from results/cpu_pai/methods.csv)
    budget    search variants vs random (results/cpu_budget/variants.csv and methods.csv)
    compute   FLOPs and seconds of search and training per method (results/cpu_pai/compute.csv)
    after     the methods block of cpu_search_after (searched after 3 of 30 epochs) and the
              head start of its networks (search.csv and curves.csv, weedout.headstart)
    throughout  re-searches during training: moves, moving vs fixed twins, twins vs uncut
    structure non-uniform vs random, and vs the local networks of cpu_pai (paired by seed)
    global    the same for global masks, with the allocations the search and the draw end with
    unstructured  the structure block for weight-level masks (nonzero parameters vs local)
    widths    per parent width: drops and weedout vs random; the same final network from the
              widest vs the narrowest parent (results/cpu_widths/widths.csv and pools.csv)

    python -m weedout.readme            rewrite the blocks in README.md
    python -m weedout.readme --check    exit 1 and show what would change (a test runs this)
"""
from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import sys
from pathlib import Path

import pandas as pd

from . import paths

README = paths.ROOT / "README.md"
# Presets whose committed results the README reports, in this order (others are not evidence
# the README cites, e.g. a local smoke run).
PRESETS = ("cpu", "fashion", "paper", "cpu_evolution", "cpu_search_after")
DROP_AT = 0.8  # the paper's headline level: "about a 15% drop at 80% sparsity"
ALPHA = 0.05


def _pct(x, digits=1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _signed(x: float, digits: int = 3) -> str:
    v = round(float(x), digits)
    return f"{(v if v != 0 else 0.0):+.{digits}f}"  # never "-0.000"


def _p(p) -> str:
    return "n/a" if p is None or math.isnan(p) else ("<0.001" if p < 0.001 else f"{p:.2f}")


def evidence(preset: str, run: dict) -> str:
    """One line: what ran, on what, for how long, with which code."""
    cfg = run.get("config", {})
    seeds = cfg.get("seeds", [])
    cmd = run.get("command", {})
    stages = run.get("stages", {}).values()
    if "total_seconds" in cmd:
        took = f"{_minutes(cmd['total_seconds'])} for `{' '.join(cmd['argv'])}`"
    elif stages and all(s.get("trials_computed", 1) == 0 for s in stages):
        # the stages only rebuilt tables from records an earlier command computed: their
        # seconds are not the compute time (the README's text gives that)
        took = "tables built from trial records computed earlier (compute time: see the text)"
    else:  # runs from before the command's own time was recorded: the stages' sum
        took = f"{_minutes(sum(s['seconds'] for s in run.get('stages', {}).values()))} of stage time"
    where = run.get("gpu") or f"{run.get('cpu', '?')} ({run.get('cpu_count', '?')} cores)"
    engine = f", engine v{run['engine']}" if "engine" in run else ""
    training = run.get("stages", {}).get("training", {})
    # the code that computed the trained networks (the records'), else the stage's own
    commits = training.get("records", {}).get("commits") or [training.get("commit")]
    code = f", code {', '.join(c[:10] for c in commits)}" if commits[0] else ""
    return (f"`{preset}`: {len(seeds)} seeds ({seeds[0]}–{seeds[-1]}), {cfg.get('candidates')} "
            f"candidates, {cfg.get('epochs')} epochs; {where}, torch {run.get('torch', '?')}"
            f"{engine}{code}; {took} (`results/{preset}/run.json`)") if seeds else f"`{preset}`"


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
            "dense": f"{_pct(g.mean_dense.iloc[0])} ± {_pct((g.ci_high_dense - g.ci_low_dense).iloc[0] / 2)}",
            "w80": _pct(a.mean_weedout) if a is not None else "n/a",
            "drop": (f"{_pct(a.drop_weedout)} ({_pct(a.rel_drop_weedout)}% rel.)" if a is not None else "n/a"),
            "r80": _pct(a.mean_random) if a is not None else "n/a",
            "params80": _pct(a.param_sparsity) if a is not None else "n/a",
            "levels": len(g),
            "equivalent": int(verdicts.get("equivalent", 0)),
            "inconclusive": int(verdicts.get("inconclusive", 0)),
            "better": int(verdicts.get("weedout better", 0)),
            "worse": int(verdicts.get("weedout worse", 0)),
            "raw_p": int((g.p_value < ALPHA).sum()),
            "min_p": _p(g.p_holm.min()),
            "auc": f"{_signed(g.auc_diff.min())} … {_signed(g.auc_diff.max())}",
            "min_auc_p": _p(g.auc_p_holm.min()),
            "epochs": int((g.epochs_p_holm < ALPHA).sum()),
            "rho": _signed(rho.get((ds, model), float("nan")), 2),
        })
    return evidence(preset, run), rows


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


def _agreement(b: dict) -> str:
    """OK, or DISAGREE with how far apart the two ways ended (from the file's agreement lines)."""
    if b["agree"]:
        return "OK"
    text = " ".join(b["agreement"])
    ex = re.search(r"max \|diff\| (\d+) of (\d+) examples", text)
    loss = re.search(r"final test loss: max \|diff\| ([0-9.e+-]+)", text)
    return ("DISAGREE" + (f": {ex.group(1)} of {ex.group(2)} test examples" if ex else "")
            + (f", loss {loss.group(1)}" if loss else ""))


def _clock(b: dict) -> str:
    """The clock a file's engine comparisons are read on: CPU time for a CPU run with one torch
    thread (other processes on the cores then slow the wall clock, not the CPU's), else wall."""
    env = b["environment"]
    return " cpu" if env["device"] == "cpu" and env["torch_threads"] == 1 and \
        "training cpu" in b["times"]["engine"] else ""


def _speed_row(b: dict) -> str:
    """One benchmark file as a row: times and ratios, and (files from issue 20 on) the training
    step against the engine's before issue 20, and the efficiency against the machine's rate."""
    t, env, mem = b["times"], b["environment"], b.get("peak_mib", {})
    ratio = {k: t["naive"][k] / t["engine"][k] for k in ("search", "training", "end to end")}
    device = (env["device"] if env["device"] != "cpu"
              else f"{env['cpu']} ({env['cpu_count']} cores, {env['torch_threads']} threads)")
    host = (f"{mem['naive']['host']:.0f} / {mem['engine']['host']:.0f} MiB"
            if "naive" in mem else "n/a")
    before = eff = "n/a"
    c = _clock(b)
    if "baseline" in t:
        before = f"{t['baseline']['training' + c] / t['engine']['training' + c]:.2f}×" + (
            " (same bits)" if b.get("baseline_identical") else "")
    if b.get("efficiency"):
        e, f = b["efficiency"], "fraction" + c.replace(" ", "_")
        eff = f"{e['search'][f]:.0%}, {e['training'][f]:.0%}" + (
            f" (was {e['training_baseline'][f]:.0%})" if "training_baseline" in e else "")
    return (f"| `{b['command'].strip()}` | {device} | {t['naive']['end to end']:.1f} s | "
            f"{t['engine']['end to end']:.1f} s | **{ratio['end to end']:.1f}×** "
            f"({ratio['search']:.1f}×, {ratio['training']:.1f}×) | {before} | {eff} | "
            f"{_agreement(b)} | {host} |")


def render_speed(root: Path = paths.ROOT) -> str:
    files = sorted((root / "results" / "bench").glob("*.json"))
    lines = ["| command | device | naive | engine | ratio (search, training) | training: engine "
             "before issue 20 / now | efficiency (search, training) | agreement | peak host "
             "memory, naive / engine |", "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    lines += [_speed_row(json.loads(f.read_text())) for f in files]
    lines += ["", "A trained sparse network physically compacted (`models.materialize`: a small dense "
              "`nn.Sequential`) vs the same network as a masked full-size one, at the grid's highest "
              "sparsity (forward of a batch of 256 test examples, median):", "",
              "| command | sparsity | parameters, masked → compact | ms, masked → compact |",
              "|---|---:|---:|---:|"]
    for f in files:
        b = json.loads(f.read_text())
        if b.get("compaction") and not b["grid"].get("float64"):  # latency: float32 only
            c = max(b["compaction"], key=lambda r: r["sparsity"])
            lines.append(f"| `{b['command'].strip()}` | {c['sparsity']:g} | {c['params_masked']:,} → "
                         f"{c['params_compact']:,} | {c['ms_masked']:.3f} → {c['ms_compact']:.3f} |")
    lines += ["", "Each row: a file of `results/bench/` (hardware, load average, versions, the "
              "agreement details and the efficiency's GFLOP/s are in the file). Efficiency: the "
              "engine's FLOP/s as a fraction of the machine's own rate for the same batched "
              "matmuls and convolutions, each timed alone in the same run (`weedout/rates.py`). "
              "Runs with one torch thread on a CPU are compared with the engine before issue 20 "
              "and with the machine's rate on the CPU clock (process CPU seconds: the time other "
              "processes held the cores is not counted); the others on the wall clock."]
    return "\n".join(lines)


def _blocks() -> dict:
    from . import readme_axes as axes, readme_beyond as beyond  # they use the helpers above
    return {"claims": render_claims, "speed": render_speed, "methods": beyond.render_methods,
            "budget": beyond.render_budget, "compute": beyond.render_compute,
            "after": beyond.render_after, "widths": axes.render_widths,
            "structure": axes.render_structure, "throughout": axes.render_throughout,
            "global": axes.render_global, "unstructured": axes.render_unstructured}


def update(text: str, root: Path = paths.ROOT) -> str:
    """README text with every generated block rebuilt; a missing marker is an error."""
    for name, render in _blocks().items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n)(?:.*?\n)?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no <!-- generated:{name} --> ... "
                             f"<!-- /generated:{name} --> block")
        block = render(root)
        text = pattern.sub(lambda m: m.group(1) + block + "\n" + m.group(2), text)
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m weedout.readme", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if README.md is not up to date")
    a = p.parse_args(argv)
    old = README.read_text()
    new = update(old)
    if a.check:
        if new != old:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                       "README.md", "regenerated"))
            print("README.md is out of date: run python -m weedout.readme", file=sys.stderr)
            return 1
        return 0
    if new != old:
        README.write_text(new)
    print("README.md " + ("updated" if new != old else "already up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
