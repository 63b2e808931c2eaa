"""The prose check: a digit in hand-written Markdown (the README, notebooks' Markdown cells) that
reads as a result number, which should come from a file through code instead."""
from __future__ import annotations

import json
import re
from pathlib import Path

# Removed before looking: generated README blocks, HTML comments, fenced code,
# code spans, link targets and bare URLs. Then a number is a result unless an allow-rule says
# what it is; digits inside a word (mnist1d, cnn1d, 01_search, x86_64, H1) are names, not numbers.
_SKIP = re.compile(r"<!-- generated:(\w+) -->.*?<!-- /generated:\1 -->|<!--.*?-->|```.*?```"
                   r"|`[^`\n]*`|\]\([^)\s]*\)|https?://\S+", re.S)
ALLOWED = {
    "section number": r"§\s*\d+(?:\.\d+)*|^\s*\d+[.)]\s|^#{1,6}\s+\d+(?:\.\d+)*\b",
    "year": r"\b(?:199\d|20[0-4]\d)\b",
    "arXiv id": r"\b\d{4}\.\d{4,5}(?:v\d+)?\b",
    "version": r"\bv\d+(?:\.\d+)*\b|\b\d+\.\d+\.\d+\b|(?:Python|torch|≥|>=)\s*\d+(?:\.\d+)+",
    "command unit": r"--[\w-]+[ =]\d+\b|\b\d+[- ](?:CPU |GPU )?(?:cores?|CPUs?|GPUs?|threads?)\b",
    "name": r"\b[Pp]hase \d\b|\b\d-D\b",   # the method's phases; 1-D and 2-D convolutions
    "statistical convention": r"\b95% CIs?\b|α\s*=\s*0\.\d+",
}
_ALLOWED = re.compile("|".join(f"(?:{p})" for p in ALLOWED.values()), re.M)
_NUMBER = re.compile(r"(?<![\w.\-])[-+−]?\d+(?:[.,]\d+)*%?(?!\w)")


def _blank(m: re.Match) -> str:
    return re.sub(r"[^\n]", " ", m.group())  # same length and lines: positions stay valid


def result_digits(text: str) -> list[str]:
    """The numbers in hand-written Markdown that no allow-rule (`ALLOWED`) explains, each with
    its context: candidate result numbers, which should come from a file through code instead."""
    kept = _ALLOWED.sub(_blank, _SKIP.sub(_blank, text))
    return [f"{m.group()!r} in …{' '.join(text[max(0, m.start() - 40):m.end() + 30].split())}…"
            for m in _NUMBER.finditer(kept)]


def markdown_cells(path: Path) -> str:
    """The hand-written prose of a notebook: its Markdown cells (outputs are generated)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
