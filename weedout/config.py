"""The settings of a run (`Config`, frozen), its stable digest, the presets dict, cell names and
derived seeds; parameter validation lives in weedout/validation.py.

Every setting of a run lives in one `Config`. The presets (`weedout/presets.py`) are *our*
choices: the paper (arXiv 2403.08265) does not give its datasets' widths, budgets or
hyperparameters, so we picked the field's standard ones and say so in the README.

The notebook parameters (PRESET, DATASETS, MODELS, SPARSITIES, WIDTHS, SEEDS, CANDIDATES, EPOCHS,
DEVICE, PRECISION, DATA_ROOT, RESULTS_DIR, FIGURES_DIR) are checked by `resolve`
(weedout/validation.py), before any work starts, and each bad value gets an error naming the
parameter, the value and what is allowed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

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
    structure: str = "local"                  # node budget over the layers (weedout.structure)
    layer_density: tuple[float, ...] = ()     # nonuniform: relative density per hidden layer
    #                                           (() = the ERK-style rule)
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
    precision: str = "float32"                # "bfloat16": mixed precision (weedout.precision)
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
        return paths.resolve(self.data_root, paths.DATA)

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


from . import presets as _presets  # noqa: E402 (needs Config, defined above)

PRESETS: dict[str, Config] = _presets.build(Config)


# Notebook/CLI parameter name -> Config field.
PARAMETERS = {"DATASETS": "datasets", "MODELS": "models", "SPARSITIES": "sparsities",
              "SEEDS": "seeds", "WIDTHS": "widths", "CANDIDATES": "candidates", "EPOCHS": "epochs",
              "DEVICE": "device", "PRECISION": "precision", "DATA_ROOT": "data_root",
              "RESULTS_DIR": "results_dir", "FIGURES_DIR": "figures_dir"}


def _bad(name: str, value, allowed: str) -> ValueError:
    return ValueError(f"{name}={value!r} is not allowed: {allowed}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parent_widths(widths: tuple[int, ...], factor: float) -> tuple[int, ...]:
    """The layer widths of a parent `factor` times as wide; ValueError (naming WIDTHS) unless
    every layer gets a whole number of nodes (0.3 x 32 channels would not)."""
    out = tuple(round(w * factor) for w in widths)
    if any(abs(n - w * factor) > 1e-9 or n < 1 for n, w in zip(out, widths)):
        raise _bad("WIDTHS", factor, f"a factor that gives every layer of {list(widths)} a whole "
                   "number (>= 1) of nodes")
    return out


def width_model(model: str, factor: float) -> str:
    """A cell's model name: "mlp" for factor 1 (the preset's own parent, its records and seeds
    too), else "mlp-x2", "mlp-x0.125"; the name keys the records, seeds and statistics."""
    return model if factor == 1 else f"{model}-x{factor:g}"


def parent_of(model: str) -> tuple[str, float]:
    """("mlp", 2.0) of "mlp-x2": the base model and the width factor of a cell's model name."""
    base, sep, factor = model.partition("-x")
    return (base, float(factor)) if sep else (model, 1.0)


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


def resolve(PRESET: str | None = None, **params) -> Config:
    """The Config for a preset with notebook parameters applied (`weedout.validation.resolve`:
    every bad value raises a ValueError naming the parameter, before any work)."""
    from .validation import resolve as _resolve  # late: validation imports this module
    return _resolve(PRESET, **params)


def variant(name: str) -> tuple[str, int | str]:
    """("candidates", 1000) of "candidates=1000" (`weedout.validation.variant`)."""
    from .validation import variant as _variant
    return _variant(name)


def load_plugins() -> None:
    """Import the modules named in WEEDOUT_PLUGINS (comma-separated). A plugin registers its own
    search strategy, dataset or preset (search.STRATEGIES, data.DATASETS, PRESETS) at import;
    the variable reaches every notebook kernel, so papermill runs see the same registry."""
    for name in filter(None, (m.strip() for m in os.environ.get("WEEDOUT_PLUGINS", "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise ValueError(f"WEEDOUT_PLUGINS={name!r} could not be imported ({e}): name a "
                             "module on the Python path") from None


def cells(cfg: Config) -> list[tuple[str, str]]:
    """The (dataset, model) pairs of a run: MODELS if given, else each dataset's defaults; with
    WIDTHS, one cell per model and width factor (`width_model`: "mlp-x0.5", "mlp", "mlp-x2")."""
    from . import data
    return [(ds, width_model(m, w)) for ds in cfg.datasets
            for m in (cfg.models if cfg.models is not None else data.DATASETS[ds].models)
            for w in (cfg.widths or (1,))]


def device_of(cfg: Config) -> str:
    import torch
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return cfg.device


def derive_seed(*tags) -> int:
    """A 63-bit seed from any tags (seed, phase, dataset, ...): independent streams per purpose,
    identical on every machine, unaffected by the order in which trials run."""
    blob = "/".join(map(str, tags)).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") >> 1
