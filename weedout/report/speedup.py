"""Speed (notebooks/study/10_speed): the engine against the naive reference and against its own
training step before issue 20, from the benchmark's files (results/bench/*.json, written by
`python -m weedout.bench`: the same grid run each way in one process, their times, whether they
agree, the engine's efficiency against the machine's own rate, the compacted network's latency).
The table is `weedout.report.speed.render_speed`; this module states what it says."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from . import speed, study

PARTS = ("end to end", "search", "training")
# The benchmark's ways, as plotted: colour and legend label.
WAYS = {"naive": ("0.6", "naive"), "baseline": ("#56B4E9", "engine before issue 20"),
        "engine": ("#D55E00", "engine"), "workers": ("#009E73", "engine on worker processes")}


def benches(root: Path) -> list[tuple[Path, dict]]:
    """(file, contents) of every benchmark file, by name."""
    return [(f, json.loads(f.read_text()))
            for f in sorted((Path(root) / "results" / "bench").glob("*.json"))]


def _machine(b: dict) -> str:
    env = b["environment"]
    threads = env["torch_threads"]
    return (env["device"] if env["device"] != "cpu" else
            f"{env['cpu']} ({env['cpu_count']} cores, {threads} torch thread{'s' * (threads != 1)})")


def runs(root: Path) -> pd.DataFrame:
    """One row per benchmark file: its machine, float64 or not, the naive / engine time ratios,
    whether the two ways agree and on how many test examples they end differently; for files
    from issue 20 on, the training step before it / now (on the file's clock, `speed.clock`),
    whether the two give the same bits, and the engine's efficiency (search, training, and
    training before)."""
    rows = []
    for f, b in benches(root):
        t, c = b["times"], speed.clock(b)
        differ = re.search(r"max \|diff\| (\d+) of (\d+) examples", " ".join(b["agreement"]))
        eff = b.get("efficiency") or {}
        frac = "fraction" + c.replace(" ", "_")
        rows.append({
            "file": f.name, "machine": _machine(b), "cpu": b["environment"]["cpu"], "float64": bool(b["grid"].get("float64")),
            "precision": b["grid"].get("precision", "float32"), "agree": bool(b["agree"]),
            "examples_differ": int(differ.group(1)) if differ else 0,
            "examples": int(differ.group(2)) if differ else 0,
            **{part: t["naive"][part] / t["engine"][part] for part in PARTS},
            "step_gain": (t["baseline"]["training" + c] / t["engine"]["training" + c]
                          if "baseline" in t else float("nan")),
            "same_bits": b.get("baseline_identical"),
            # one process with every thread / worker processes sharing them: wall clock (the
            # workers' CPU seconds are theirs, the engine's a process's)
            "workers_gain": (t["engine"]["training"] / t["workers"]["training"]
                             if "workers" in t else float("nan")),
            "workers_end_to_end": (t["engine"]["end to end"] / t["workers"]["end to end"]
                                   if "workers" in t else float("nan")),
            "workers_same_bits": b.get("workers_identical"),
            **{f"efficiency {k}": eff[k][frac] if k in eff else float("nan")
               for k in ("search", "training", "training_baseline")}})
    return pd.DataFrame(rows)


def plot_times(root: Path) -> Figure:
    """Per benchmark run, each way's wall time of its search and its training (seconds, log
    scale), labelled by the command's arguments."""
    rows = [{"run": re.sub(r"--json \S+", "", b["command"].replace("python -m weedout.bench", ""))
             .strip() or "(defaults)", "machine": b["environment"]["cpu"], "way": way,
             **{p: b["times"][way][p] for p in PARTS[1:]}}
            for _, b in benches(root) for way in WAYS if way in b["times"]]
    t = pd.DataFrame(rows)
    labels = list(dict.fromkeys(t.machine + ": " + t.run))
    fig = Figure(figsize=(10, 0.8 + 0.5 * len(labels)), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    h = 0.8 / len(WAYS)
    for ax, part in zip(axes, PARTS[1:]):
        for k, (way, (colour, label)) in enumerate(WAYS.items()):
            g = t[t.way == way]
            y = [labels.index(m + ": " + r) + h * k for m, r in zip(g.machine, g.run)]
            ax.barh(y, g[part], height=h, color=colour, label=label)
        ax.set_xscale("log")
        ax.set(xlabel=f"{part}: wall time (s, log scale)", title=part)
    axes[0].set_yticks([i + 0.4 - h / 2 for i in range(len(labels))], labels, fontsize=7)
    axes[0].invert_yaxis()
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=8)
    return fig


def _by_machine(r: pd.DataFrame, col: str, fmt: str) -> str:
    """'span on machine, span on machine' of a column, machines named short (the CPU)."""
    return ", ".join(f"{study.span(g[col].dropna(), fmt)} on {m}" for m, g in r.groupby("cpu")
                     if g[col].notna().any())


def speed_findings(root: Path) -> str:
    r = runs(root)
    f32, f64 = r[~r.float64], r[r.float64]
    off = f32[~f32.agree]
    step = r[r.step_gain.notna()]
    return "\n".join([
        f"- **Naive time over the engine's** (wall clock; {len(r)} benchmark runs on "
        f"{'; '.join(sorted(set(r.machine)))}): end to end "
        f"{_by_machine(r, 'end to end', '{:.1f}×')}; search {_by_machine(r, 'search', '{:.1f}×')}; "
        f"training {_by_machine(r, 'training', '{:.1f}×')}.",
        f"- **Agreement.** {int(r.agree.sum())} of {len(r)} runs agree within the benchmark's "
        f"tolerances. The float32 runs that do not end with "
        f"{', '.join(f'{d} of {n}' for d, n in zip(off.examples_differ, off.examples)) or 'none'} "
        f"test examples classified differently; the {len(f64)} float64 runs agree in "
        f"{int(f64.agree.sum())}, with {int(f64.examples_differ.sum())} examples differing: the two "
        "ways sum in a different order, and SGD amplifies float32 rounding.",
        f"- **The training step of issue 20** runs at {_by_machine(step, 'step_gain', '{:.2f}×')} "
        f"the speed of the step before it, in the {len(step)} runs that time both (on the CPU "
        f"clock where one torch thread ran), and gives the same bits in "
        f"{int(step.same_bits.fillna(False).astype(bool).sum())} of them.",
        f"- **Efficiency**, the engine's FLOP/s as a share of the machine's own rate for the same "
        f"shapes: search {_by_machine(r, 'efficiency search', '{:.0%}')}; training "
        f"{_by_machine(r, 'efficiency training', '{:.0%}')} (before issue 20: "
        f"{_by_machine(r, 'efficiency training_baseline', '{:.0%}')}). Runs in bfloat16: "
        f"{int((r.precision == 'bfloat16').sum())}.", _workers_line(r)])


def _workers(r: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The runs that timed worker processes, and in how many of them they gave the same bits."""
    w = r[r.workers_gain.notna()]
    return w, int(w.workers_same_bits.fillna(False).astype(bool).sum())


def _workers_line(r: pd.DataFrame) -> str:
    w, same = _workers(r)
    if w.empty:
        return "- **Worker processes**: no benchmark file has run them yet."
    return (f"- **Worker processes** (as many as the engine's threads, one thread each, as "
            f"`--executor local` runs): the training runs at "
            f"{_by_machine(w, 'workers_gain', '{:.2f}×')} the speed of one process using every "
            f"thread, end to end {_by_machine(w, 'workers_end_to_end', '{:.2f}×')} (wall clock, "
            f"{len(w)} runs), with the same bits in {same} of them.")


def speed_answer(root: Path) -> str:
    r = runs(root)
    f64 = r[r.float64]
    return (f"The engine runs the benchmark's grids {study.span(r['end to end'], '{:.1f}')} times "
            f"faster than the naive reference ({', '.join(sorted(set(r.machine)))}), agrees with "
            f"it in float64 ({int(f64.agree.sum())} of {len(f64)} runs), and trains at "
            f"{study.span(r['efficiency training'].dropna(), '{:.0%}')} of the machine's own rate "
            "where that was measured." + _workers_clause(r))


def _workers_clause(r: pd.DataFrame) -> str:
    w, same = _workers(r)
    if w.empty:
        return ""
    return (f" On worker processes sharing the cores, as `--executor local` runs, its training "
            f"runs {study.span(w.workers_gain, '{:.2f}')} times as fast as in one process, with "
            f"the same bits in {same} of {len(w)} runs.")


def provenance(root: Path) -> str:
    """Where each benchmark row came from: its file, command, hardware, versions, the machine's
    load average after the run, and when it finished (the benchmark has no run.json)."""
    lines = []
    for f, b in benches(root):
        env = b["environment"]
        lines.append(f"- `results/bench/{f.name}`: `{b['command'].strip()}`; {_machine(b)}, Python "
                     f"{env['python']}, torch {env['torch']}, engine v{env['engine']}; "
                     f"{b.get('load_after', 'load not recorded')}; finished {b.get('finished', '?')}")
    return "\n".join(lines)
