"""The git clean filter of notebooks/*.ipynb (.gitattributes, .gitconfig): what JupyterLab
saves, minus what must not be committed.

    python -m weedout.notebook_filter < saved.ipynb > committed.ipynb     # as git runs it
    python -m weedout.notebook_filter notebooks/*.ipynb                   # clean in place
    python -m weedout.notebook_filter --keep-outputs notebooks/study/*.ipynb

The study notebooks (notebooks/study/, filter `study`) are the evidence: committed with their
outputs, which nbval compares strictly. `--keep-outputs` removes only what differs from one
session to the next (widget state, timings, execution counts: renumbered 1, 2, ... in order).

Removes outputs and execution counts, widget state and execution timings. Keeps, in cells
tagged `keep_output` (the `# NBVAL_CHECK_OUTPUT` cells), the reference outputs nbval compares,
with execution count 1: nbval refuses a reference cell that has outputs but no count, and a
fixed count keeps the diff quiet. (nbstripout can keep such outputs but not their count.)
Writes the canonical nbformat JSON (sorted keys, indent 1), as JupyterLab does.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

KEEP = "keep_output"
CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")  # per-session view state


def clean(nb: dict, keep_outputs: bool = False) -> dict:
    nb.get("metadata", {}).pop("widgets", None)
    count = 0
    for cell in nb["cells"]:
        meta = cell.setdefault("metadata", {})
        for key in CELL_METADATA:
            meta.pop(key, None)
        if cell["cell_type"] != "code":
            continue
        if keep_outputs:
            count += 1
            _number(cell, count)
        elif KEEP in meta.get("tags", []):
            _number(cell, 1)
        else:
            cell["execution_count"], cell["outputs"] = None, []
    return nb


def _number(cell: dict, count: int) -> None:
    cell["execution_count"] = count
    for out in cell["outputs"]:
        if "execution_count" in out:
            out["execution_count"] = count


def dumps(nb: dict) -> str:
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    keep = "--keep-outputs" in argv
    argv = [a for a in argv if a != "--keep-outputs"]
    if not argv:
        sys.stdout.write(dumps(clean(json.load(sys.stdin), keep)))
        return 0
    for name in argv:
        path = Path(name)
        text = dumps(clean(json.loads(path.read_text(encoding="utf-8")), keep))
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
