"""Per-trial claims, the grain of training records, and the executor options' validation (no
Slurm needed: tests/test_cluster.py runs the grid on a real one)."""
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from weedout import cli, experiment
from weedout.pipeline import claims, trials, workers
from weedout.pipeline.claims import Claims


def write_claim(folder, key, pid, host, age=0.0):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.claim"
    path.write_text(json.dumps({"pid": pid, "host": host, "time": time.time() - age}))
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_live_claim_is_respected(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_claim(tmp_path, "k", live.pid, socket.gethostname())
        assert not Claims(tmp_path).take("k")
        # another host's claim cannot be checked by pid: respected while it is fresh
        write_claim(tmp_path, "far", 1, "another-node")
        assert not Claims(tmp_path).take("far")
    finally:
        live.kill()
        live.wait()


def test_a_stale_claim_is_taken_over(tmp_path):
    write_claim(tmp_path, "dead", dead_pid(), socket.gethostname())       # killed worker here
    write_claim(tmp_path, "old", 1, "another-node", age=claims.STALE_AFTER + 1)  # silent node
    (tmp_path / "garbled.claim").write_text("{")                          # killed while writing
    os.utime(tmp_path / "garbled.claim", (0, 0))
    mine = Claims(tmp_path)
    for key in ("dead", "old", "garbled"):
        assert mine.take(key), key
        assert json.loads(mine.path(key).read_text())["pid"] == os.getpid()
    assert not Claims(tmp_path).take("dead")  # now held by a live process (this one)
    mine.release_all()
    assert not list(tmp_path.glob("*.claim"))


def test_the_heartbeat_keeps_a_long_trial_fresh(tmp_path):
    mine = Claims(tmp_path, stale_after=0.5, heartbeat=0.05)
    assert mine.take("k")
    os.utime(mine.path("k"), (0, 0))
    time.sleep(0.3)
    assert not claims.is_stale(claims.holder(mine.path("k")), stale_after=0.5)
    mine.release_all()


def tiny(results, **params):
    cfg = experiment.configure("smoke", RESULTS_DIR=str(results), **{
        "DATASETS": ["digits"], "SPARSITIES": [0.5], "SEEDS": 3, "CANDIDATES": 4, "EPOCHS": 2,
        **params})
    return dataclasses.replace(cfg, mlp_widths=(16, 16), batch_size=128)


def test_a_network_does_not_depend_on_its_stack(tmp_path):
    """A level trained with 3 seeds stacked equals each seed trained alone, bit for bit (MLP on
    CPU; the README states the measured tolerance for CNNs)."""
    cfg = tiny(tmp_path)
    experiment.run_search(cfg)
    stacked = workers.train_cell(cfg, "digits", "mlp", 0.5)["networks"]
    alone = [n for seed in cfg.seeds
             for n in workers.train_cell(cfg, "digits", "mlp", 0.5, seeds=[seed])["networks"]]
    assert [(n["method"], n["seed"]) for n in stacked] == [(n["method"], n["seed"]) for n in alone]
    assert [n["curves"] for n in stacked] == [n["curves"] for n in alone]


def test_trials_are_one_seed_of_one_level(tmp_path):
    cfg = tiny(tmp_path, SEEDS=2)
    assert trials.plan(cfg, "train") == [("digits", "mlp", s, seed) for s in (None, 0.5)
                                         for seed in (0, 1)]
    assert trials.key(("digits", "mlp", None, 1)) == "digits-mlp-dense-seed1"
    assert trials.groups("train", trials.plan(cfg, "train")) == [
        [("digits", "mlp", None, 0), ("digits", "mlp", None, 1)],
        [("digits", "mlp", 0.5, 0), ("digits", "mlp", 0.5, 1)]]


@pytest.mark.parametrize("argv, message", [
    (["--executor", "local", "--workers", "0"], "--workers=0 is not allowed: a whole number >= 1"),
    (["--workers", "2"], "--workers=2 is not allowed: --workers needs --executor local (the "
                         "executor here is 'serial')"),  # serial has no workers
    (["--executor", "dask"], "--executor='dask' is not allowed: one of ['serial', 'local', 'slurm']"),
    (["--executor", "slurm", "--time", "0"], "--time=0 is not allowed: a whole number >= 1"),
    (["--executor", "slurm"], "--executor='slurm' is not allowed: Slurm's sbatch is not on PATH"),
])
def test_bad_executor_settings_fail_before_any_work(argv, message, tmp_path, capsys, monkeypatch):
    if "--time" not in argv:
        monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    assert cli.main(["--preset", "smoke", "--results-dir", str(tmp_path / "r"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_wait_names_the_holder_once_and_a_released_claim_says_nothing(tmp_path, capsys):
    """The line a waiting worker prints: the holder's pid and host from its claim, once per
    trial; nothing for a claim released since (it used to say 'pid None on None'); a claim
    still being written is 'another worker'."""
    held, gone, garbled = [("digits", "mlp", s, 0) for s in (0.1, 0.2, 0.3)]
    write_claim(tmp_path, trials.key(held), 4242, "node-7")
    (tmp_path / f"{trials.key(garbled)}.claim").write_text("{")
    told: set = set()
    for _ in range(2):
        trials._tell_waits("search", [held, gone, garbled], told, Claims(tmp_path))
    err = capsys.readouterr().err.splitlines()
    assert err == [f"weedout: search trial {trials.key(held)} is being computed by pid 4242 on "
                   "node-7: waiting for it",
                   f"weedout: search trial {trials.key(garbled)} is being computed by another "
                   "worker (its claim is still being written): waiting for it"]
    assert "None" not in "".join(err)
