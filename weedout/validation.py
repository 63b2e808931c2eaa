"""Validation of notebook/CLI parameters and of a preset's settings, before any work starts:
each bad value gets a ValueError that names the parameter (or Config field), shows the value
and says what is allowed. `config.resolve` and `config.variant` call in here.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
from pathlib import Path

from . import config, paths
# The registries (PRESETS, PARAMETERS) and the hooks are read through `config` at call time:
# plugins add to them and tests may swap them for copies.
from .config import (CONTROLS, DEVICES, FIXED, RESERVED, SCORES, VARIANT_KEYS, Config, _bad,
                     _is_int, cells, parent_of, parent_widths)


def _names(name: str, value, allowed: tuple[str, ...]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise _bad(name, value, f"a non-empty list of names from {list(allowed)}")
    for v in items:
        if v not in allowed:
            raise _bad(name, v, f"each entry must be one of {list(allowed)}")
    if len(set(items)) != len(items):
        raise _bad(name, value, "entries must not repeat")
    return tuple(items)


def _count(name: str, value) -> int:
    if not _is_int(value) or value < 1:
        raise _bad(name, value, "a positive whole number (>= 1)")
    return value


def _sparsities(value) -> tuple[float, ...]:
    items = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise _bad("SPARSITIES", value, "a non-empty list of numbers in [0, 1)")
    out = []
    for s in items:
        # checked after rounding too: 0.9999999 would round to 1.0, which keeps no node
        if isinstance(s, bool) or not isinstance(s, (int, float)) or math.isnan(s) \
                or not (0 <= s < 1) or not (0 <= round(float(s), 6) < 1):
            raise _bad("SPARSITIES", s, "each sparsity must be a number in [0, 1) "
                       "(the fraction of hidden nodes removed)")
        if abs(round(float(s), 3) - float(s)) > 1e-9:
            # trial records are keyed by the level to three decimals (results.sparsity_key):
            # 0.5 and 0.5004 would share one record, and 0.1234 would reuse 0.1231's
            raise _bad("SPARSITIES", s, "at most three decimals (e.g. 0.125): trial records "
                       "are keyed by the level to three decimals")
        out.append(round(float(s), 3))
    if len(set(out)) != len(out):
        raise _bad("SPARSITIES", value, "sparsity levels must not repeat")
    return tuple(sorted(out))


def _seeds(value) -> tuple[int, ...]:
    if _is_int(value):
        return tuple(range(_count("SEEDS", value)))
    if not isinstance(value, (list, tuple)) or not value:
        raise _bad("SEEDS", value, "a count n >= 1 (seeds 0..n-1) or a non-empty list of "
                   "distinct whole numbers >= 0")
    for s in value:
        if not _is_int(s) or s < 0:
            raise _bad("SEEDS", s, "each seed must be a whole number >= 0")
    if len(set(value)) != len(value):
        raise _bad("SEEDS", value, "seeds must not repeat")
    return tuple(value)


def _widths(value) -> tuple[float, ...]:
    items = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if not isinstance(items, (list, tuple)):
        raise _bad("WIDTHS", value, "a list of parent-width factors > 0 (e.g. [0.5, 1, 2]); "
                   "[] for the preset's parent only")
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (0 < w < math.inf):
            raise _bad("WIDTHS", w, "each factor must be a number > 0 (1: the preset's parent)")
    out = tuple(float(w) for w in items)
    if len(set(out)) != len(out):
        raise _bad("WIDTHS", value, "factors must not repeat")
    return tuple(sorted(out))


def _path(name: str, value):
    """A folder parameter as an absolute path (relative: from the working directory, the rule
    of `weedout.paths`), or None for the preset's default."""
    # "" would be the working directory itself; a path naming an existing file would only
    # fail when the stage that writes there starts (04_figures: after the whole run).
    if value is not None and (not isinstance(value, (str, Path)) or str(value) == ""):
        raise _bad(name, value, "a folder path (non-empty str) or None for the preset's default")
    if value is None:
        return None
    path = paths.resolve(value, paths.ROOT)
    if path.exists() and not path.is_dir():
        raise _bad(name, value, "a folder, but that path is an existing file")
    return str(path)


def _outputs(cfg: Config, given: dict) -> None:
    """Refuse an output folder that would overwrite the package's own files or another
    preset's results (a committed run's tables, run.json and figures), before any work."""
    for name, path, default in (("RESULTS_DIR", cfg.results_path, paths.results_dir),
                                ("FIGURES_DIR", cfg.figures_path, paths.figures_dir)):
        why = paths.protected(path)
        if why is None:
            other = [p for p in config.PRESETS if p != cfg.preset and default(p) == path]
            if other:
                why = f"it is the folder of preset {other[0]!r}"
        if why is None and name == "RESULTS_DIR":
            made = _run_preset(path)
            if made not in (None, cfg.preset):
                why = f"it holds a run of preset {made!r} (its run.json)"
        if why is not None:
            raise _bad(name, given.get(name, str(path)), f"{why}; choose another folder, or None for "
                       f"{default(cfg.preset)}")


def _run_preset(folder: Path) -> str | None:
    """The preset of the run whose run.json is in `folder` (None: no readable run.json)."""
    try:
        return json.loads((folder / "run.json").read_text()).get("config", {}).get("preset")
    except (OSError, ValueError, AttributeError):
        return None


def resolve(PRESET: str | None = None, **params) -> Config:
    """The Config for a preset with notebook parameters applied; None means 'from the preset'
    (and PRESET None means `default_preset()`).

    Raises ValueError naming the parameter, its value and what is allowed, before any work.
    """
    from . import data, search  # late: keep `import weedout.config` light

    config.load_plugins()
    name = "PRESET"
    if PRESET is None:
        PRESET, source = config.default_preset()
        name = "PRESET" if source == "default" else source
    # (not isinstance first: a list would raise TypeError in the `in`)
    if not isinstance(PRESET, str) or PRESET not in config.PRESETS:
        raise _bad(name, PRESET, f"one of {list(config.PRESETS)}")
    unknown = sorted(set(params) - set(config.PARAMETERS))
    if unknown:  # a typo must not be dropped silently: the run would use the preset's value
        close = difflib.get_close_matches(unknown[0].upper(), config.PARAMETERS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise _bad(unknown[0], params[unknown[0]], f"unknown parameter; {hint}known parameters "
                   f"are PRESET, {', '.join(config.PARAMETERS)}")
    base = config.PRESETS[PRESET]
    given = {k: v for k, v in params.items() if v is not None}
    changes: dict = {}
    if "DATASETS" in given:
        changes["datasets"] = _names("DATASETS", given["DATASETS"], tuple(data.DATASETS))
    if "MODELS" in given:
        changes["models"] = _names("MODELS", given["MODELS"], tuple(data.MODELS))
    if "SPARSITIES" in given:
        changes["sparsities"] = _sparsities(given["SPARSITIES"])
    if "SEEDS" in given:
        changes["seeds"] = _seeds(given["SEEDS"])
    if "WIDTHS" in given:
        changes["widths"] = _widths(given["WIDTHS"])
    for key in ("CANDIDATES", "EPOCHS"):
        if key in given:
            changes[config.PARAMETERS[key]] = _count(key, given[key])
    if "DEVICE" in given:
        if given["DEVICE"] not in DEVICES:
            raise _bad("DEVICE", given["DEVICE"], f"one of {list(DEVICES)}")
        changes["device"] = given["DEVICE"]
    if "PRECISION" in given:
        changes["precision"] = given["PRECISION"]
    for key in ("DATA_ROOT", "RESULTS_DIR", "FIGURES_DIR"):
        if key in given:
            changes[config.PARAMETERS[key]] = _path(key, given[key])
    cfg = dataclasses.replace(base, **changes)
    _outputs(cfg, given)
    # Every (dataset, model) pair must make sense; a model list applies to every dataset.
    for ds, model in cells(cfg):
        base, factor = parent_of(model)
        data.check_model(ds, base)
        parent_widths(cfg.mlp_widths if base == "mlp" else cfg.cnn_channels, factor)
    if cfg.strategy not in search.STRATEGIES:
        raise _bad("strategy", cfg.strategy, f"one of {list(search.STRATEGIES)}")
    for name in cfg.comparators:
        if name not in search.STRATEGIES or name in RESERVED or name == cfg.strategy:
            raise _bad("comparators", name, f"each one of {list(search.STRATEGIES)}, other than "
                       f"the strategy itself ({cfg.strategy!r}), not repeated")
    if len(set(cfg.comparators)) != len(cfg.comparators):
        raise _bad("comparators", cfg.comparators, "entries must not repeat")
    for name in cfg.controls:
        if name not in CONTROLS or cfg.controls.count(name) > 1:
            raise _bad("controls", name, f"each one of {list(CONTROLS)}, not repeated")
    _structure(cfg)
    if cfg.score not in SCORES:
        raise _bad("score", cfg.score, f"one of {list(SCORES)}")
    if not _is_int(cfg.search_after) or not 0 <= cfg.search_after < cfg.epochs:
        raise _bad("search_after", cfg.search_after, f"a whole number of epochs from 0 (search "
                   f"at initialisation, the paper) to EPOCHS-1 ({cfg.epochs - 1})")
    if cfg.search_after and cfg.controls:
        raise _bad("controls", cfg.controls, "none when search_after > 0: scratch and rescaled "
                   "are defined at initialisation")
    if not _is_int(cfg.search_every) or not 0 <= cfg.search_every < cfg.epochs - cfg.search_after:
        raise _bad("search_every", cfg.search_every, f"a whole number of epochs: 0 (search once) "
                   f"or from 1 to EPOCHS-1-search_after ({cfg.epochs - 1 - cfg.search_after}), "
                   "so that at least one search happens during training")
    if cfg.search_every and (cfg.controls or cfg.comparators or cfg.variants):
        raise _bad("search_every", cfg.search_every, "0 in a run with controls, comparators or "
                   "variants: searching throughout training trains weedout, random and their "
                   f"fixed twins {list(FIXED)} only")
    for name in cfg.variants:
        key, value = variant(name)
        if value == getattr(cfg, key) or cfg.variants.count(name) > 1:
            raise _bad("variants", name, f"a setting other than the main search's own "
                       f"({key}={getattr(cfg, key)}), not repeated")
    if cfg.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise _bad("DEVICE", "cuda", "'auto' or 'cpu': torch sees no CUDA device here")
    _precision(cfg)
    return cfg


def _precision(cfg: Config) -> None:
    """PRECISION: a known one, and bfloat16 only where the device has bfloat16 units."""
    from . import precision
    if cfg.precision not in precision.PRECISIONS:
        raise _bad("PRECISION", cfg.precision, f"one of {list(precision.PRECISIONS)}")
    why = precision.why_not(cfg.precision, config.device_of(cfg))
    if why is not None:
        raise _bad("PRECISION", cfg.precision, why)


def _structure(cfg: Config) -> None:
    from . import structure
    if cfg.structure not in structure.STRUCTURES:
        raise _bad("structure", cfg.structure, f"one of {list(structure.STRUCTURES)}")
    if cfg.layer_density and cfg.structure != "nonuniform":
        raise _bad("layer_density", cfg.layer_density, "() unless structure='nonuniform'")
    if cfg.structure in ("global", "unstructured") and (
            cfg.comparators or cfg.variants or cfg.controls or cfg.search_every
            or cfg.strategy != "random_search"):
        raise _bad("structure", cfg.structure, "'local' or 'nonuniform' in a run with comparators, "
                   "variants, controls, search_every or a strategy other than random_search: "
                   "global and unstructured masks are searched by random search and trained "
                   "beside random only")
    for ds, model in cells(cfg):
        layers = len(cfg.mlp_widths if parent_of(model)[0] == "mlp" else cfg.cnn_channels)
        d = cfg.layer_density
        if d and (len(d) != layers or not all(isinstance(v, (int, float)) and not
                                               isinstance(v, bool) and 0 < v < math.inf for v in d)):
            raise _bad("layer_density", d, f"one positive number per hidden layer ({layers} for "
                       f"{model}), or () for the ERK-style rule")


def variant(name: str) -> tuple[str, int | str]:
    """("candidates", 1000) of "candidates=1000": the one search setting a variant changes."""
    key, sep, value = str(name).partition("=")
    allowed = ("'key=value' with key one of " + str(list(VARIANT_KEYS)) + ": a positive whole "
               f"number for candidates and score_batch, one of {list(SCORES)} for score")
    if not sep or key not in VARIANT_KEYS:
        raise _bad("variants", name, allowed)
    if key == "score":
        if value not in SCORES:
            raise _bad("variants", name, allowed)
        return key, value
    if not value.isdigit() or int(value) < 1 or str(int(value)) != value:
        raise _bad("variants", name, allowed)
    return key, int(value)
