"""The paper's main table (dense / weedout / random per sparsity) as Markdown and LaTeX.

Accuracies in the stats table are fractions; the table shows them in % (means, CI half-widths)
and differences in percentage points. Missing values (e.g. a p-value from one seed) read "n/a".
No tabulate / jinja2: the two writers below are small and predictable.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from . import fmt
from .fmt import NA, present

def main_table(stats: pd.DataFrame) -> pd.DataFrame:
    """One formatted-string row per (dataset, model, sparsity) of ``stats``."""
    rows = []
    for r in stats.sort_values(["dataset", "model", "sparsity"]).itertuples(index=False):
        margin = f"±{100 * r.margin:.2f} pp" if present(r.margin) else NA
        rows.append({
            "Dataset": str(r.dataset),
            "Model": str(r.model),
            "Sparsity (%)": f"{100 * r.sparsity:g}",
            # whole nodes: the achieved node sparsity differs from the nominal level by rounding
            "Achieved (%)": (f"{100 * r.node_sparsity:.1f}"
                             if present(getattr(r, "node_sparsity", None)) else NA),
            "n": f"{r.n_pairs:.0f}" if present(r.n_pairs) else NA,
            "Dense (%)": fmt.mean_ci(r.mean_dense, r.ci_low_dense, r.ci_high_dense),
            "Weedout (%)": fmt.mean_ci(r.mean_weedout, r.ci_low_weedout, r.ci_high_weedout),
            "Random (%)": fmt.mean_ci(r.mean_random, r.ci_low_random, r.ci_high_random),
            "Δ (W−R) [95% CI] (pp)": fmt.diff(r.diff_mean, r.diff_ci_low, r.diff_ci_high),
            "p (Holm)": fmt.p(r.p_holm),
            "TOST p (Holm, ±margin)": f"{fmt.p(r.tost_p_holm)} ({margin})",
            "Verdict": str(r.verdict) if present(r.verdict) else NA,
            "Param. sparsity (%)": (f"{100 * r.param_sparsity:.1f}"
                                    if present(r.param_sparsity) else NA),
        })
    return pd.DataFrame(rows)


def _numeric_column(col: pd.Series) -> bool:
    return all(c.startswith(NA) or c[:1] in "+-<0123456789" for c in col)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub pipe table; numeric columns right-aligned."""
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    head = "| " + " | ".join(esc(c) for c in table.columns) + " |"
    sep = "|" + "|".join("---:" if _numeric_column(table[c].astype(str)) else ":---"
                         for c in table.columns) + "|"
    body = ["| " + " | ".join(esc(v) for v in row) + " |"
            for row in table.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}", "±": r"$\pm$", "−": r"$-$", "Δ": r"$\Delta$",
          "<": r"$<$", ">": r"$>$", "·": r"$\cdot$", "ρ": r"$\rho$"}


def latex_escape(s) -> str:
    """Escape LaTeX specials; a minus sign before a digit becomes a math minus."""
    s = str(s)
    return "".join("$-$" if ch == "-" and s[i + 1:i + 2].isdigit() else _LATEX.get(ch, ch)
                   for i, ch in enumerate(s))


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs tabular (needs ``\\usepackage{booktabs}``); numeric columns right-aligned."""
    spec = "".join("r" if _numeric_column(table[c].astype(str)) else "l" for c in table.columns)
    lines = ["% weedout main table; requires \\usepackage{booktabs}",
             f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
             " & ".join(latex_escape(c) for c in table.columns) + r" \\", "\\midrule"]
    lines += [" & ".join(latex_escape(v) for v in row) + r" \\"
              for row in table.itertuples(index=False)]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_tables(stats: pd.DataFrame, figures_dir: str | os.PathLike,
                 name: str = "main_table", build=main_table) -> list[Path]:
    """Write ``<name>.md`` and ``<name>.tex`` of ``build(stats)`` (temp file + rename, not at
    all where a file holds the same text already); returns their paths."""
    out = Path(figures_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = build(stats)
    paths = []
    for ext, text in (("md", to_markdown(table)), ("tex", to_latex(table))):
        path, tmp = out / f"{name}.{ext}", out / f".{name}.{ext}.tmp"
        if not (path.exists() and path.read_bytes() == text.encode("utf-8")):  # same: untouched
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        paths.append(path)
    return paths
