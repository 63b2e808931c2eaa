"""Validation of notebook/CLI parameters and of a preset's settings, before any work starts:
each bad value gets a ValueError that names the parameter (or Config field), shows the value
and says what is allowed.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from pathlib import Path

import torch

from .. import data
from ..core import inits, precision, search
# The registries (PRESETS, STRATEGIES) are read through their modules at call time: plugins add
# to them and tests may swap them for copies.
from . import paths, plugins, presets
from .grid import cells, device_of, parent_of, parent_widths
from .settings import DEVICES, PARAMETERS, SCORES, VARIANT_KEYS, Config, bad, is_int


def check_names(name: str, value, allowed: tuple[str, ...]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise bad(name, value, f"a non-empty list of names from {list(allowed)}")
    for v in items:
        if v not in allowed:
            raise bad(name, v, f"each entry must be one of {list(allowed)}")
    if len(set(items)) != len(items):
        raise bad(name, value, "entries must not repeat")
    return tuple(items)


def _count(name: str, value) -> int:
    if not is_int(value) or value < 1:
        raise bad(name, value, "a positive whole number (>= 1)")
    return value


def _sparsities(value) -> tuple[float, ...]:
    items = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise bad("SPARSITIES", value, "a non-empty list of numbers in (0, 1)")
    out = []
    for s in items:
        # checked after rounding too: 0.9999999 would round to 1.0, which keeps no node; and 0
        # is the dense parent, which every run trains (as a level it gave an empty stats.csv)
        if isinstance(s, bool) or not isinstance(s, (int, float)) or math.isnan(s) \
                or not (0 < s < 1) or not (round(float(s), 6) < 1):
            raise bad("SPARSITIES", s, "each sparsity must be a number in (0, 1) (the "
                      "fraction of hidden nodes removed; the dense parent, level 0, is in every run)")
        if abs(round(float(s), 3) - float(s)) > 1e-9:
            # trial records are keyed by the level to three decimals (results.sparsity_key):
            # 0.5 and 0.5004 would share one record, and 0.1234 would reuse 0.1231's
            raise bad("SPARSITIES", s, "at most three decimals (e.g. 0.125): trial records "
                      "are keyed by the level to three decimals")
        out.append(round(float(s), 3))
    if len(set(out)) != len(out):
        raise bad("SPARSITIES", value, "sparsity levels must not repeat")
    return tuple(sorted(out))


def _seeds(value) -> tuple[int, ...]:
    if is_int(value):
        return tuple(range(_count("SEEDS", value)))
    if not isinstance(value, (list, tuple)) or not value:
        raise bad("SEEDS", value, "a count n >= 1 (seeds 0..n-1) or a non-empty list of "
                  "distinct whole numbers >= 0")
    for s in value:
        if not is_int(s) or s < 0:
            raise bad("SEEDS", s, "each seed must be a whole number >= 0")
    if len(set(value)) != len(value):
        raise bad("SEEDS", value, "seeds must not repeat")
    return tuple(value)


def _widths(value) -> tuple[float, ...]:
    items = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if not isinstance(items, (list, tuple)):
        raise bad("WIDTHS", value, "a list of parent-width factors > 0 (e.g. [0.5, 1, 2]); "
                  "[] for the preset's parent only")
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (0 < w < math.inf):
            raise bad("WIDTHS", w, "each factor must be a number > 0 (1: the preset's parent)")
    out = tuple(float(w) for w in items)
    if len(set(out)) != len(out):
        raise bad("WIDTHS", value, "factors must not repeat")
    return tuple(sorted(out))


def _path(name: str, value):
    """A folder parameter as an absolute path (relative: from the working directory, the rule
    of `weedout.paths`), or None for the preset's default."""
    # "" would be the working directory itself; a path naming an existing file would only
    # fail when the stage that writes there starts (04_figures: after the whole run).
    if value is not None and (not isinstance(value, (str, Path)) or str(value) == ""):
        raise bad(name, value, "a folder path (non-empty str) or None for the preset's default")
    if value is None:
        return None
    path = paths.resolve(value, paths.ROOT)
    above = paths.nearest_existing(path)
    if not above.is_dir():
        raise bad(name, value, "a folder, but that path is an existing file" if above == path
                  else f"a folder, but {above} is an existing file: no folder can be made under it")
    return str(path)


def _outputs(cfg: Config, given: dict) -> None:
    """Refuse an output folder that would overwrite the package's own files or another
    preset's results (a committed run's tables, run.json and figures), before any work."""
    for name, path, default in (("RESULTS_DIR", cfg.results_path, paths.results_dir),
                                ("FIGURES_DIR", cfg.figures_path, paths.figures_dir)):
        why = paths.protected(path)
        if why is None:
            other = [p for p in presets.PRESETS if p != cfg.preset and default(p) == path]
            if other:
                why = f"it is the folder of preset {other[0]!r}"
        if why is None and name == "RESULTS_DIR":
            made = _run_preset(path)
            if made not in (None, cfg.preset):
                why = f"it holds a run of preset {made!r} (its run.json)"
        if why is None:
            why = _unwritable(path)
        if why is not None:
            raise bad(name, given.get(name, str(path)), f"{why}; choose another folder, or None for "
                      f"{default(cfg.preset)}")


def _unwritable(path: Path) -> str | None:
    """Why no file can be written in `path` (made if missing), or None: decided by its nearest
    existing folder. Root ignores permission bits, so as root only a read-only mount is seen."""
    above = paths.nearest_existing(path)
    if not above.is_dir():
        return f"{above} is an existing file: no folder can be made under it"
    if not os.access(above, os.W_OK | os.X_OK):
        return f"{above} is not writable by this user"
    return None


def _run_preset(folder: Path) -> str | None:
    """The preset of the run whose run.json is in `folder` (None: no readable run.json)."""
    try:
        return json.loads((folder / "run.json").read_text()).get("config", {}).get("preset")
    except (OSError, ValueError, AttributeError):
        return None


def _changes(given: dict) -> dict:
    """The Config fields the given notebook parameters set, each value checked."""
    changes: dict = {}
    if "DATASETS" in given:
        changes["datasets"] = check_names("DATASETS", given["DATASETS"], tuple(data.DATASETS))
    if "MODELS" in given:
        changes["models"] = check_names("MODELS", given["MODELS"], tuple(data.MODELS))
    if "SPARSITIES" in given:
        changes["sparsities"] = _sparsities(given["SPARSITIES"])
    if "SEEDS" in given:
        changes["seeds"] = _seeds(given["SEEDS"])
    if "WIDTHS" in given:
        changes["widths"] = _widths(given["WIDTHS"])
    for key in ("CANDIDATES", "EPOCHS"):
        if key in given:
            changes[PARAMETERS[key]] = _count(key, given[key])
    if "DEVICE" in given:
        if given["DEVICE"] not in DEVICES:
            raise bad("DEVICE", given["DEVICE"], f"one of {list(DEVICES)}")
        changes["device"] = given["DEVICE"]
    if "PRECISION" in given:
        changes["precision"] = given["PRECISION"]
    if "INIT" in given:
        if given["INIT"] not in inits.INITS:
            raise bad("INIT", given["INIT"], f"one of {list(inits.INITS)}")
        changes["init"] = given["INIT"]
    for key in ("DATA_ROOT", "RESULTS_DIR", "FIGURES_DIR"):
        if key in given:
            changes[PARAMETERS[key]] = _path(key, given[key])
    return changes


def resolve(PRESET: str | None = None, **params) -> Config:
    """The Config for a preset with notebook parameters applied; None means 'from the preset'
    (and PRESET None means `default_preset()`).

    Raises ValueError naming the parameter, its value and what is allowed, before any work.
    """
    plugins.load_plugins()
    name = "PRESET"
    if PRESET is None:
        PRESET, source = presets.default_preset()
        name = "PRESET" if source == "default" else source
    # (not isinstance first: a list would raise TypeError in the `in`)
    if not isinstance(PRESET, str) or PRESET not in presets.PRESETS:
        hint = _did_you_mean(PRESET, presets.PRESETS, repr) if isinstance(PRESET, str) else ""
        raise bad(name, PRESET, f"{hint}one of {list(presets.PRESETS)}")
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:  # a typo must not be dropped silently: the run would use the preset's value
        hint = _did_you_mean(unknown[0].upper(), PARAMETERS, str)
        raise bad(unknown[0], params[unknown[0]], f"unknown parameter; {hint}known parameters "
                  f"are PRESET, {', '.join(PARAMETERS)}")
    given = {k: v for k, v in params.items() if v is not None}
    _lists_not_text(given)
    cfg = dataclasses.replace(presets.PRESETS[PRESET], **_changes(given))
    _outputs(cfg, given)
    # Every (dataset, model) pair must make sense; a model list applies to every dataset.
    for ds, model in cells(cfg):
        base, factor = parent_of(model)
        data.check_model(ds, base)
        parent_widths(cfg.mlp_widths if base == "mlp" else cfg.cnn_channels, factor)
    if cfg.strategy not in search.STRATEGIES:
        raise bad("strategy", cfg.strategy, f"one of {list(search.STRATEGIES)}")
    if cfg.score not in SCORES:
        raise bad("score", cfg.score, f"one of {list(SCORES)}")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise bad("DEVICE", "cuda", "'auto' or 'cpu': torch sees no CUDA device here")
    _precision(cfg)
    return cfg


def _did_you_mean(word: str, known, show) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f"did you mean {show(close[0])}? " if close else ""


# Parameters that take a list. papermill's `-p SPARSITIES "[0.5,0.9]"` passes the text
# "[0.5,0.9]"; only `-y` (YAML) passes a list.
LISTS = ("DATASETS", "MODELS", "SPARSITIES", "SEEDS", "WIDTHS")


def _lists_not_text(given: dict) -> None:
    """Refuse a list parameter given as text that looks like a list, pointing to `-y`."""
    for name in LISTS:
        text = given.get(name)
        if isinstance(text, str) and (text.strip()[:1] in ("[", "(") or "," in text):
            items = ", ".join(t.strip() for t in text.strip().strip("[]()").split(",") if t.strip())
            raise bad(name, text, "a list, not text that looks like one (papermill's -p passes "
                      f'text): give it as YAML with -y, e.g. -y "{name}: [{items}]"')


def _precision(cfg: Config) -> None:
    """PRECISION: a known one, and bfloat16 only where the device has bfloat16 units."""
    if cfg.precision not in precision.PRECISIONS:
        raise bad("PRECISION", cfg.precision, f"one of {list(precision.PRECISIONS)}")
    why = precision.why_not(cfg.precision, device_of(cfg))
    if why is not None:
        raise bad("PRECISION", cfg.precision, why)


def variant(name: str) -> tuple[str, int | str]:
    """("candidates", 1000) of "candidates=1000": the one search setting a variant changes."""
    key, sep, value = str(name).partition("=")
    allowed = ("'key=value' with key one of " + str(list(VARIANT_KEYS)) + ": a positive whole "
               f"number for candidates and score_batch, one of {list(SCORES)} for score")
    if not sep or key not in VARIANT_KEYS:
        raise bad("variants", name, allowed)
    if key == "score":
        if value not in SCORES:
            raise bad("variants", name, allowed)
        return key, value
    if not value.isdigit() or int(value) < 1 or str(int(value)) != value:
        raise bad("variants", name, allowed)
    return key, int(value)
