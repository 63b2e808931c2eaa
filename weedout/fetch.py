"""`python -m weedout.fetch` (what `make data` runs): put the datasets a run needs on disk.

    python -m weedout.fetch --preset fashion        # every dataset of a preset
    python -m weedout.fetch fashion_mnist cifar10   # or by name

Offline datasets (digits, MNIST-1D) need nothing. The torchvision ones are looked for in
DATA_ROOT, then downloaded by torchvision when the network allows. Fashion-MNIST has a second
way in: Debian's `dataset-fashion-mnist` package, used where it is installed; run as root on a
machine with apt-get (CI does), this installs it when the download fails. When no way works it
stops with one message that names them all (exit 1), before any experiment starts.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from . import config, data
from .config import paths, validation

# Debian packages that carry a dataset, for the apt-get fallback.
DEBIAN_PACKAGES = {"fashion_mnist": "dataset-fashion-mnist"}


def _apt_install(package: str) -> bool:
    """Install a Debian package when we may (root, apt-get present); True if it installed."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    print(f"  download failed; installing Debian's {package} (apt-get install -y {package})",
          flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL, "env": env}
    if subprocess.run(["apt-get", "install", "-y", "-q", package], **quiet).returncode == 0:
        return True
    # A fresh machine's package lists may be empty: refresh them once and retry.
    subprocess.run(["apt-get", "update", "-q"], **quiet)
    return subprocess.run(["apt-get", "install", "-y", "-q", package], **quiet).returncode == 0


def fetch(name: str, root) -> None:
    """Make one dataset available or raise data.DatasetUnavailableError naming every way in."""
    try:
        data.ensure_available(name, root)
    except data.DatasetUnavailableError:
        package = DEBIAN_PACKAGES.get(name)
        if package is None or not _apt_install(package):
            raise
        data.ensure_available(name, root)  # finds the package's files now, or raises


def datasets_of(preset: str | None, names: list[str]) -> list[str]:
    """Named datasets, else the preset's; unknown names fail with the allowed list."""
    config.load_plugins()
    if names:
        return list(validation.check_names("DATASETS", names, tuple(data.DATASETS)))
    if preset not in config.PRESETS:
        raise ValueError(f"PRESET={preset!r} is not allowed: one of {list(config.PRESETS)}")
    return list(config.PRESETS[preset].datasets)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m weedout.fetch", description=__doc__.split("\n\n")[0])
    p.add_argument("datasets", nargs="*", help=f"dataset names, from {list(data.DATASETS)}")
    p.add_argument("--preset", default="cpu", help="fetch this preset's datasets (default: cpu)")
    p.add_argument("--data-root", default=None, help="default: $WEEDOUT_DATA, else the clone's "
                   "data/ (installed: the working directory's)")
    a = p.parse_args(argv)
    root = paths.resolve(a.data_root, paths.data_dir())
    try:
        names = datasets_of(a.preset, a.datasets)
        for name in names:
            fetch(name, root)
            where = "offline, nothing to fetch" if data.DATASETS[name].offline else f"in {root}"
            print(f"  {name}: ready ({where})")
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
