"""scripts/gpu_run.sh --dry-run: the GPU run's every step on this CPU at toy size, so the script
is known to work before it meets a GPU (whose minutes are few and cannot be spent debugging).

It needs real Fashion-MNIST (`make data DATASETS=fashion_mnist`); where it is missing the test
skips, except in CI (CI=true), where `.ci/run` fetches it first and a skip would hide a broken
script. The install step also needs the bundle (`make gpu-bundle`, built by `.ci/run`) and a
Python 3.12; in CI it must run too.
"""
import csv
import json
import os
import subprocess
import sys

import pytest

from weedout import data
from weedout.config import paths
from weedout.core import precision

CI = os.environ.get("CI") == "true"
SCRIPT = paths.ROOT / "scripts" / "gpu_run.sh"


def _fashion_ready() -> bool:
    try:
        data.ensure_available("fashion_mnist", paths.DATA)
        return True
    except data.DatasetUnavailableError:
        return False


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    if not _fashion_ready():
        if CI:
            pytest.fail("Fashion-MNIST is missing in CI: .ci/run must run `make data DATASETS=fashion_mnist`")
        pytest.skip("Fashion-MNIST is not on this machine: `make data DATASETS=fashion_mnist`")
    out = tmp_path_factory.mktemp("gpu-dry-run")
    env = {**os.environ, "PY": sys.executable}
    # The default run (paper) and a preset named after OUTDIR, as issue 19's Fashion runs are
    proc = subprocess.run(["bash", str(SCRIPT), "--dry-run", str(out), "paper", "smoke"],
                          capture_output=True, text=True, env=env, timeout=1200)
    with open(out / "summary.tsv") as f:
        steps = {row["step"]: row for row in csv.DictReader(f, delimiter="\t")}
    return proc, out, steps


def test_every_step_runs_and_passes(dry_run):
    proc, out, steps = dry_run
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted((out / "logs").glob("*.log"))
                     if steps.get(p.stem, {}).get("status") not in ("ok", "skipped", None))
    assert proc.returncode == 0, proc.stdout + proc.stderr + logs
    grids = ["digits-mlp", "mnist1d-cnn1d", "fashion_mnist-mlp", "fashion_mnist-cnn"]
    assert list(steps) == ["install", "tests", *[f"bench-{g}" for g in grids],
                           *[f"bench-bf16-{g}" for g in grids[2:]], "run-paper", "run-smoke",
                           "collect"]
    bf16 = precision.supported("cpu")  # bfloat16 benchmarks run where the CPU has the units
    for name, row in steps.items():
        if name.startswith("bench-bf16-"):  # bfloat16 may end beyond float32's tolerances
            assert row["status"] in (("ok", "disagree") if bf16 else ("skipped",)), (name, row)
            continue
        assert row["status"] in ("ok", "skipped"), (name, row)
        assert row["status"] == "ok" or name == "install"
        if row["status"] == "ok":
            assert int(row["seconds"]) <= int(row["limit"])
    if CI:  # the bundle is built and Python 3.12 is there: the offline install must be proven
        assert steps["install"]["status"] == "ok", (out / "logs" / "install.log").read_text()


def test_bench_json_for_every_grid(dry_run):
    _, out, _ = dry_run
    for grid in ("digits-mlp", "mnist1d-cnn1d", "fashion_mnist-mlp", "fashion_mnist-cnn"):
        saved = json.loads((out / "bench" / f"cpu-{grid}.json").read_text())
        assert saved["agree"] is True, (grid, saved["agreement"])
        assert saved["grid"]["train_subset"] == 2048 and saved["environment"]["device"] == "cpu"


def test_paper_preset_tables_figures_and_notebooks(dry_run):
    _, out, _ = dry_run
    res, fig = out / "results" / "paper", out / "figures" / "paper"
    for name in ("search.csv", "accuracy.csv", "curves.csv", "stats.csv", "run.json"):
        assert (res / name).is_file(), name
    for name in ("01_search", "02_training", "03_analysis", "04_figures"):
        assert (res / "notebooks" / f"{name}.ipynb").is_file()
    assert (fig / "accuracy_vs_sparsity.png").is_file() and (fig / "main_table.md").is_file()
    run = json.loads((res / "run.json").read_text())
    assert run["config"]["preset"] == "paper" and run["config"]["datasets"] == ["fashion_mnist"]
    assert run["command"]["total_seconds"] > 0


def test_a_named_preset_comes_back_as_its_own_run(dry_run):
    _, out, _ = dry_run
    run = json.loads((out / "results" / "smoke" / "run.json").read_text())
    assert run["config"]["preset"] == "smoke" and run["config"]["seeds"] == [0, 1]
    assert (out / "results" / "smoke" / "stats.csv").is_file()
    assert (out / "figures" / "smoke" / "main_table.md").is_file()


def test_no_bench_runs_each_named_preset_in_turn(tmp_path):
    """The script's plan, with a stand-in python that only notes its arguments: --no-bench
    leaves every benchmark out, and each RUN named is one `python -m weedout --preset RUN`
    writing into OUTDIR (a dry run), in the order given."""
    calls = tmp_path / "calls"
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    fake.chmod(0o755)
    env = {**os.environ, "PY": str(fake), "PY_TARGET": str(fake), "BUNDLE": str(tmp_path / "no")}
    out = tmp_path / "o"
    proc = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--no-bench", str(out), "fashion_pai",
                           "fashion_unstructured"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "summary.tsv") as f:
        steps = [row["step"] for row in csv.DictReader(f, delimiter="\t")]
    assert steps == ["install", "tests", "run-fashion_pai", "run-fashion_unstructured", "collect"]
    runs = [c.split() for c in calls.read_text().splitlines() if c.startswith("-m weedout ")]
    assert [r[r.index("--preset") + 1] for r in runs] == ["fashion_pai", "fashion_unstructured"]
    for r, name in zip(runs, ("fashion_pai", "fashion_unstructured")):
        assert r[r.index("--results-dir") + 1] == str(out / "results" / name)
        assert "--datasets" not in r  # only the paper run is narrowed to Fashion-MNIST
    assert not any("weedout.bench" in c for c in calls.read_text().splitlines())


def test_usage_error():
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage: scripts/gpu_run.sh [--dry-run] [--no-bench] OUTDIR [RUN ...]" in proc.stderr
