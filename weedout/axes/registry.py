"""The registry of axes, in the order the stages run them (which is also the order their methods
are stacked in a level), and what the stages ask of all of a run's axes at once.

A plug-in adds its own: `from weedout.axes import registry; registry.register(MyAxis())`
(`WEEDOUT_PLUGINS` imports it before any parameter is checked, in the CLI and in every kernel).
"""
from __future__ import annotations

from ..config import Config
from ..core import structures
from .base import Axis

AXES: list[Axis] = []
# The tables every run writes, by the stage that writes them; an axis adds its own.
BASE_TABLES = {"search.csv": "search", "accuracy.csv": "training", "curves.csv": "training",
               "stats.csv": "analysis"}


def register(axis: Axis) -> Axis:
    """Add an axis (one of the same name is replaced: a plug-in imported twice stays one)."""
    for i, a in enumerate(AXES):
        if a.name == axis.name:
            AXES[i] = axis
            return axis
    AXES.append(axis)
    return axis


def get(name: str) -> Axis:
    return next(a for a in AXES if a.name == name)


def active(cfg: Config) -> list[Axis]:
    return [a for a in AXES if a.active(cfg)]


def validate(cfg: Config) -> None:
    """Every axis checks its settings (an inactive one too: a setting may conflict with another
    axis's), before any work."""
    for a in AXES:
        a.validate(cfg)


def trained_methods(cfg: Config) -> tuple[str, ...]:
    """The methods trained beside weedout and random, in stacking order (an axis without its
    setting trains none: `methods` answers from the setting, so this asks every axis)."""
    return tuple(m for a in AXES for m in a.methods(cfg))


def mask_structure(cfg: Config) -> structures.Local:
    """The run's mask structure: the paper's local one unless an axis sets another."""
    return next((s for a in active(cfg) if (s := a.mask_structure(cfg)) is not None),
                structures.LOCAL)


def first_epoch(cfg: Config, sparsity: float | None) -> int:
    return max((a.first_epoch(cfg, sparsity) for a in active(cfg)), default=0)


def first(cfg: Config, hook: str, *args):
    """The first active axis's non-None answer to `hook` (search_parent, trainer), or None."""
    return next((r for a in active(cfg) if (r := getattr(a, hook)(cfg, *args)) is not None),
                None)


def stage_of(name: str) -> str | None:
    """The stage that writes table `name` (of any registered axis)."""
    return {**BASE_TABLES, **{t: s for a in AXES for t, s in a.tables.items()}}.get(name)


def tables(cfg: Config, stage: str) -> list[str]:
    """The tables a stage writes for this run, base ones first."""
    names = [t for t, s in BASE_TABLES.items() if s == stage]
    return names + [t for a in active(cfg) for t, s in a.tables.items() if s == stage]
