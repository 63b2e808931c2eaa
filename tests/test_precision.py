"""PRECISION (weedout.precision): float32 by default, with the digests and numbers of every
committed run unchanged; bfloat16 where the hardware has bfloat16 units, refused elsewhere
before any work with a message naming PRECISION, the value, the CPU and what is allowed.
The CPU's flags are monkeypatched to test both branches on any machine."""
import json
import types

import pytest
import torch

from weedout import bench, config, experiment
from weedout.config import paths
from weedout.core import models, precision
from weedout.core.train import Schedule, train_stack
from weedout.pipeline import provenance


@pytest.fixture
def no_bf16(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "fma"}))


@pytest.fixture
def bf16(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))


def test_bfloat16_refused_on_a_cpu_without_it_before_any_work(no_bf16, tmp_path):
    results = tmp_path / "results"
    with pytest.raises(ValueError) as err:
        experiment.configure("smoke", PRECISION="bfloat16", DEVICE="cpu", RESULTS_DIR=str(results))
    msg = str(err.value)
    assert msg.startswith("PRECISION='bfloat16' is not allowed: 'float32' here")
    assert provenance.cpu_model() in msg and "AVX-512 BF16 or AMX" in msg
    assert not results.exists()


def test_bfloat16_allowed_with_the_flags_and_part_of_the_digest(bf16, tmp_path):
    cfg = experiment.configure("smoke", PRECISION="bfloat16", DEVICE="cpu",
                               RESULTS_DIR=str(tmp_path))
    assert cfg.precision == "bfloat16" and cfg.to_dict()["precision"] == "bfloat16"  # run.json
    assert cfg.digest() != config.PRESETS["smoke"].digest()


def test_float32_leaves_every_digest_as_it_was():
    """The default adds nothing to a digest: the committed cpu run's digest still matches."""
    run = json.loads((paths.ROOT / "results" / "cpu" / "run.json").read_text())
    assert config.PRESETS["cpu"].precision == "float32"
    assert config.PRESETS["cpu"].digest() == run["digest"]
    assert config.resolve("cpu", PRECISION="float32") == config.PRESETS["cpu"]


def test_bfloat16_training_runs_under_autocast_with_float32_weights_and_metrics(monkeypatch):
    """On any CPU torch runs bfloat16 autocast (emulated where there are no units): the code
    path is tested here, its speed only where the hardware has it."""
    seen = []
    real = models.forward

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append((torch.is_autocast_enabled("cpu"), out.dtype))
        return out

    monkeypatch.setattr(models, "forward", spy)
    arch = models.Arch("cnn", (1, 8, 8), (4, 3), 3)
    g = torch.Generator().manual_seed(0)
    data = types.SimpleNamespace(name="toy", x_train=torch.randn(40, 1, 8, 8, generator=g),
                                 y_train=torch.randint(3, (40,), generator=g),
                                 x_test=torch.randn(10, 1, 8, 8, generator=g),
                                 y_test=torch.randint(3, (10,), generator=g))
    params = models.stack([models.init_parent(arch, s) for s in range(2)])
    sched = Schedule(1, 16, 0.05, 0.9, 5e-4, precision="bfloat16")
    hist = train_stack(arch, params, data, [0, 1], sched)
    assert seen and all(on and dtype == torch.bfloat16 for on, dtype in seen)
    assert all(p.dtype == torch.float32 for p in hist["params"])
    assert hist["train_loss"].dtype == torch.float64 and torch.isfinite(hist["train_loss"]).all()
    fp32 = train_stack(arch, params, data, [0, 1], Schedule(1, 16, 0.05, 0.9, 5e-4))
    assert not torch.equal(fp32["params"][0], hist["params"][0])  # another arithmetic


def test_cuda_support_is_asked_of_the_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert precision.supported("cuda") and precision.why_not("bfloat16", "cuda") is None
    assert precision.why_not("float32", "cpu") is None


def test_bench_in_bfloat16_where_supported(bf16, tmp_path, capsys):
    """The benchmark's bfloat16 path (here emulated: the flags are monkeypatched): the engine
    trains in bfloat16, the baseline and the naive way in float32, the rates in bfloat16."""
    out = tmp_path / "b.json"
    rc = bench.main("--device cpu --seeds 1 --candidates 4 --epochs 1 --sparsities 0.5 "
                    f"--threads 1 --train-subset 256 --precision bfloat16 --json {out}".split())
    saved = json.loads(out.read_text())
    assert rc in (0, 1) and saved["grid"]["precision"] == "bfloat16"
    assert "training in bfloat16" in capsys.readouterr().out
    assert saved["baseline_identical"] is False  # float32 baseline, bfloat16 engine
    assert "training_baseline" not in saved["efficiency"]
    assert bench.default_json(bench.parse(["--precision", "bfloat16"]), "cpu").name == \
        "cpu-digits-mlp-bfloat16.json"
