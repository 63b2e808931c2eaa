"""The method made visible for the study notebooks: one search's candidates with its winner and
the random mask, the masks themselves (recomputed: the trial records are not committed), and two
strategies' searches side by side."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import config
from ..pipeline import workers
from ..viz.plotting import METHOD_COLORS
from . import evolution, study


def one_search(root: Path, preset: str, cell: tuple) -> pd.DataFrame:
    """The candidates of one search (dataset, model, sparsity, seed) in the order scored, with
    the random control's score (accuracy.csv init_score) as the row `candidate` -1."""
    keys = ["dataset", "model", "sparsity", "seed"]
    s = study.table(root, preset, "search").set_index(keys).loc[cell].reset_index()
    a = study.table(root, preset, "accuracy").set_index(keys + ["method"]).loc[(*cell, "random")]
    return pd.concat([s, pd.DataFrame([{"candidate": -1, "score": float(a.init_score), "chosen": False}])],
                     ignore_index=True)[["candidate", "score", "chosen"]]


def _title(cell: tuple) -> str:
    return f"{cell[0]} / {cell[1]}, sparsity {cell[2]:.0%}, seed {cell[3]}"


def plot_one_search(root: Path, preset: str, cell: tuple) -> Figure:
    """Every candidate's score in the order scored, the winner and the random mask's score."""
    scores = one_search(root, preset, cell)
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    c = scores[scores.candidate >= 0]
    ax.scatter(c.candidate, c.score, s=12, color="0.6", label="candidate")
    w = c[c.chosen.astype(bool)]
    ax.scatter(w.candidate, w.score, marker="D", s=50, color=METHOD_COLORS["weedout"],
               label="winner (weedout)", zorder=3)
    ax.axhline(float(scores[scores.candidate == -1].score.iloc[0]), color=METHOD_COLORS["random"],
               ls="--", label="random mask")
    ax.set(xlabel="candidate, in the order scored", ylabel="loss at initialisation (nats)",
           title=f"{preset}: {_title(cell)}")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def recompute_masks(root: Path, preset: str, cell: tuple) -> dict:
    """Weedout's and random's masks of one search, recomputed by the package's own search code
    (`pipeline.workers.search_trials`) from the run's committed config.json: the trial records
    holding them are not committed. Raises unless the winner's and the random mask's scores
    equal the committed ones (search.csv, accuracy.csv init_score)."""
    saved = json.loads((Path(root) / "results" / preset / "config.json").read_text())
    names = {f.name for f in dataclasses.fields(config.Config)}
    cfg = config.Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()
                           if k in names})
    out: dict = {}
    workers.search_trials(dataclasses.replace(cfg, results_dir=None, device="cpu"), [cell],
                        lambda _, payload: out.update(payload), None)
    committed = one_search(root, preset, cell)
    want = (float(committed[committed.chosen.astype(bool)].score.iloc[0]),
            float(committed[committed.candidate == -1].score.iloc[0]))
    got = (out["scores"][out["best_index"]], out["random_score"])
    if not np.allclose(got, want, rtol=0, atol=1e-5):
        raise ValueError(f"recomputed scores {got} differ from the committed {want}")
    widths = workers.setup(cfg, cell[0], cell[1])[1].widths
    return {"weedout": [set(layer[0]) for layer in out["weedout"]],
            "random": [set(layer[0]) for layer in out["random"]], "widths": widths}


def plot_masks(m: dict) -> Figure:
    """Kept (dark) and removed nodes of each hidden layer, weedout's mask above random's."""
    fig = Figure(figsize=(9, 0.9 + 0.8 * len(m["widths"])), layout="constrained")
    axes = fig.subplots(len(m["widths"]), 1, squeeze=False)[:, 0]
    for layer, (ax, width) in enumerate(zip(axes, m["widths"])):
        grid = np.array([[i in m[k][layer] for i in range(width)] for k in ("weedout", "random")])
        ax.imshow(grid, aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set_yticks([0, 1], ["weedout", "random"])
        ax.set_title(f"hidden layer {layer + 1}: {len(m['weedout'][layer])} of {width} nodes kept",
                     fontsize=9)
    axes[-1].set_xlabel("node")
    return fig


def masks_findings(m: dict) -> str:
    parts = [f"layer {i + 1}: {len(w & r)} shared (two random masks share "
             f"{len(w) * len(r) / width:.1f} on average)"
             for i, (w, r, width) in enumerate(zip(m["weedout"], m["random"], m["widths"]))]
    return "Nodes kept by both masks, " + "; ".join(parts) + "."


def plot_traces(root: Path, cell: tuple) -> Figure:
    """Best score so far against masks scored, for the random and the evolutionary search of one
    seed, with the random mask's score."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    for preset, label, color in ((evolution.BASE, "random search", "0.45"),
                                 (evolution.EVOLUTION, "evolutionary search", METHOD_COLORS["weedout"])):
        s = one_search(root, preset, cell)
        c = s[s.candidate >= 0]
        ax.plot(c.candidate + 1, c.score.cummin(), label=label, color=color, drawstyle="steps-post")
    ax.axhline(float(s[s.candidate == -1].score.iloc[0]), color=METHOD_COLORS["random"], ls="--",
               label="random mask")
    ax.set(xlabel="masks scored", ylabel="best loss so far (nats)",
           title=_title(cell))
    ax.legend(fontsize=8)
    return fig
