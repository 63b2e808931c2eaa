"""The grid on many workers: Slurm job arrays on a real single-node Slurm cluster (started here,
tests/slurm_cluster.py), two local multi-worker runs on one folder, and a seed added to a
finished grid. Every run's tables must equal a serial run's, and every trial is computed once
(counted in the phase logs, `trials.computed_log`).

Where the cluster cannot be started (not root, slurm-wlm/munge not installed) the Slurm tests
skip with the reason; with CI=true they fail instead (.ci/run installs Slurm).
"""
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter

import pandas as pd
import pytest

from slurm_cluster import Cluster, why_not
from weedout import experiment
from weedout.config import paths
from weedout.pipeline import trials
from weedout.pipeline.records import Store

# smoke, made small: 1 dataset x 1 model (MLP 64-64) x 2 sparsities x 2 seeds, 2 epochs
PARAMS = {"DATASETS": ["digits"], "SPARSITIES": [0.5, 0.9], "SEEDS": 2, "CANDIDATES": 4,
          "EPOCHS": 2}
ARGS = ["--preset", "smoke", "--datasets", "digits", "--sparsities", "0.5,0.9", "--seeds", "2",
        "--candidates", "4", "--epochs", "2", "--only", "01_search,02_training"]
TABLES = ("search.csv", "accuracy.csv", "curves.csv")


def configure(results, **params):
    return experiment.configure("smoke", RESULTS_DIR=str(results), **{**PARAMS, **params})


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The reference: the same grid run serially in this process."""
    cfg = configure(tmp_path_factory.mktemp("serial") / "results")
    experiment.run_search(cfg)
    experiment.run_training(cfg)
    return cfg.results_path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = why_not()
    if reason and os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the Slurm tests: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def weedout(results, *argv, env=None):
    """`python -m weedout` on the small grid, as a process (as a user runs it)."""
    return subprocess.Popen([sys.executable, "-m", "weedout", *ARGS, "--results-dir", str(results),
                             *argv], cwd=paths.ROOT, env={**(env or os.environ),
                                                          "PYTHONPATH": str(paths.ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"{out}\n{err}"
    return out + err


def assert_same_tables(got, want):
    for name in TABLES:
        pd.testing.assert_frame_equal(pd.read_csv(got / name), pd.read_csv(want / name),
                                      check_exact=True, obj=name)


def computed_once(results):
    """Every trial of the grid computed exactly once, by whichever worker."""
    store = Store(results, configure(results).digest())
    for phase in trials.PHASES:
        counts = Counter(line["key"] for line in trials.computed_log(store, phase))
        want = {trials.key(t) for t in trials.plan(configure(results), phase)}
        assert set(counts) == want and set(counts.values()) == {1}, (phase, counts)


def test_slurm_grid_equals_serial(cluster, serial, tmp_path):
    res = tmp_path / "results"
    finished(weedout(res, "--executor", "slurm", "--time", "10", env=cluster.env))
    assert_same_tables(res, serial)
    computed_once(res)
    jobs = {line["job"] for p in trials.PHASES
            for line in trials.computed_log(Store(res, configure(res).digest()), p)}
    assert None not in jobs and len(jobs) >= 2  # computed in Slurm array tasks, not here


def test_cancelled_array_task_is_resubmitted(cluster, serial, tmp_path):
    res = tmp_path / "results"
    proc = weedout(res, "--executor", "slurm", "--time", "10", env=cluster.env)
    cancelled = None
    deadline = time.time() + 240
    while cancelled is None and time.time() < deadline and proc.poll() is None:
        out = subprocess.run(["squeue", "-h", "-r", "-t", "RUNNING", "-n", "weedout-train",
                              "-o", "%i"], env=cluster.env, capture_output=True, text=True).stdout
        if out.split():
            cancelled = out.split()[0]
            subprocess.run(["scancel", cancelled], env=cluster.env, check=True)
        time.sleep(0.2)
    assert cancelled, "no training task was seen running"
    finished(proc)
    assert_same_tables(res, serial)
    store = Store(res, configure(res).digest())
    # the grid is complete, and no trial was computed by two tasks
    assert Counter(line["key"] for line in trials.computed_log(store, "train")).most_common(1)[0][1] == 1
    log = trials.computed_log(store, "train")
    assert not any(line["job"] == cancelled for line in log)
    # its trials were computed by a resubmitted array (another array job id)
    assert len({line["job"].split("_")[0] for line in log}) >= 2, log


def test_two_local_runs_at_once_share_the_work(serial, tmp_path):
    res = tmp_path / "results"
    runs = [weedout(res, "--executor", "local", "--workers", "2") for _ in range(2)]
    for proc in runs:
        finished(proc)
    assert_same_tables(res, serial)
    computed_once(res)
    # run.json says who computed the numbers (the notebooks only reduced the workers' records)
    command = json.loads((res / "run.json").read_text())["command"]
    assert command["argv"][-4:] == ["--executor", "local", "--workers", "2"]
    workers = command["workers"]
    assert workers["executor"] == "local" and workers["workers"] == 2
    assert workers["threads_each"] == max(1, (os.cpu_count() or 1) // 2)
    assert set(workers) >= {"search", "train"} and workers["train"]["seconds"] > 0


def test_an_added_seed_computes_only_its_trials(serial, tmp_path):
    res = tmp_path / "results"
    shutil.copytree(serial, res)
    cfg = configure(res, SEEDS=3)
    store = Store(res, cfg.digest())
    before = {p: len(trials.computed_log(store, p)) for p in trials.PHASES}
    experiment.run_search(cfg)
    experiment.run_training(cfg)
    new = {p: [line["key"] for line in trials.computed_log(store, p)][before[p]:]
           for p in trials.PHASES}
    assert sorted(new["search"]) == ["digits-mlp-s0.500-seed2", "digits-mlp-s0.900-seed2"]
    assert sorted(new["train"]) == ["digits-mlp-dense-seed2", "digits-mlp-s0.500-seed2",
                                    "digits-mlp-s0.900-seed2"]
    # the first two seeds' rows are those of the serial run
    acc = pd.read_csv(res / "accuracy.csv")
    pd.testing.assert_frame_equal(acc[acc.seed < 2].reset_index(drop=True),
                                  pd.read_csv(serial / "accuracy.csv"), check_exact=True)
