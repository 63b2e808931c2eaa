"""Provenance: the engine version guards the numbers, records say which code made them, run.json
says on what, and CUDA runs are made repeatable.

The fingerprint: a tiny grid (digits with the MLP and the 2-D CNN, MNIST-1D with the 1-D CNN;
2 seeds, 6 candidates, 1 epoch) computed through the experiment's own stages, compared with the
values stored for this ENGINE_VERSION in tests/data/engine_fingerprint.json. Chosen masks must
be identical; losses agree to 1e-4 (rounding differs between CPU models by ~1e-6 after these
few steps, while any real change to the numerics moves them by far more); accuracies by one
example. If the numbers change on purpose: bump provenance.ENGINE_VERSION (with a line in its
history) and run `python tests/test_provenance.py --update`.
"""
import dataclasses
import shutil
import json
import os
import sys
import warnings
from pathlib import Path

import pytest
import torch

from weedout import cli, config, experiment
from weedout.config import paths
from weedout.core import train
from weedout.pipeline import provenance, record_tables, workers
from weedout.pipeline.records import StaleRecordWarning, Store
from weedout.pipeline.run_record import run_json

FINGERPRINT = Path(__file__).parent / "data" / "engine_fingerprint.json"
LOSS_TOL = 1e-4


def _cells_of(cfg):  # the fingerprint's grid: every parent kind, not each dataset's defaults
    return [("digits", "mlp"), ("digits", "cnn"), ("mnist1d", "cnn1d")]


def fingerprint(results_dir) -> dict:
    """The tiny grid's numbers (config.cells must be _cells_of: the fixture or --update sets it)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = config.resolve("smoke", DATASETS=["digits", "mnist1d"], SEEDS=2, SPARSITIES=[0.5],
                             CANDIDATES=6, EPOCHS=1, RESULTS_DIR=str(results_dir))
        cfg = dataclasses.replace(cfg, mlp_widths=(32, 32), cnn_channels=(8, 8))
        out = {}
        experiment.run_search(cfg)
        store = Store(cfg.results_path, cfg.digest())
        for ds, model in config.cells(cfg):
            for seed in cfg.seeds:
                rec = store.load("search", record_tables.search_key(ds, model, 0.5, seed))
                out[f"search/{ds}/{model}/{seed}"] = {
                    "best_index": rec["best_index"], "scores": rec["scores"]}
            rec = workers.train_cell(cfg, ds, model, 0.5)
            for net in rec["networks"]:
                c = net["curves"]
                out[f"train/{ds}/{model}/{net['method']}/{net['seed']}"] = {
                    "init_score": net["init_score"], "test_loss": c["test_loss"][-1],
                    "train_loss": c["train_loss"][-1], "test_acc": c["test_acc"][-1]}
        return out
    finally:
        torch.set_num_threads(old)


@pytest.fixture
def fingerprint_grid(monkeypatch):
    monkeypatch.setattr(config, "cells", _cells_of)


def test_engine_fingerprint(tmp_path, fingerprint_grid):
    stored = json.loads(FINGERPRINT.read_text())
    assert stored["engine"] == provenance.ENGINE_VERSION, (
        f"ENGINE_VERSION is {provenance.ENGINE_VERSION} but the fingerprint is of version "
        f"{stored['engine']}: run `python tests/test_provenance.py --update`")
    got = fingerprint(tmp_path)
    assert set(got) == set(stored["values"])
    hint = ("the engine's numbers changed: if on purpose, bump provenance.ENGINE_VERSION and run "
            "`python tests/test_provenance.py --update`")
    for key, want in stored["values"].items():
        have = got[key]
        if key.startswith("search/"):
            assert have["best_index"] == want["best_index"], f"{key}: {hint}"
            torch.testing.assert_close(torch.tensor(have["scores"]), torch.tensor(want["scores"]),
                                       rtol=0, atol=LOSS_TOL, msg=lambda m: f"{key}: {hint}\n{m}")
        else:
            for k in ("init_score", "test_loss", "train_loss"):
                assert abs(have[k] - want[k]) <= LOSS_TOL, f"{key} {k}: {have[k]} vs {want[k]}: {hint}"
            # one test example of digits (360) or MNIST-1D (1000)
            assert abs(have["test_acc"] - want["test_acc"]) <= 1 / 360 + 1e-12, f"{key}: {hint}"


def test_fingerprint_notices_a_change_to_the_numbers(tmp_path, fingerprint_grid, monkeypatch):
    """The guard is not vacuous: a learning-rate schedule off by 1% fails the comparison."""
    real = train.Schedule.lr_at
    monkeypatch.setattr(train.Schedule, "lr_at", lambda self, step, total: 1.01 * real(self, step, total))
    got, stored = fingerprint(tmp_path), json.loads(FINGERPRINT.read_text())["values"]
    moved = max(abs(got[k]["test_loss"] - v["test_loss"]) for k, v in stored.items() if k.startswith("train/"))
    assert moved > 10 * LOSS_TOL


def test_records_carry_engine_and_commit(tmp_path):
    store = Store(tmp_path, "abc")
    store.save("search", "k", {"x": 1})
    rec = json.loads(store.path("search", "k").read_text())
    assert rec["engine"] == provenance.ENGINE_VERSION and "commit" in rec and "dirty" in rec
    assert store.load("search", "k") == {"x": 1}


@pytest.mark.parametrize("engine", [None, provenance.ENGINE_VERSION - 1, provenance.ENGINE_VERSION + 1])
def test_record_of_another_engine_is_recomputed_and_kept(tmp_path, engine):
    """A record without an engine field (written before versions existed: version 1) or of
    another version is not reused: warned about, kept aside, and reported missing."""
    store = Store(tmp_path, "abc")
    store.save("train", "k", {"acc": 0.9})
    path = store.path("train", "k")
    rec = json.loads(path.read_text())
    if engine is None:
        del rec["engine"]
    else:
        rec["engine"] = engine
    path.write_text(json.dumps(rec))
    with pytest.warns(StaleRecordWarning, match="engine version"):
        assert store.load("train", "k") is None
    old = 1 if engine is None else engine
    assert not path.exists() and path.with_name(f"k.json.engine-v{old}").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.load("train", "k") is None  # now simply missing: recomputed, no new warning


def test_run_json_provenance(tmp_path):
    cfg = config.resolve("smoke", SEEDS=1, SPARSITIES=[0.5], CANDIDATES=3, EPOCHS=1,
                         RESULTS_DIR=str(tmp_path / "r"))
    experiment.run_search(cfg)
    run = run_json(cfg)
    assert run["cpu"] == provenance.cpu_model() and run["cpu"] not in ("", "x86_64")
    assert run["engine"] == provenance.ENGINE_VERSION and run["torch"] == torch.__version__
    search = run["stages"]["search"]
    assert search["records"]["n"] == 1 and search["records"]["engines"] == [provenance.ENGINE_VERSION]
    assert "commit" in search and "seconds" in search


def test_configure_torch_cpu_changes_nothing():
    before = torch.are_deterministic_algorithms_enabled()
    assert provenance.configure_torch("cpu") == "cpu"
    assert torch.are_deterministic_algorithms_enabled() == before


def test_configure_torch_cuda_modes(monkeypatch):
    """Deterministic by default, fast when WEEDOUT_FAST_CUDA=1 (the flags only; no GPU needed)."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.delenv(provenance.FAST_CUDA_ENV, raising=False)
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic, torch.backends.cuda.matmul.fp32_precision,
             torch.backends.cudnn.conv.fp32_precision)
    try:
        assert provenance.configure_torch("cuda") == "deterministic"
        assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
        assert torch.backends.cudnn.deterministic
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        monkeypatch.setenv(provenance.FAST_CUDA_ENV, "1")
        assert provenance.configure_torch("cuda") == "fast"
        assert not torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
    finally:
        torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[1:3]
        torch.backends.cuda.matmul.fp32_precision = saved[3]
        torch.backends.cudnn.conv.fp32_precision = saved[4]


if __name__ == "__main__" and "--update" in sys.argv:
    import tempfile
    os.environ["WEEDOUT_QUIET"] = "1"
    config.cells = _cells_of
    with tempfile.TemporaryDirectory() as tmp:
        values = fingerprint(tmp)
    FINGERPRINT.parent.mkdir(exist_ok=True)
    FINGERPRINT.write_text(json.dumps({"engine": provenance.ENGINE_VERSION, "values": values},
                                      indent=1) + "\n")
    print(f"wrote {FINGERPRINT} for engine version {provenance.ENGINE_VERSION}")


def test_redrawing_figures_keeps_the_producing_runs_evidence(tmp_path):
    """`--only 04_figures` on results made elsewhere rewrites the figures (and says so in the
    figures stage), but run.json keeps the wall time and hardware of the run that computed the
    numbers: a redraw must not claim them."""
    res = tmp_path / "results"
    shutil.copytree(paths.ROOT / "results" / "cpu", res)
    run = json.loads((res / "run.json").read_text())
    run["command"] = {"argv": ["python", "-m", "weedout"], "total_seconds": 999.0}
    run["cpu"] = "Producing CPU"
    (res / "run.json").write_text(json.dumps(run))
    assert cli.main(["--preset", "cpu", "--only", "04_figures", "--results-dir", str(res),
                     "--figures-dir", str(tmp_path / "figures")]) == 0
    after = json.loads((res / "run.json").read_text())
    assert after["command"]["total_seconds"] == 999.0 and after["cpu"] == "Producing CPU"
    assert after["stages"]["figures"]["host"] == provenance.cpu_model()
    assert after["stages"]["training"] == run["stages"]["training"]
    last = json.loads((res / "last_run.json").read_text())
    assert "04_figures" in last["command"]["argv"]
