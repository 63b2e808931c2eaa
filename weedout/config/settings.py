"""The settings of a run: `Config` (frozen), its stable digest, the method names the tables
reserve, the notebook/CLI parameter names, the error every refusal uses (`bad`) and the one a
stage raises when an earlier stage's output is missing (`MissingStageError`).

Every setting of a run lives in one `Config`. The presets (weedout/config/presets.py) are *our*
choices: the paper (arXiv 2403.08265) does not give its datasets' widths, budgets or
hyperparameters, so we picked the field's standard ones and say so in the README. The notebook
parameters are checked by `weedout.config.validation.resolve` before any work starts.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path

from ..core.train import Schedule
from . import paths

DEVICES = ("auto", "cpu", "cuda")
SCORES = ("loss", "error")
# Controls trained beside the searched networks: "scratch" is a freshly initialised dense network
# with the sparse network's widths; "rescaled" is the random mask with its kept weights rescaled
# to the sparse network's fan-in (the parent's init is scaled for the parent's fan-in).
CONTROLS = ("scratch", "rescaled")
# Search settings a variant may change (VARIANTS entries "candidates=1000", "score=error",
# "score_batch=64"): the same strategy searched again with that one setting, trained beside.
VARIANT_KEYS = ("candidates", "score", "score_batch")
# Method names the tables already use: a comparator may not take one.
# Methods of a run that searches throughout training (weedout.throughout): the first masks,
# kept through the same cuts.
FIXED = ("weedout_fixed", "random_fixed")
RESERVED = ("dense", "weedout", "random") + CONTROLS + FIXED


@dataclass(frozen=True)
class Config:
    preset: str = "smoke"
    # -- the grid: which trials exist (not hashed: extending the grid reuses finished trials) --
    datasets: tuple[str, ...] = ("digits",)
    models: tuple[str, ...] | None = None     # None: each dataset's default parents
    sparsities: tuple[float, ...] = (0.5, 0.9)  # fraction of hidden nodes removed per layer
    seeds: tuple[int, ...] = (0, 1)           # seed = parent init + data order (pairs methods)
    # -- search --
    candidates: int = 8                       # N masks scored by the random-search heuristic
    strategy: str = "random_search"           # key of weedout.search.STRATEGIES
    score: str = "loss"                       # "loss": CE of the masked untrained net; "error"
    score_batch: int = 512                    # size of the fixed scoring batch (training split)
    search_after: int = 0                     # epochs the dense parent trains before the search
    search_every: int = 0                     # > 0: search again every this many epochs
    regrow: str = "search"                    # at those cuts: "search" again, or drop and grow
    #                                           nodes, "set" (at random) or "rigl" (by gradient)
    drop_fraction: float = 0.3                # set/rigl: fraction dropped at epoch 0 (cosine)
    structure: str = "local"                  # node budget over the layers (weedout.structure)
    layer_density: tuple[float, ...] = ()     # nonuniform: relative density per hidden layer
    #                                           (() = the ERK-style rule)
    init: str = "inherited"                   # "rescaled": kept units scaled to their kept
    #                                           fan-in (weedout.core.inits)
    equal_to: str = "nodes"                   # nonuniform: the local mask's node total, or
    #                                           "params": the total matching its parameters
    weight_rule: str = "local"                # unstructured: each matrix as in the local node
    #                                           mask, or "erk" (Evci et al. 2020)
    # -- beside the search: more methods on the same parents, seeds and levels (method = name) --
    comparators: tuple[str, ...] = ()         # more keys of STRATEGIES, e.g. ("snip", "grasp")
    controls: tuple[str, ...] = ()            # from CONTROLS: "scratch", "rescaled"
    variants: tuple[str, ...] = ()            # "key=value", key from VARIANT_KEYS (`variant`)
    # -- parents --
    mlp_widths: tuple[int, ...] = (256, 256)  # hidden nodes per layer of the MLP parent
    cnn_channels: tuple[int, ...] = (32, 64)  # channels (= nodes) per conv block of the CNNs
    widths: tuple[float, ...] = ()            # parent-width factors, a grid axis (`cells`):
    #                                           () = the parent above only, as the paper
    # -- training: identical for every method --
    epochs: int = 3
    batch_size: int = 64
    lr: float = 0.05                          # SGD peak learning rate, cosine-annealed per step
    momentum: float = 0.9
    weight_decay: float = 5e-4
    precision: str = "float32"                # "bfloat16": mixed precision (weedout.core.precision)
    # -- where and how (not hashed) --
    device: str = "auto"
    data_root: str | None = None
    results_dir: str | None = None
    figures_dir: str | None = None
    equivalence_margin: float = 0.01          # TOST margin, absolute test accuracy (1 point)

    # Fields that only select trials or say where to run: they never change a trial's numbers.
    # `widths` too: a factor is part of its cell's model name ("mlp-x2"), so of every record key.
    UNHASHED = ("preset", "datasets", "models", "sparsities", "seeds", "widths", "device",
                "data_root", "results_dir", "figures_dir", "equivalence_margin")

    @property
    def results_path(self) -> Path:
        return paths.resolve(self.results_dir, paths.results_dir(self.preset))

    @property
    def figures_path(self) -> Path:
        return paths.resolve(self.figures_dir, paths.figures_dir(self.preset))

    @property
    def data_path(self) -> Path:
        return paths.resolve(self.data_root, paths.data_dir())

    def digest(self) -> str:
        """Digest of the hashed fields that differ from the defaults (open_lth's habit: adding
        an option with a default never renames the folders of old runs)."""
        default = Config()
        changed = {f.name: getattr(self, f.name) for f in fields(self)
                   if f.name not in self.UNHASHED and getattr(self, f.name) != getattr(default, f.name)}
        blob = json.dumps(changed, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def schedule(self) -> Schedule:
        """The training schedule every method of the run shares."""
        return Schedule(self.epochs, self.batch_size, self.lr, self.momentum, self.weight_decay,
                        self.precision)


# Notebook/CLI parameter name -> Config field.
PARAMETERS = {"DATASETS": "datasets", "MODELS": "models", "SPARSITIES": "sparsities",
              "SEEDS": "seeds", "WIDTHS": "widths", "CANDIDATES": "candidates", "EPOCHS": "epochs",
              "DEVICE": "device", "PRECISION": "precision", "INIT": "init", "DATA_ROOT": "data_root",
              "RESULTS_DIR": "results_dir", "FIGURES_DIR": "figures_dir"}


def bad(name: str, value, allowed: str) -> ValueError:
    return ValueError(f"{name}={value!r} is not allowed: {allowed}")


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class MissingStageError(FileNotFoundError):
    """An earlier stage's output is missing. The fix is always "run notebook X first", which the
    message says, so a notebook shows this one line instead of a long red traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for an exception's own traceback
        return [f"{type(self).__name__}: {self}"]
