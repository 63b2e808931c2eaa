"""The runs of issue 19 one by one (notebooks/study/11_designs, "The runs"): each run's own
report as the axis that shows it writes it, its figure, and for a run of global masks the split
of the node budget that every method ends with, as a table beside the figure."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..axes import registry
from ..axes.structure import allocation
from ..viz import fmt, tables
from . import study
from .designs import counts, has, said

# The runs of this issue in reading order: (title, preset, the axis whose report shows it, figure).
RUNS = (("Rescaled: the paper's grid, the local networks of the rescaled runs", "cpu_rescaled",
         None, "accuracy_vs_sparsity"),
        ("Rescaled: unstructured", "cpu_unstructured_rescaled", "structure",
         "accuracy_vs_sparsity"),
        ("Rescaled: global", "cpu_global_rescaled", "structure", "split"),
        ("Rescaled: non-uniform", "cpu_structure_rescaled", "structure", "accuracy_vs_sparsity"),
        ("Rescaled: the parent's width", "cpu_widths_rescaled", "widths", None),
        ("Non-uniform at equal parameters", "cpu_structure_params", "structure",
         "accuracy_vs_sparsity"),
        ("ERK weight masks", "cpu_unstructured_erk", "structure", "accuracy_vs_sparsity"),
        ("Drop-and-grow, SET-like", "cpu_dst_set", "search_every", "throughout"),
        ("Drop-and-grow, RigL-like", "cpu_dst_rigl", "search_every", "throughout"),
        ("Saliency ranked across the layers", "cpu_pai_global", "methods", "split"),
        # part 5: the same designs on real images, the Fashion-MNIST MLP of `fashion`'s grid
        ("Fashion-MNIST: saliency ranked within each layer", "fashion_pai", "methods",
         "methods_vs_sparsity"),
        ("Fashion-MNIST: saliency ranked across the layers", "fashion_pai_global", "methods",
         "split"),
        ("Fashion-MNIST: unstructured", "fashion_unstructured", "structure",
         "accuracy_vs_sparsity"),
        ("Fashion-MNIST rescaled: the local networks", "fashion_rescaled", None,
         "accuracy_vs_sparsity"),
        ("Fashion-MNIST rescaled: saliency ranked within each layer", "fashion_pai_rescaled",
         "methods", "methods_vs_sparsity"),
        ("Fashion-MNIST rescaled: saliency ranked across the layers",
         "fashion_pai_global_rescaled", "methods", "split"),
        ("Fashion-MNIST rescaled: unstructured", "fashion_unstructured_rescaled", "structure",
         "accuracy_vs_sparsity"))


def split(root: Path, preset: str) -> pd.DataFrame:
    """How a run of global masks spreads its node budget: the first hidden layer's share of the
    kept nodes (mean over seeds) per level and method; the second layer keeps the rest."""
    t = allocation(study.table(root, preset, "accuracy"))
    out = t.pivot_table(index=["dataset", "model", "sparsity"], columns="method",
                        values="first_share").reset_index()
    out["sparsity"] = out.sparsity.map(lambda s: f"{fmt.pct(s, 0)}%")
    return out.rename_axis(columns=None).apply(
        lambda c: c.map("{:.2f}".format) if c.dtype.kind == "f" else c)


def collapses(root: Path, preset: str, floor: float = 0.05) -> str:
    """The line on layer collapse in a run of saliency scores ranked across the layers: the
    method-levels whose mean split leaves a hidden layer under `floor` of the kept nodes, how
    many of them are worse than the run's random control (methods.csv), and how many worse
    method-levels there are in all."""
    split = allocation(study.table(root, preset, "accuracy"))
    split["collapsed"] = split.smallest_share < floor
    keys = ["dataset", "model", "sparsity", "method"]
    t = study.table(root, preset, "methods").merge(split[keys + ["collapsed"]], on=keys)
    worse = t.verdict == "worse"
    return (f"Layer collapse (a hidden layer left with under {floor:.0%} of the kept nodes, mean "
            f"over seeds): {int(t.collapsed.sum())} of {len(t)} method-levels, "
            f"{int((t.collapsed & worse).sum())} of them worse than this run's random networks; "
            f"{int(worse.sum())} method-levels are worse in all.")


def sections(root: Path) -> list[tuple[str, str, str, str | None]]:
    """(title, preset, Markdown, figure name) of every committed run of RUNS: the report of the
    axis that shows it, or weedout's verdicts against random for the plain grid; under a run of
    global masks ranked by the saliency scores, the split of the node budget every method ends
    with (`split`)."""
    out = []
    for title, preset, axis, fig in RUNS:
        if not has(root, preset):
            continue
        if axis:
            text = registry.get(axis).report(root, preset)
        else:
            c = counts(study.table(root, preset, "stats").verdict)
            text = (f"Weedout against random: {said(c)} (equivalent / inconclusive / better / "
                    "worse) of the levels.")
        if fig == "split" and axis == "methods":  # the structure axis's report has weedout's
            text += ("\n\nThe first hidden layer's share of the kept nodes, mean over seeds (a "
                     "local mask keeps half in each layer):\n\n"
                     + tables.to_markdown(split(root, preset)) + "\n\n" + collapses(root, preset))
        shown = fig if fig and (Path(root) / "figures" / preset / f"{fig}.png").exists() else None
        out.append((title, preset, text, shown))
    return out
