"""Installed as a package, not run from a clone (issue 21, item 2).

The issue's "done when", as a user meets it: a wheel built from the source (`pip wheel
--no-deps`, no build isolation, so nothing is fetched), installed into a folder of its own, and
from an empty folder `python -m weedout --preset smoke` and `run_all(configure("smoke"))`. Both
must succeed with the tables under that folder (results/smoke/, figures/smoke/: the working
directory, since there is no clone), and the install folder must gain nothing: the notebooks
run from the copies inside the package (setup.py puts them there) and every output and cache
goes elsewhere. The dependencies come from this interpreter's site-packages; the package itself
only from the install folder (checked: `weedout.__file__`, and the kernels' tables landing in
the working directory, which the clone's code would not do).
"""
import os
import shutil
import subprocess
import sys

import pytest

from weedout.config import paths

SKIP = shutil.ignore_patterns(".git", ".venv", "build", "data", "results", "figures", "docs",
                              "gpu_bundle", "*.egg-info", "__pycache__", ".ipynb_checkpoints")


def listing(folder) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, installed with pip --target into a folder of its own; that folder."""
    root = tmp_path_factory.mktemp("install")
    src, dist, target = root / "src", root / "dist", root / "site"
    shutil.copytree(paths.ROOT, src, ignore=SKIP)  # the build writes build/ into its source
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(src)], check=True, capture_output=True, timeout=300)
    wheel, = dist.glob("weedout_repro-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    assert sorted(p.name for p in (target / "weedout" / "notebooks").iterdir()) == [
        "01_search.ipynb", "02_training.ipynb", "03_analysis.ipynb", "04_figures.ipynb"]
    return target


def python(target, cwd, *args, timeout=600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WEEDOUT_DATA", "WEEDOUT_PRESET", "WEEDOUT_PLUGINS")}
    env["PYTHONPATH"] = str(target)  # the package from the install folder only
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_installed_package_runs_from_an_empty_folder(installed, tmp_path):
    before = listing(installed)
    where = python(installed, tmp_path, "-c", "import weedout.config.paths as p, weedout; "
                   "print(weedout.__file__, p.CLONE)")
    assert where.stdout.split() == [str(installed / "weedout" / "__init__.py"), "False"], where

    cli = tmp_path / "cli"
    cli.mkdir()
    proc = python(installed, cli, "-m", "weedout", "--preset", "smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    assert f"results in {cli / 'results' / 'smoke'}" in proc.stdout
    for name in ("search.csv", "accuracy.csv", "stats.csv", "notebooks/04_figures.ipynb"):
        assert (cli / "results" / "smoke" / name).is_file(), name
    assert (cli / "figures" / "smoke" / "main_table.md").is_file()

    script = tmp_path / "script"
    script.mkdir()
    proc = python(installed, script, "-c", "from weedout import experiment; "
                  "experiment.run_all(experiment.configure('smoke'))")
    assert proc.returncode == 0, proc.stderr
    assert (script / "results" / "smoke" / "stats.csv").is_file()
    assert (script / "figures" / "smoke" / "accuracy_vs_sparsity.png").is_file()

    assert listing(installed) == before  # nothing written inside the installed package


def test_an_output_inside_the_installed_package_is_refused(installed, tmp_path):
    proc = python(installed, tmp_path, "-m", "weedout", "--preset", "smoke", "--results-dir",
                  str(installed / "weedout" / "out"), timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: RESULTS_DIR='{installed / 'weedout' / 'out'}' is not "
                                  f"allowed: inside {installed / 'weedout'}, which holds the "
                                  "package's own files"), proc.stderr
