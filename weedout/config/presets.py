"""The named runs: every setting of each one (a `Config`), our choices where the paper is silent
(README: "Presets: what we chose where the paper is silent").

`PRESETS` is one dict: a plug-in adds its own presets to it. `default_preset` says which preset
a notebook whose PRESET is None runs.
"""
from __future__ import annotations

import dataclasses
import os

from . import paths
from .settings import Config


PRESETS: dict[str, Config] = {
    # Seconds on a 2-core CPU: what nbval, the tests and a plain "Run all" use.
    "smoke": Config(preset="smoke", datasets=("digits",), sparsities=(0.5, 0.9), seeds=(0, 1),
                    candidates=8, epochs=3, mlp_widths=(64, 64), batch_size=64, lr=0.05),
    # The main command's default: two offline datasets, the full sparsity sweep, < 20 min on
    # CPU.
    "cpu": Config(preset="cpu", datasets=("digits", "mnist1d"),
                  sparsities=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                  seeds=tuple(range(10)), candidates=100, epochs=30, mlp_widths=(256, 256),
                  cnn_channels=(32, 32),
                  batch_size=64, lr=0.05),
    # Paper scale, for a GPU: MNIST, Fashion-MNIST, CIFAR-10 via torchvision.
    "paper": Config(preset="paper", datasets=("mnist", "fashion_mnist", "cifar10"),
                    sparsities=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                    seeds=tuple(range(10)), candidates=1000, epochs=20, mlp_widths=(512, 512),
                    cnn_channels=(32, 64, 128), batch_size=128, lr=0.02, score_batch=1024),
}
# Real images on a CPU: Fashion-MNIST (60000/10000, 28x28) with an MLP and a small 2-D CNN, both
# overparameterized for the task, sized to finish in under an hour on 2 cores (the README says
# what that trades: 4 epochs, 16-32 channels, batch 64 because it is the fastest per example).
PRESETS["fashion"] = Config(preset="fashion", datasets=("fashion_mnist",),
                            models=("mlp", "cnn"),
                            sparsities=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                            seeds=tuple(range(5)), candidates=100, epochs=4,
                            mlp_widths=(256, 256), cnn_channels=(16, 32), batch_size=64,
                            lr=0.05)
# Beyond the paper (its future work: "other RSH strategies"): the cpu grid searched by the
# evolutionary strategy at the same budget, so `method=weedout` means "evolution's winner".
PRESETS["cpu_evolution"] = dataclasses.replace(PRESETS["cpu"], preset="cpu_evolution",
                                               strategy="evolution")
# Is anything better than random? The field's pruning-at-initialisation scores at node level,
# their inverted twins, and the two controls that explain the drop vs dense, on the cpu grid.
PRESETS["cpu_pai"] = dataclasses.replace(
    PRESETS["cpu"], preset="cpu_pai", controls=("scratch", "rescaled"),
    comparators=tuple(f"{m}{v}" for m in ("magnitude", "snip", "grasp", "synflow")
                      for v in ("", "_inverted")))

# The paper's future work, "other RSH strategies and their parameters": the search budget (1,
# 10, 100 = weedout, 1000 candidates), the score kind and the scoring-batch size, on the cpu
# grid's MLP cells (the 1-D CNN's seven stacked networks per seed would take the run past 30
# minutes).
PRESETS["cpu_budget"] = dataclasses.replace(
    PRESETS["cpu"], preset="cpu_budget", models=("mlp",),
    variants=("candidates=1", "candidates=10", "candidates=1000", "score=error",
              "score_batch=64"))

# The paper's future work, "Weedout after limited training": the dense parent trains 3 of the 30
# epochs, then the search (and magnitude and SNIP, which now read trained weights; magnitude's
# inverted twin as the sanity check) cuts it, and the cut networks train the other 27 epochs.
# The cpu grid's MLP cells (about 10 minutes on 2 cores).
PRESETS["cpu_search_after"] = dataclasses.replace(
    PRESETS["cpu"], preset="cpu_search_after", models=("mlp",), search_after=3,
    comparators=("magnitude", "magnitude_inverted", "snip"))

# The paper's future work, "the degree of overparameterization": the cpu grid's MLP cells from
# parents of 32 to 512 nodes per layer (factors of 256-256). The levels 0.5, 0.75 and 0.875
# carve networks of one size out of parents of two, four and eight times that size; 0.8 and 0.9
# locate the paper's "about 15% drop at 80% sparsity". Factor 1 is the cpu preset's parent (same
# seeds).
PRESETS["cpu_widths"] = dataclasses.replace(
    PRESETS["cpu"], preset="cpu_widths", models=("mlp",), widths=(0.125, 0.25, 0.5, 1, 2),
    sparsities=(0.5, 0.75, 0.8, 0.875, 0.9))

# The paper's future work, "non-uniform sparsity": the cpu grid with each level's node budget
# (the same total as local) spread over the layers by the ERK-style rule of weedout.structure.
PRESETS["cpu_structure"] = dataclasses.replace(PRESETS["cpu"], preset="cpu_structure",
                                               structure="nonuniform")

# The paper's future work, "Weedout throughout training": the cpu grid's MLP cells searched
# again every 5 of the 30 epochs (weedout) or re-drawn (random), beside twins that keep their
# first masks through the same cuts.
PRESETS["cpu_throughout"] = dataclasses.replace(PRESETS["cpu"], preset="cpu_throughout",
                                                models=("mlp",), search_every=5)

# The paper's future work, "global sparsity": the cpu grid's MLP cells with one node budget for
# the whole network (the local total), its split across the layers drawn and searched.
PRESETS["cpu_global"] = dataclasses.replace(PRESETS["cpu"], preset="cpu_global",
                                            models=("mlp",),
                                            structure="global")
# The paper's future work, "unstructured sparsity": the cpu grid's MLP cells with weight-level
# masks, each matrix keeping as many weights as in the level's local node mask.
PRESETS["cpu_unstructured"] = dataclasses.replace(PRESETS["cpu"], preset="cpu_unstructured",
                                                  models=("mlp",), structure="unstructured")


PRESET_ENV = "WEEDOUT_PRESET"
DEFAULT_PRESET = "smoke"  # seconds on a CPU: what nbval and Run All on a fresh clone need


def default_preset() -> tuple[str, str]:
    """The preset of a notebook whose PRESET is None, and where it came from: WEEDOUT_PRESET
    if set, else the first line of notebooks/preset.txt if that file exists, else smoke. One
    place that switches all four notebooks (papermill's and the CLI's PRESET still win)."""
    env = os.environ.get(PRESET_ENV, "").strip()
    if env:
        return env, PRESET_ENV
    try:
        lines = paths.PRESET_FILE.read_text().splitlines()
    except FileNotFoundError:
        return DEFAULT_PRESET, "default"
    words = [ln.split("#")[0].strip() for ln in lines]  # '#' starts a comment
    return next((w for w in words if w), ""), str(paths.PRESET_FILE)

# Issue 19, the initialisation as a factor: the same grids with every kept unit's weights
# rescaled to its kept fan-in (`Config.init`; weedout.core.inits), so that each conclusion of
# the structure, global, unstructured and widths runs can be read under both initialisations.
# `cpu_rescaled` is the cpu grid itself, the local networks the others are paired with.
for _name in ("cpu", "cpu_structure", "cpu_global", "cpu_unstructured", "cpu_widths"):
    PRESETS[f"{_name}_rescaled"] = dataclasses.replace(PRESETS[_name], preset=f"{_name}_rescaled",
                                                        init="rescaled")

# Issue 19, designs that decided conclusions: the non-uniform allocation at equal parameter count
# (not node count), real ERK for weight masks, node-level drop-and-grow (SET-like and RigL-like)
# at the cuts of cpu_throughout, and the saliency comparators ranked across the layers (global
# masks: one node budget, at least one node per layer) on the cpu grid's MLP cells.
PRESETS["cpu_structure_params"] = dataclasses.replace(
    PRESETS["cpu_structure"], preset="cpu_structure_params", equal_to="params")
PRESETS["cpu_unstructured_erk"] = dataclasses.replace(
    PRESETS["cpu_unstructured"], preset="cpu_unstructured_erk", weight_rule="erk")
for _grow in ("set", "rigl"):
    PRESETS[f"cpu_dst_{_grow}"] = dataclasses.replace(
        PRESETS["cpu_throughout"], preset=f"cpu_dst_{_grow}", regrow=_grow)
PRESETS["cpu_pai_global"] = dataclasses.replace(
    PRESETS["cpu_pai"], preset="cpu_pai_global", models=("mlp",), structure="global",
    controls=())

# Issue 19, part 5: the claims beyond the paper on real images, the `fashion` preset's MLP
# (256-256, 5 seeds, 9 levels, 100 candidates): the comparators ranked within each layer and
# across the layers, and weight masks against node masks, each under both initialisations
# (the rescaled control is refused under INIT = rescaled, so those runs have no controls). A
# comparator run takes half an hour to an hour on 2 CPU cores with local workers (their
# run.json files); a GPU does them faster (scripts/gpu_run.sh takes presets). `fashion_rescaled`:
# the local MLP networks the rescaled runs are paired with (the inherited ones are `fashion`'s).
_FASHION_MLP = dataclasses.replace(PRESETS["fashion"], models=("mlp",))
PRESETS["fashion_rescaled"] = dataclasses.replace(_FASHION_MLP, preset="fashion_rescaled",
                                                  init="rescaled")
for _name, _changes in (("fashion_pai", {"comparators": PRESETS["cpu_pai"].comparators,
                                         "controls": PRESETS["cpu_pai"].controls}),
                        ("fashion_pai_global", {"comparators": PRESETS["cpu_pai"].comparators,
                                                "structure": "global"}),
                        ("fashion_unstructured", {"structure": "unstructured"})):
    PRESETS[_name] = dataclasses.replace(_FASHION_MLP, preset=_name, **_changes)
    PRESETS[f"{_name}_rescaled"] = dataclasses.replace(
        PRESETS[_name], preset=f"{_name}_rescaled", init="rescaled",
        controls=tuple(c for c in PRESETS[_name].controls if c != "rescaled"))
