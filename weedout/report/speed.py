"""The README's speed block: the benchmark's naive-vs-engine ratios, from results/bench/*.json
(`python -m weedout.bench` writes them)."""
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


def render_speed(root: Path = paths.ROOT) -> str:
    files = sorted((root / "results" / "bench").glob("*.json"))
    lines = ["| command | device | naive | engine | ratio (search, training) | agreement | "
             "peak host memory, naive / engine |", "|---|---|---:|---:|---:|---|---:|"]
    for f in files:
        b = json.loads(f.read_text())
        t, env, mem = b["times"], b["environment"], b.get("peak_mib", {})
        ratio = {k: t["naive"][k] / t["engine"][k] for k in t["naive"]}
        device = (env["device"] if env["device"] != "cpu"
                  else f"{env['cpu']} ({env['cpu_count']} cores, {env['torch_threads']} threads)")
        host = (f"{mem['naive']['host']:.0f} / {mem['engine']['host']:.0f} MiB"
                if "naive" in mem else "n/a")
        lines.append(f"| `{b['command'].strip()}` | {device} | {t['naive']['end to end']:.1f} s | "
                     f"{t['engine']['end to end']:.1f} s | **{ratio['end to end']:.1f}×** "
                     f"({ratio['search']:.1f}×, {ratio['training']:.1f}×) | "
                     f"{_agreement(b)} | {host} |")
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
    lines += ["", "Each row: `results/bench/<device>-<dataset>-<model>.json` (hardware, load average, "
              "versions and the agreement details are in the file)."]
    return "\n".join(lines)
