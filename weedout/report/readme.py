"""`python -m weedout.report.readme`: the README's numbers, generated from the committed evidence.

Each block between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` in README.md is
rebuilt from files, never typed by hand:

    claims    per preset, dataset and model: dense accuracy, the drop at 80% node sparsity,
              weedout vs random over the sparsity levels (verdicts, Holm-adjusted p), convergence
              (from results/<preset>/stats.csv, accuracy.csv and run.json)
    speed     the benchmark's naive-vs-engine ratios (from results/bench/*.json)
    (these, beyond the paper, are each an axis's report: AXIS_BLOCKS below)
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

    python -m weedout.report.readme            rewrite the blocks in README.md
    python -m weedout.report.readme --check    exit 1 and show what would change (a test runs this)
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

from ..config import paths
from ..axes import registry
from . import claims, speed

README = paths.ROOT / "README.md"


# README block -> (axis, preset): the axis's report of that preset's committed run.
AXIS_BLOCKS = {"methods": ("methods", "cpu_pai"), "budget": ("variants", "cpu_budget"),
               "compute": ("compute", "cpu_pai"), "after": ("search_after", "cpu_search_after"),
               "widths": ("widths", "cpu_widths"), "structure": ("structure", "cpu_structure"),
               "throughout": ("search_every", "cpu_throughout"),
               "global": ("structure", "cpu_global"),
               "unstructured": ("structure", "cpu_unstructured")}


def _blocks() -> dict:
    blocks = {"claims": claims.render_claims, "speed": speed.render_speed}
    for name, (axis, preset) in AXIS_BLOCKS.items():
        blocks[name] = lambda root, a=axis, p=preset: registry.get(a).report(root, p)
    return blocks


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
    p = argparse.ArgumentParser(prog="python -m weedout.report.readme", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if README.md is not up to date")
    a = p.parse_args(argv)
    old = README.read_text()
    new = update(old)
    if a.check:
        if new != old:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                       "README.md", "regenerated"))
            print("README.md is out of date: run python -m weedout.report.readme", file=sys.stderr)
            return 1
        return 0
    if new != old:
        README.write_text(new)
    print("README.md " + ("updated" if new != old else "already up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
