"""The plug-in recipe as a user follows it (issue 21, item 5), and the results of presets that
are not committed kept out of git.

The README's example (the code is read from it), `my_plugin.py` in the folder where the command
is typed, with its quick preset `smoke_mine`: `WEEDOUT_PLUGINS=my_plugin python -m weedout
--preset smoke_mine` must work without `export PYTHONPATH=$PWD`. The command imports the plug-in itself (`python -m` puts the
working directory on its path) and now hands that path to the notebook kernels, which start in
another folder; before, 01_search failed after 17 s with "could not be imported".
"""
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from weedout.config import paths


def example(page: str) -> str:
    """The example plug-in of a page (README.md, docs/package.md), as a user copies it."""
    text = (paths.ROOT / page).read_text()
    return re.search(r"```python\n(# my_plugin.py.*?)```", text, re.S).group(1)


PLUGIN = example("README.md")


def test_the_example_is_one_text_with_a_quick_preset():
    assert example("docs/package.md") == PLUGIN
    assert 'config.PRESETS["smoke_mine"]' in PLUGIN  # the quick variant to try first


def test_the_kernels_import_a_plugin_from_the_working_directory(tmp_path):
    (tmp_path / "my_plugin.py").write_text(PLUGIN)
    # weedout itself from this checkout; the plug-in's folder is NOT on PYTHONPATH
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT), "WEEDOUT_PLUGINS": "my_plugin"}
    proc = subprocess.run([sys.executable, "-m", "weedout", "--preset", "smoke_mine",
                           "--sparsities", "0.5", "--epochs", "1", "--candidates", "4",
                           "--results-dir", "res", "--figures-dir", "fig"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    config = pd.read_json(tmp_path / "res" / "config.json", typ="series")
    assert config["preset"] == "smoke_mine" and config["strategy"] == "my_search"
    assert (tmp_path / "res" / "stats.csv").exists()


def git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(paths.ROOT), *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def tracked():
    if git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")
    return git("ls-files", "results", "figures").stdout.split()


def test_every_committed_run_folder_is_tracked_and_not_ignored(tracked):
    """.gitignore ignores results/* and figures/* and lets each committed preset back in: a
    committed file that the patterns would ignore (or a new table of a committed preset) would
    silently stay out of the next commit."""
    folders = sorted({"/".join(p.split("/")[:2]) for p in tracked})
    assert "results/cpu" in folders and "figures/cpu" in folders
    probes = tracked + [f"{f}/a_new_table.csv" for f in folders]
    ignored = git("check-ignore", "--no-index", *probes).stdout.split()
    assert ignored == [], ("committed run files that .gitignore ignores: let their folder back "
                           f"in with a line !/results/<preset>/ (or !/figures/<preset>/): {ignored}")


def test_every_preset_of_the_package_but_smoke_can_be_committed(tracked):
    """A maintainer's new run of one of the package's presets (cpu_rescaled, paper from the GPU
    machine, ...) is not ignored; only smoke's and a plug-in's runs are."""
    from weedout.config import PRESETS  # late: the presets as this checkout defines them
    probes = [f"{folder}/{p}/stats.csv" for p in PRESETS if p != "smoke"
              for folder in ("results", "figures")]
    ignored = git("check-ignore", "--no-index", *probes).stdout.split()
    lines = sorted({"!/" + "/".join(p.split("/")[:2]) + "/" for p in ignored})
    assert ignored == [], f"a new preset: add to .gitignore {lines}"


@pytest.mark.parametrize("path", ["results/smoke_mine/stats.csv", "figures/smoke_mine/search.png",
                                  "results/smoke/accuracy.csv", "results/cpu/trials/x/a.json",
                                  "results/cpu/last_run.json"])
def test_runs_of_presets_not_committed_are_ignored(tracked, path):
    assert git("check-ignore", "--no-index", path).stdout.strip() == path
