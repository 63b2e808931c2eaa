"""Every path the package uses, and the one rule for paths a person gives.

The rule: a relative path (RESULTS_DIR, FIGURES_DIR, DATA_ROOT; `--results-dir` ...) means a
folder under the *working directory* of whoever typed it, as with any command-line tool.
`resolve` turns it into an absolute path once, at validation, so the notebook kernels that
`python -m weedout` starts (in another directory) write where the person meant.
Defaults: in a clone of the repository, its `results/<preset>/`, `figures/<preset>/` and
`data/`; the package's own files are never an output (`protected`).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parent
NOTEBOOKS = ROOT / "notebooks"
# DATA_ROOT default: torchvision datasets are downloaded (or looked for) here.
DATA = Path(os.environ.get("WEEDOUT_DATA", ROOT / "data"))
# One line naming the preset of every notebook whose PRESET is None (untracked, optional;
# WEEDOUT_PRESET wins over it). In notebooks/ so that JupyterLab's file browser shows it.
PRESET_FILE = NOTEBOOKS / "preset.txt"
# Folders of the clone that hold its source: never a results or figures folder.
SOURCE = ("weedout", "notebooks", "tests", "scripts", ".git", ".ci")


def results_dir(preset: str) -> Path:
    """Default results folder of a preset: tables directly under it."""
    return ROOT / "results" / preset


def figures_dir(preset: str) -> Path:
    """Default figures folder of a preset."""
    return ROOT / "figures" / preset


def resolve(path: str | os.PathLike | None, default: Path) -> Path:
    """A user-given path as an absolute one (a relative path is taken from the working
    directory), or the default."""
    if path is None:
        return default
    return Path(os.path.abspath(Path(path).expanduser()))


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def protected(path: Path) -> str | None:
    """Why `path` may not be an output folder, or None: the repository root (its notebooks/
    would receive the executed copies), or a folder inside the package or the clone's source."""
    path = Path(os.path.realpath(path))
    root = Path(os.path.realpath(ROOT))
    if path == root:
        return f"the repository root ({root}): the executed notebooks would replace notebooks/"
    for folder in (Path(os.path.realpath(PACKAGE)), *(root / name for name in SOURCE)):
        if _within(path, folder):
            return f"inside {folder}, which holds the package's own files"
    return None
