"""The settings of a run and everything that checks or locates them: `Config` and its digest
(settings), the named runs (presets), parameter validation (validation), plug-ins (plugins),
the grid's cells (grid) and every path (paths).

    from weedout import config
    cfg = config.resolve("cpu", SEEDS=3)       # a validated Config
    config.PRESETS["mine"] = ...               # a plug-in's preset
"""
from .grid import cells, device_of, parent_of, parent_widths, width_model
from .plugins import load_plugins
from .presets import PRESETS, default_preset
from .settings import (CONTROLS, DEVICES, FIXED, PARAMETERS, RESERVED, SCORES, VARIANT_KEYS,
                       Config)
from .validation import resolve, variant

__all__ = ["CONTROLS", "DEVICES", "FIXED", "PARAMETERS", "PRESETS", "RESERVED", "SCORES",
           "VARIANT_KEYS", "Config", "cells", "default_preset", "device_of", "load_plugins",
           "parent_of", "parent_widths", "resolve", "variant", "width_model"]
