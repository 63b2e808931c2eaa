"""The one rule for paths a person gives (weedout/paths.py): relative to the working directory,
and never onto the package's own files or another preset's results.

The severe case this guards: `python -m weedout --preset smoke --results-dir .` from the
repository root used to write the executed notebooks over notebooks/0[1-4]_*.ipynb, and
`--results-dir results/cpu` over the committed cpu run. Both are now refused before any work,
naming the parameter, and nothing in the clone changes.
"""
import hashlib
import os
import subprocess
import sys

import pytest

from weedout import cli, experiment
from weedout.config import paths


def _digests(*folders) -> dict:
    out = {}
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_relative_paths_are_taken_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = experiment.configure("smoke", RESULTS_DIR="out/res", FIGURES_DIR="out/fig",
                               DATA_ROOT="data")
    assert cfg.results_path == tmp_path / "out" / "res"
    assert cfg.figures_path == tmp_path / "out" / "fig"
    assert cfg.data_path == tmp_path / "data"
    # stored absolute: a kernel started in another folder writes to the same place
    monkeypatch.chdir(paths.ROOT)
    assert cfg.results_path == tmp_path / "out" / "res"


def test_defaults_are_the_clone_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = experiment.configure("smoke")
    assert cfg.results_path == paths.ROOT / "results" / "smoke"
    assert cfg.figures_path == paths.ROOT / "figures" / "smoke"


@pytest.mark.parametrize("name,value,why", [
    ("RESULTS_DIR", ".", "the repository root"),
    ("RESULTS_DIR", "notebooks", "the package's own files"),
    ("RESULTS_DIR", "weedout/out", "the package's own files"),
    ("FIGURES_DIR", "tests", "the package's own files"),
    ("RESULTS_DIR", "results/cpu", "the folder of preset 'cpu'"),
    ("FIGURES_DIR", "figures/fashion", "the folder of preset 'fashion'"),
    ("RESULTS_DIR", "results/paper", "the folder of preset 'paper'"),  # none committed yet
])
def test_outputs_onto_the_package_or_another_preset_are_refused(name, value, why, monkeypatch):
    monkeypatch.chdir(paths.ROOT)
    with pytest.raises(ValueError) as err:
        experiment.configure("smoke", **{name: value})
    msg = str(err.value)
    assert msg.startswith(f"{name}={value!r} is not allowed: "), msg
    assert why in msg and "choose another folder" in msg, msg


def test_a_folder_holding_another_presets_run_is_refused(tmp_path):
    (tmp_path / "run.json").write_text('{"config": {"preset": "cpu"}}')
    with pytest.raises(ValueError, match=r"RESULTS_DIR=.* holds a run of preset 'cpu'"):
        experiment.configure("smoke", RESULTS_DIR=str(tmp_path))
    assert experiment.configure("cpu", RESULTS_DIR=str(tmp_path)).results_path == tmp_path


@pytest.mark.parametrize("argv", [["--results-dir", "."], ["--results-dir", "results/cpu"],
                                  ["--figures-dir", "figures/cpu"]])
def test_cli_refuses_before_any_work_and_the_clone_is_unchanged(argv):
    """As a user types it, from the repository root: exit 2, one line, nothing written."""
    watched = [paths.NOTEBOOKS, paths.ROOT / "results" / "cpu", paths.ROOT / "figures" / "cpu"]
    before = _digests(*watched)
    top = sorted(p.name for p in paths.ROOT.iterdir())
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    proc = subprocess.run([sys.executable, "-m", "weedout", "--preset", "smoke", *argv],
                          cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {argv[0][2:].upper().replace('-', '_')}="), proc.stderr
    assert "Traceback" not in proc.stderr
    assert _digests(*watched) == before
    assert sorted(p.name for p in paths.ROOT.iterdir()) == top


def test_help_states_the_rule():
    text = cli.parser().format_help()
    assert "relative" in text and "working directory" in text


def test_installed_the_defaults_follow_the_working_directory(tmp_path, monkeypatch):
    """Not a clone (a wheel, pip install git+...): outputs, data and the kernels' folder are the
    working directory's, the notebooks the package's own copies, and the folder the package is
    installed in is refused as an output (tests/test_install.py runs a real wheel)."""
    monkeypatch.setattr(paths, "CLONE", False)
    monkeypatch.delenv("WEEDOUT_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.results_dir("smoke") == tmp_path / "results" / "smoke"
    assert paths.figures_dir("smoke") == tmp_path / "figures" / "smoke"
    assert paths.DATA == paths.data_dir() == tmp_path / "data"
    assert paths.kernel_dir() == tmp_path
    cfg = experiment.configure("smoke")
    assert (cfg.results_path, cfg.data_path) == (tmp_path / "results" / "smoke", tmp_path / "data")
    assert paths.protected(paths.ROOT).startswith("the folder the package is installed in")
    assert paths.protected(paths.ROOT / "tests") is None  # another package's folder, not ours


def test_help_says_which_preset_runs_by_default():
    text = " ".join(cli.parser().format_help().split())
    assert "Default: cpu, the README's main run (the notebooks opened by hand default to smoke)" \
        in text


def test_the_benchmark_leaves_the_committed_bench_files_alone(tmp_path, monkeypatch):
    """`python -m weedout.bench` with no --json writes under build/bench/ (the clone's, or
    installed the working directory's), never over results/bench/*.json, which the README cites
    (issue 21, item 7)."""
    from weedout import bench  # late: only this test needs the benchmark
    out = bench.default_json(bench.parse([]), "cpu")
    assert out == paths.ROOT / "build" / "bench" / "cpu-digits-mlp.json"
    assert (paths.ROOT / "results" / "bench" / out.name).is_file()  # the committed one it spared
    monkeypatch.setattr(paths, "CLONE", False)
    monkeypatch.chdir(tmp_path)
    assert bench.default_json(bench.parse([]), "cpu") == tmp_path / "build" / "bench" / out.name
