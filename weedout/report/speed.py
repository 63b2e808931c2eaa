"""The README's speed block: the benchmark's naive-vs-engine ratios, the training step against
the engine before issue 20 and the efficiency against the machine's own rate, from
results/bench/*.json (`python -m weedout.bench` writes them)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..config import paths


def _agreement(b: dict) -> str:
    """OK, or DISAGREE with how far apart the two ways ended (from the file's agreement lines)."""
    if b["agree"]:
        return "OK"
    text = " ".join(b["agreement"])
    ex = re.search(r"max \|diff\| (\d+) of (\d+) examples", text)
    loss = re.search(r"final test loss: max \|diff\| ([0-9.e+-]+)", text)
    return ("DISAGREE" + (f": {ex.group(1)} of {ex.group(2)} test examples" if ex else "")
            + (f", loss {loss.group(1)}" if loss else ""))


def clock(b: dict) -> str:
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
    c = clock(b)
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


def render_workers(root: Path = paths.ROOT) -> str:
    """The files that also ran the grid on worker processes (`weedout.bench.workers`, as
    `--executor local` runs): the engine in one process with all threads against the workers
    sharing them, wall clock (the two use the same cores), with whether they give the same bits."""
    lines = ["| command | device | engine, one process: search, training | workers: search, "
             "training | one process / workers (search, training) | same bits | training "
             "efficiency, one process → workers |", "|---|---|---:|---:|---:|---|---:|"]
    for f in sorted((root / "results" / "bench").glob("*.json")):
        b = json.loads(f.read_text())
        if "workers" not in b["times"]:
            continue
        e, w, env = b["times"]["engine"], b["times"]["workers"], b["environment"]
        eff = b.get("efficiency") or {}
        lines.append(
            f"| `{b['command'].strip()}` | {env['cpu']} ({env['cpu_count']} cores, "
            f"{env['torch_threads']} threads) | {e['search']:.1f} s, {e['training']:.1f} s | "
            f"{w['search']:.1f} s, {w['training']:.1f} s | **{e['end to end'] / w['end to end']:.2f}×**"
            f" ({e['search'] / w['search']:.2f}×, {e['training'] / w['training']:.2f}×) | "
            f"{'yes' if b.get('workers_identical') else 'no'} | "
            + (f"{eff['training']['fraction']:.0%} → {eff['training_workers']['fraction']:.0%}"
               if "training_workers" in eff else "n/a") + " |")
    if len(lines) == 2:
        return "No benchmark file has run the grid on worker processes yet."
    return "\n".join(lines + ["", "Wall clock. The workers are as many processes as the engine "
                               "has threads, one thread each; their efficiency is read against "
                               "the machine's rate measured in one process with all threads, so "
                               "it can pass 100%."])


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
              "matmuls and convolutions, each timed alone in the same run (`weedout/bench/rates.py`). "
              "Runs with one torch thread on a CPU are compared with the engine before issue 20 "
              "and with the machine's rate on the CPU clock (process CPU seconds: the time other "
              "processes held the cores is not counted); the others on the wall clock."]
    return "\n".join(lines)
