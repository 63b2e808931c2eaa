"""Every path the package uses, and the one rule for paths a person gives.

The rule: a relative path (RESULTS_DIR, FIGURES_DIR, DATA_ROOT; `--results-dir` ...) means a
folder under the *working directory* of whoever typed it, as with any command-line tool.
`resolve` turns it into an absolute path once, at validation, so the notebook kernels that
`python -m weedout` starts (in another directory) write where the person meant.

Defaults (`home`): in a clone of the repository (an editable install included), its
`results/<preset>/`, `figures/<preset>/` and `data/`; installed as a package (a wheel,
`pip install git+...`), the working directory's. Whether this is a clone is decided here
(`CLONE`) and nowhere else. The package's own files are never an output (`protected`).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parent
# A clone: the package sits beside the pyproject.toml and the notebooks/ it was built from.
# Installed (site-packages, pip --target), ROOT is a folder of other packages: nothing of ours
# is written there.
CLONE = (ROOT / "pyproject.toml").is_file() and (ROOT / "notebooks" / "01_search.ipynb").is_file()
# The four pipeline notebooks: the clone's notebooks/ (the one copy people edit), or the copies
# the build put inside the installed package (setup.py), which are only ever read.
NOTEBOOKS = ROOT / "notebooks" if CLONE else PACKAGE / "notebooks"
# One line naming the preset of every notebook whose PRESET is None (untracked, optional;
# WEEDOUT_PRESET wins over it). In notebooks/ so that JupyterLab's file browser shows it.
PRESET_FILE = NOTEBOOKS / "preset.txt"
# Folders of the clone that hold its source: never a results or figures folder.
SOURCE = ("weedout", "notebooks", "tests", "scripts", ".git", ".ci")


def home() -> Path:
    """The folder the default outputs go under: the clone's root, or (installed) the working
    directory, read at each call as a command-line tool would."""
    return ROOT if CLONE else Path.cwd()


def kernel_dir() -> Path:
    """Where `python -m weedout` starts the notebook kernels: the clone's notebooks/ (as
    JupyterLab does), installed the working directory (never the package's own folder)."""
    return NOTEBOOKS if CLONE else Path.cwd()


def results_dir(preset: str) -> Path:
    """Default results folder of a preset: tables directly under it."""
    return home() / "results" / preset


def figures_dir(preset: str) -> Path:
    """Default figures folder of a preset."""
    return home() / "figures" / preset


def data_dir() -> Path:
    """DATA_ROOT's default, where torchvision datasets and the MNIST-1D cache live:
    $WEEDOUT_DATA, else data/ under `home`."""
    return Path(os.environ.get("WEEDOUT_DATA", home() / "data"))


def __getattr__(name: str):
    # paths.DATA is read when used (PEP 562): installed, it follows the working directory
    if name == "DATA":
        return data_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    would receive the executed copies) or the folder the package is installed in, or a folder
    inside the package or the clone's source."""
    path = Path(os.path.realpath(path))
    root = Path(os.path.realpath(ROOT))
    if path == root:
        return (f"the repository root ({root}): the executed notebooks would replace notebooks/"
                if CLONE else f"the folder the package is installed in ({root})")
    own = [root / name for name in SOURCE] if CLONE else []
    for folder in (Path(os.path.realpath(PACKAGE)), *own):
        if _within(path, folder):
            return f"inside {folder}, which holds the package's own files"
    return None


def nearest_existing(path: Path) -> Path:
    """`path` itself if it exists, else its closest ancestor that does: what decides whether
    the folder can be made (a file there, or no permission to write)."""
    path = Path(path)
    while not os.path.exists(path) and path != path.parent:
        path = path.parent
    return path
