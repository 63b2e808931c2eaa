"""Runs that survive faults: kill-and-resume, corrupted records, determinism, divergence,
config drift and concurrent runs, all on a tiny CPU config (digits, 16-16 MLP, 2 epochs).

What is guaranteed, and where (the tests below check the CPU half):

- On CPU, the same config and seeds give bit-identical tables (search.csv, accuracy.csv,
  curves.csv) run after run, whatever order the trials ran in, whether the grid was run in
  one invocation or several, and whether the run was killed and resumed. This holds because
  every random stream (parent init, candidate masks, the random control, the scoring batch,
  each epoch's data order) is drawn on a CPU generator seeded by `derive_seed(seed, purpose,
  dataset, ...)`, never from a shared global stream. A training record is one seed of one
  level; a level is trained as one stacked model of its missing seeds, and a network's numbers
  do not depend on which other networks shared its stack (measured bit-identical on CPU; see
  tests/test_cluster.py and the README), so a level resumed with some seeds done agrees too.
  Bitwise equality is promised on one machine (same torch build, same thread count); another
  CPU or BLAS build may differ in the last bits of the training numbers.
- On a GPU, the masks, the parents' initial weights, the scoring batches and the data order
  are the same as on CPU (they are drawn on the CPU). The arithmetic is not: cuBLAS/cuDNN
  reduce in other orders, so GPU numbers differ from CPU numbers in the low bits (which can
  flip a near-tie between candidate scores, i.e. choose another mask), and repeated GPU runs
  are only guaranteed identical with `torch.use_deterministic_algorithms(True)` and
  `CUBLAS_WORKSPACE_CONFIG=:4096:8` (cuDNN convolution backward may otherwise pick
  non-deterministic algorithms). Each training record stores its device; DEVICE is not part of
  the config digest, so a run resumed on another device mixes CPU and GPU cells.
"""
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from weedout import data, experiment
from weedout.config import paths
from weedout.core import models, train
from weedout.pipeline import lock
from weedout.pipeline.lock import ResultsBusyError
from weedout.pipeline.records import CorruptRecordWarning, Store

# The grid: 1 dataset x 1 model x 2 sparsities x 2 seeds = 4 search trials; 3 training levels
# (dense, 0.5, 0.9) x 2 seeds = 6 training trials (one record per seed and level).
PARAMS = dict(DATASETS=["digits"], SPARSITIES=[0.5, 0.9], SEEDS=2, CANDIDATES=4, EPOCHS=2)
SMALL = dict(mlp_widths=(16, 16), batch_size=128)  # not notebook parameters: set on the Config
N_SEARCH, N_TRAIN = 4, 6
TABLES = ("search.csv", "accuracy.csv", "curves.csv")
KEYS = {"search.csv": ["dataset", "model", "sparsity", "seed", "candidate"],
        "accuracy.csv": ["dataset", "model", "sparsity", "method", "seed"],
        "curves.csv": ["dataset", "model", "sparsity", "method", "seed", "epoch"]}


def tiny(results_dir, **params):
    cfg = experiment.configure("smoke", RESULTS_DIR=str(results_dir),
                               FIGURES_DIR=str(Path(results_dir).parent / "figures"),
                               **{**PARAMS, **params})
    return dataclasses.replace(cfg, **SMALL)


def run_all(cfg):
    experiment.run_search(cfg)
    experiment.run_training(cfg)


def records(cfg, phase):
    return sorted((cfg.results_path / "trials" / cfg.digest() / phase).glob("*.json"))


def stamps(paths_):
    """(inode, mtime_ns, bytes) of each file: a record rewritten (even identically) changes."""
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in paths_}


def computed(cfg, stage):
    """Trials the latest invocation of a stage computed (run.json keeps the producing run's)."""
    run = json.loads((cfg.results_path / "last_run.json").read_text())
    return run["stages"][stage]["trials_computed"]


def assert_same_tables(got: Path, want: Path, sort=False):
    for name in TABLES:
        a, b = pd.read_csv(got / name), pd.read_csv(want / name)
        assert not a.duplicated(KEYS[name]).any(), f"duplicate rows in {got / name}"
        if sort:
            a, b = (t.sort_values(KEYS[name]).reset_index(drop=True) for t in (a, b))
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """One uninterrupted run: the reference every other run's tables must equal."""
    cfg = tiny(tmp_path_factory.mktemp("clean") / "results")
    run_all(cfg)
    assert len(records(cfg, "search")) == N_SEARCH and len(records(cfg, "train")) == N_TRAIN
    return cfg.results_path


# ---- kill and resume ---------------------------------------------------------------------------

# The run in a subprocess, slowed down: every record waits `delay` seconds before it is saved, so
# the test can SIGKILL it deterministically with some but not all records written (the kill
# lands while a trial's result is computed but unsaved: that trial is lost and must be redone).
DRIVER = """
import dataclasses, json, sys, time
from weedout import experiment
from weedout.pipeline import records
spec = json.loads(sys.argv[1])
save = records.Store.save
def slow_save(self, *args, **kwargs):
    time.sleep(spec["delay"])
    return save(self, *args, **kwargs)
records.Store.save = slow_save
cfg = experiment.configure("smoke", RESULTS_DIR=spec["results"], **spec["params"])
cfg = dataclasses.replace(cfg, **{k: tuple(v) if isinstance(v, list) else v
                                  for k, v in spec["small"].items()})
experiment.run_search(cfg)
experiment.run_training(cfg)
"""


def kill_when(cfg, phase: str, at_least: int, delay: float = 1.0):
    """Start the driver; SIGKILL it as soon as `at_least` records of `phase` exist."""
    spec = json.dumps({"results": str(cfg.results_path), "params": PARAMS, "small": SMALL,
                       "delay": delay})
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT), "WEEDOUT_QUIET": "1"}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, spec], cwd=paths.ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    try:
        while len(records(cfg, phase)) < at_least:
            if proc.poll() is not None:
                pytest.fail(f"driver ended before the kill: {proc.communicate()[1].decode()}")
            if time.time() > deadline:
                pytest.fail(f"no {phase} record after 180 s")
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def test_kill_during_search_and_training_then_resume(tmp_path, clean):
    cfg = tiny(tmp_path / "results")
    # 1. killed in the middle of the search phase
    kill_when(cfg, "search", 1)
    done_search = records(cfg, "search")
    assert 1 <= len(done_search) < N_SEARCH and not records(cfg, "train")
    kept = stamps(done_search)
    # 2. resumed, then killed in the middle of the training phase
    kill_when(cfg, "train", 1)
    done_train = records(cfg, "train")
    assert len(records(cfg, "search")) == N_SEARCH and 1 <= len(done_train) < N_TRAIN
    assert stamps(done_search) == kept  # finished search trials were not computed again
    kept = stamps(records(cfg, "search") + done_train)
    # 3. resumed to the end in this process: the killed holder's lock is gone (flock), only the
    # missing trials are computed, and the tables equal those of the uninterrupted run
    run_all(cfg)
    assert computed(cfg, "search") == 0
    assert computed(cfg, "training") == N_TRAIN - len(done_train)
    assert {p: v for p, v in stamps(records(cfg, "search") + records(cfg, "train")).items()
            if p in kept} == kept
    assert_same_tables(cfg.results_path, clean)


# ---- corrupted records -------------------------------------------------------------------------

def test_corrupted_records_are_reported_set_aside_and_recomputed(tmp_path, clean):
    res = tmp_path / "results"
    shutil.copytree(clean, res)
    cfg = tiny(res)
    search, trainr = records(cfg, "search"), records(cfg, "train")
    bad = {search[0]: b"\xff\xfe not json, not even utf-8",           # garbage
           search[1]: search[2].read_bytes(),                          # another trial's record
           trainr[0]: trainr[0].read_bytes()[:len(trainr[0].read_bytes()) // 2]}  # truncated
    rec = json.loads(trainr[1].read_text())                            # valid JSON, tampered
    rec["payload"]["networks"][0]["curves"]["test_acc"][-1] = 1.0
    bad[trainr[1]] = json.dumps(rec).encode()
    for p, content in bad.items():
        p.write_bytes(content)
    # what a kill in the middle of atomic_write leaves behind: a temp file, never read
    stale = search[0].with_name(f".{search[0].name}.abc123.tmp")
    stale.write_text('{"format": 1, "key": "digits-mlp-s0.5')
    untouched = stamps([p for p in search + trainr if p not in bad])

    for stage, phase_files in (("search", search[:2]), ("training", trainr[:2])):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (experiment.run_search if stage == "search" else experiment.run_training)(cfg)
        messages = [str(w.message) for w in caught if issubclass(w.category, CorruptRecordWarning)]
        assert len(messages) == len(phase_files), messages  # each reported once, nothing else
        for p in phase_files:
            assert any(str(p) in m for m in messages), (p, messages)
            assert p.with_name(p.name + ".corrupt").read_bytes() == bad[p]  # kept as evidence
            assert Store(res, cfg.digest()).load(p.parent.name, p.stem) is not None
        assert computed(cfg, stage) == len(phase_files)  # only the bad ones were recomputed
    assert stamps(untouched) == untouched
    assert_same_tables(res, clean)


def test_corrupted_search_record_stops_training_up_front(tmp_path, clean):
    """02 alone cannot redo a search trial (data flows one way): it refuses before any
    training, naming the trial and the notebook to rerun; rerunning 01 repairs it."""
    res = tmp_path / "results"
    shutil.copytree(clean, res)
    cfg = tiny(res)
    rec = records(cfg, "search")[0]
    rec.write_text("{")
    before = stamps(records(cfg, "train"))
    with pytest.warns(CorruptRecordWarning, match=str(rec)):
        with pytest.raises(FileNotFoundError, match="run notebooks/01_search first"):
            experiment.run_training(cfg)
    assert stamps(records(cfg, "train")) == before
    run_all(cfg)
    assert computed(cfg, "search") == 1 and computed(cfg, "training") == 0
    assert_same_tables(res, clean)


# ---- determinism -------------------------------------------------------------------------------

def test_same_config_same_tables(tmp_path, clean):
    cfg = tiny(tmp_path / "results")
    run_all(cfg)
    assert_same_tables(cfg.results_path, clean)


def test_order_and_split_invocations_do_not_change_numbers(tmp_path, clean):
    """Search trials run in another order (seed 1 before seed 0, 0.9 before 0.5) and over three
    invocations, each reusing what the previous one finished: the same tables."""
    res = tmp_path / "results"
    experiment.run_search(tiny(res, SPARSITIES=[0.9], SEEDS=[1]))
    run_all(tiny(res, SPARSITIES=[0.9]))
    cfg = tiny(res)
    run_all(cfg)
    assert computed(cfg, "search") == 2 and computed(cfg, "training") == 2  # the 0.5 level, 2 seeds
    assert_same_tables(res, clean)
    # one invocation with the sparsities in reverse order (rows come out in that order)
    rev = dataclasses.replace(tiny(tmp_path / "reversed"), sparsities=(0.9, 0.5))
    run_all(rev)
    assert_same_tables(rev.results_path, clean, sort=True)


# ---- divergence --------------------------------------------------------------------------------

def test_diverged_networks_are_recorded_and_counted(tmp_path):
    cfg = dataclasses.replace(tiny(tmp_path / "results"), lr=1e4)  # absurd: every net blows up
    run_all(cfg)
    acc = pd.read_csv(cfg.results_path / "accuracy.csv")
    assert len(acc) == 2 * (1 + 2 * 2)  # every network of the grid is there
    dead = acc[acc["diverged"]]
    assert len(dead) > 0
    assert dead["test_acc"].isna().all() and dead["diverged_epoch"].between(1, 2).all()
    assert acc.loc[~acc["diverged"], "test_acc"].notna().all()
    assert len(pd.read_csv(cfg.results_path / "curves.csv")) == len(acc) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "mean of empty slice" noise either
        st = experiment.run_analysis(cfg)
    expected = [int(acc[(acc.sparsity == s) & (acc.method != "dense")]["diverged"].sum()
                    + acc[acc.method == "dense"]["diverged"].sum()) for s in (0.5, 0.9)]
    assert st["n_diverged"].tolist() == expected and sum(expected) > 0


def test_a_diverging_network_does_not_disturb_its_stack():
    """Three networks trained as one stack, the middle one poisoned (an infinite weight): it is
    recorded as diverged at epoch 1, and the other two train as they do without it (bit for bit
    on the CPUs we tried; compared to float rounding, since another BLAS may batch differently)."""
    dset = data.load_dataset("digits", paths.DATA)
    arch = models.arch_for("mlp", dset.in_shape, dset.n_classes, (16, 16), (8,))
    parents = [models.init_parent(arch, s) for s in (0, 1, 2)]
    parents[1][0][0, 0] = float("inf")
    sched = train.Schedule(epochs=2, batch_size=128, lr=0.05, momentum=0.9, weight_decay=5e-4)
    with_bad = train.train_stack(arch, models.stack(parents), dset, [0, 1, 2], sched)
    alone = train.train_stack(arch, models.stack([parents[0], parents[2]]), dset, [0, 2], sched)
    assert with_bad["diverged_epoch"].tolist() == [-1, 1, -1]
    for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
        torch.testing.assert_close(with_bad[k][:, [0, 2]], alone[k], rtol=1e-6, atol=1e-9)


# ---- config drift ------------------------------------------------------------------------------

def test_other_config_in_same_folder_never_mixes(tmp_path, clean):
    res = tmp_path / "results"
    shutil.copytree(clean, res)
    first = tiny(res)
    kept = stamps(records(first, "search") + records(first, "train"))
    # other epochs: a new digest folder; the tables hold the new config's numbers only
    second = tiny(res, EPOCHS=3)
    assert second.digest() != first.digest()
    run_all(second)
    acc = pd.read_csv(res / "accuracy.csv", dtype={"config_digest": str})
    assert (acc["epochs"] == 3).all() and set(acc["config_digest"]) == {second.digest()}
    assert pd.read_csv(res / "curves.csv")["epoch"].max() == 3
    assert len(records(second, "search")) == N_SEARCH and len(records(second, "train")) == N_TRAIN
    experiment.run_analysis(second)
    with pytest.raises(ValueError, match="stats.csv was made by another config"):
        experiment.run_figures(first)  # 04 with the old settings: refused, not mixed
    # other candidates: search only; then the analysis must not read the previous config's
    # accuracy.csv as if it were this one's
    third = tiny(res, CANDIDATES=6)
    experiment.run_search(third)
    assert (pd.read_csv(res / "search.csv").groupby(["sparsity", "seed"]).size() == 6).all()
    with pytest.raises(ValueError, match="accuracy.csv.*config"):
        experiment.run_analysis(third)
    # the first config's records were never touched, and rerunning it reuses every one
    assert stamps(kept) == kept
    run_all(first)
    assert computed(first, "search") == 0 and computed(first, "training") == 0
    assert_same_tables(res, clean)
    assert len(list((res / "trials").iterdir())) == 3


# ---- concurrent runs ---------------------------------------------------------------------------

HOLDER = """
import sys, time
from weedout.pipeline import lock
with lock.exclusive(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def test_second_process_on_same_folder_refuses_and_changes_nothing(tmp_path, clean):
    res = tmp_path / "results"
    shutil.copytree(clean, res)
    cfg = tiny(res)
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(res)], cwd=paths.ROOT, env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = {p: p.read_bytes() for p in res.rglob("*") if p.is_file()}
        for stage in (experiment.run_search, experiment.run_training, experiment.run_analysis):
            with pytest.raises(ResultsBusyError) as err:
                stage(cfg)
            assert str(res) in str(err.value) and f"pid {holder.pid}" in str(err.value)
            assert "RESULTS_DIR" in str(err.value)
        assert {p: p.read_bytes() for p in res.rglob("*") if p.is_file()} == before
        with lock.exclusive(tmp_path / "elsewhere"):  # another folder is not blocked
            pass
    finally:
        holder.kill()  # SIGKILL: the kernel drops its flock, no stale lock is left
        holder.wait()
    run_all(cfg)
    assert computed(cfg, "search") == 0 and computed(cfg, "training") == 0
    assert_same_tables(res, clean)
