"""Every path the package uses, anchored at the repository root (never the cwd).

Notebooks run from ``notebooks/`` under JupyterLab and from wherever papermill was started,
so a relative path would mean different folders in the two cases.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
# DATA_ROOT default: torchvision datasets are downloaded (or looked for) here.
DATA = Path(os.environ.get("WEEDOUT_DATA", ROOT / "data"))
# One line naming the preset of every notebook whose PRESET is None (untracked, optional;
# WEEDOUT_PRESET wins over it). In notebooks/ so that JupyterLab's file browser shows it.
PRESET_FILE = NOTEBOOKS / "preset.txt"
# Debian's `dataset-fashion-mnist` package installs the four IDX .gz files here.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def results_dir(preset: str) -> Path:
    """Default results folder of a preset: tables directly under it."""
    return ROOT / "results" / preset


def figures_dir(preset: str) -> Path:
    """Default figures folder of a preset."""
    return ROOT / "figures" / preset


def resolve(path: str | os.PathLike | None, default: Path) -> Path:
    """A user-given path (relative ones are taken from the repository root) or the default."""
    if path is None:
        return default
    p = Path(path).expanduser()
    return p if p.is_absolute() else ROOT / p
