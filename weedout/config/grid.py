"""The grid of a run: its (dataset, model) cells, parent-width naming ("mlp-x2") and the
device it runs on."""
from __future__ import annotations

import torch

from .. import data
from .settings import Config, bad


def parent_widths(widths: tuple[int, ...], factor: float) -> tuple[int, ...]:
    """The layer widths of a parent `factor` times as wide; ValueError (naming WIDTHS) unless
    every layer gets a whole number of nodes (0.3 x 32 channels would not)."""
    out = tuple(round(w * factor) for w in widths)
    if any(abs(n - w * factor) > 1e-9 or n < 1 for n, w in zip(out, widths)):
        raise bad("WIDTHS", factor, f"a factor that gives every layer of {list(widths)} a whole "
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


def cells(cfg: Config) -> list[tuple[str, str]]:
    """The (dataset, model) pairs of a run: MODELS if given, else each dataset's defaults; with
    WIDTHS, one cell per model and width factor (`width_model`: "mlp-x0.5", "mlp", "mlp-x2")."""
    return [(ds, width_model(m, w)) for ds in cfg.datasets
            for m in (cfg.models if cfg.models is not None else data.DATASETS[ds].models)
            for w in (cfg.widths or (1,))]


def device_of(cfg: Config) -> str:
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return cfg.device
