"""Speed (notebooks/study/10_speed): the engine against the naive reference, from the benchmark's
files (results/bench/*.json, written by `python -m weedout.bench`: the same grid both ways in one
process, their times, whether they agree, and the compacted network's latency). The table is the
README's former speed block (`weedout.report.speed.render_speed`); this module states what it
says."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from . import study

PARTS = ("end to end", "search", "training")


def benches(root: Path) -> list[tuple[Path, dict]]:
    """(file, contents) of every benchmark file, by name."""
    return [(f, json.loads(f.read_text()))
            for f in sorted((Path(root) / "results" / "bench").glob("*.json"))]


def runs(root: Path) -> pd.DataFrame:
    """One row per benchmark file: its command, device, float64 or not, the naive / engine time
    ratios, whether the two ways agree, and the test examples on which they end differently."""
    rows = []
    for f, b in benches(root):
        t = b["times"]
        differ = re.search(r"max \|diff\| (\d+) of (\d+) examples", " ".join(b["agreement"]))
        rows.append({"file": f.name, "command": b["command"].strip(),
                     "device": b["environment"]["device"],
                     "cpu": f"{b['environment']['cpu']} ({b['environment']['cpu_count']} cores)",
                     "float64": bool(b["grid"].get("float64")), "agree": bool(b["agree"]),
                     "examples_differ": int(differ.group(1)) if differ else 0,
                     "examples": int(differ.group(2)) if differ else 0,
                     **{part: t["naive"][part] / t["engine"][part] for part in PARTS}})
    return pd.DataFrame(rows)


def plot_times(root: Path) -> Figure:
    """Per benchmark run, the naive and the engine's wall time of its search and its training
    (seconds, log scale), labelled by the command's arguments."""
    rows = []
    for f, b in benches(root):
        for way in ("naive", "engine"):
            rows.append({"run": b["command"].replace("python -m weedout.bench", "").strip() or
                         "(defaults)", "way": way, **{p: b["times"][way][p] for p in PARTS[1:]}})
    t = pd.DataFrame(rows)
    fig = Figure(figsize=(9, 0.6 + 0.55 * t.run.nunique()), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, part in zip(axes, PARTS[1:]):
        for k, (way, colour) in enumerate((("naive", "0.6"), ("engine", "#D55E00"))):
            g = t[t.way == way]
            ax.barh([i + 0.4 * k for i in range(len(g))], g[part], height=0.4, color=colour,
                    label=way)
        ax.set_xscale("log")
        ax.set(xlabel=f"{part} (s, log scale)", title=part)
    axes[0].set_yticks([i + 0.2 for i in range(t.run.nunique())], t.run.unique(), fontsize=7)
    axes[0].invert_yaxis()
    axes[1].legend(fontsize=8)
    return fig


def _ratios(r: pd.DataFrame) -> str:
    return "; ".join(f"{part} {study.span(r[part], '{:.1f}')}×" for part in PARTS)


def speed_findings(root: Path) -> str:
    r = runs(root)
    f32, f64 = r[~r.float64], r[r.float64]
    off = f32[~f32.agree]
    return "\n".join([
        f"- **The ratio, naive time over the engine's**, over the {len(r)} benchmark runs "
        f"({', '.join(sorted(set(r.cpu)))}): {_ratios(r)}.",
        f"- **Agreement.** {int(r.agree.sum())} of {len(r)} runs agree within the benchmark's "
        f"tolerances. The float32 runs that do not end with "
        f"{', '.join(f'{d} of {n}' for d, n in zip(off.examples_differ, off.examples)) or 'none'} "
        f"test examples classified differently. The {len(f64)} float64 runs "
        f"({'; '.join(f'`{c}`' for c in f64.command)}) agree in {int(f64.agree.sum())}, with "
        f"{int(f64.examples_differ.sum())} examples differing: the two ways sum in a different "
        "order, and SGD amplifies float32 rounding.",
    ])


def speed_answer(root: Path) -> str:
    r = runs(root)
    return (f"The engine runs the same grids {study.span(r['end to end'], '{:.1f}')} times faster "
            f"than the naive reference on {', '.join(sorted(set(r.cpu)))}, and agrees with it in "
            f"float64 ({int(r[r.float64].agree.sum())} of {int(r.float64.sum())} runs).")


def provenance(root: Path) -> str:
    """Where each benchmark row came from: its file, command, hardware, versions, the machine's
    load average after the run, and when it finished (the benchmark has no run.json)."""
    lines = []
    for f, b in benches(root):
        env = b["environment"]
        lines.append(f"- `results/bench/{f.name}`: `{b['command'].strip()}`; {env['cpu']} "
                     f"({env['cpu_count']} cores, {env['torch_threads']} torch threads), Python "
                     f"{env['python']}, torch {env['torch']}, engine v{env['engine']}; "
                     f"{b.get('load_after', 'load not recorded')}; finished {b.get('finished', '?')}")
    return "\n".join(lines)
