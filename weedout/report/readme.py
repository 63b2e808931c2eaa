"""`python -m weedout.report.readme`: the README's numbers, generated from the committed evidence.

Each block between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` in README.md is
rebuilt from files, never typed by hand:

    claims     per preset, dataset and model: dense accuracy, the drop at 80% node sparsity,
               weedout vs random over the sparsity levels (verdicts, Holm-adjusted p), convergence
               (from results/<preset>/stats.csv, accuracy.csv and run.json)
    questions  the study's questions, one line each: every notebook of notebooks/study/ (its
               title, its link) and its answer, from the function its first output calls
               (weedout.report.questions.ANSWERS)

The tables beyond the paper's claims (each axis's report of a preset's run) are shown by the
study notebooks that discuss them, not here.

    python -m weedout.report.readme            rewrite the blocks in README.md
    python -m weedout.report.readme --check    exit 1 and show what would change (a test runs this)
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

from ..config import paths
from . import claims, questions

README = paths.ROOT / "README.md"
STUDY = Path("notebooks") / "study"


def title(notebook: Path) -> str:
    """A notebook's H1: the first line of its first cell, without the '# '."""
    first = json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]
    return "".join(first["source"]).split("\n")[0].removeprefix("# ").strip()


def render_questions(root: Path = paths.ROOT) -> str:
    """One row per study notebook, in reading order: its title linked to the notebook, and its
    one-line answer computed from the committed results."""
    lines = ["| notebook | question | the answer, from the committed results |", "|---|---|---|"]
    for stem, answer in questions.ANSWERS.items():
        link = (STUDY / f"{stem}.ipynb").as_posix()
        lines.append(f"| [{stem}]({link}) | {title(root / link)} | {answer(root)} |")
    return "\n".join(lines)


def _blocks() -> dict:
    return {"claims": claims.render_claims, "questions": render_questions}


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
