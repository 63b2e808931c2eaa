"""The machine-rate measurement (weedout.rates) times the operations whose FLOPs the engine is
credited with: per pass, its operations' FLOPs equal weedout.compute's formulas (a training
step, an evaluation pass, scoring from layer 1), and every operation runs. Nothing is timed
against a threshold here."""
import pytest
import torch

from weedout.bench import rates
from weedout.core import flops, masks, models

ARCHS = [models.Arch("mlp", (1, 6, 6), (10, 7), 3), models.Arch("cnn1d", (1, 16), (6, 5), 4),
         models.Arch("cnn", (2, 8, 8), (6, 5), 3)]


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.kind)
def test_operations_carry_the_engines_flops(arch):
    M, B = 3, 5
    f, f0 = models.count(arch)[1], flops.first_layer_flops(arch)
    step = rates.pass_ops(arch, M, B, backward=True)
    assert sum(n for n, _ in step) == M * B * (3 * f - f0)
    assert sum(n for n, _ in rates.pass_ops(arch, M, B, False, shared=True)) == M * B * f
    kept = masks.kept_widths(arch.widths, 0.5)
    scoring = rates.pass_ops(arch.with_widths(kept), M, B, False, start=1)
    assert sum(n for n, _ in scoring) == flops.scoring_flops(arch, kept, B, M)
    for _, fn in step + scoring:
        fn()
    assert all(t > 0 for t in rates.seconds(step, "cpu", repeats=1))


def test_training_ideal_counts_a_lone_mlp_as_two():
    arch = ARCHS[0]
    one, _ = rates.training_ideal([(arch, 1)], 1, 4, 8, 4, "cpu")
    assert one == 2 * flops.training_flops(arch, 1, 8, 4)
    eff = rates.efficiency(10**9, (1.0, 0.5), 4.0, 1.0)
    assert eff["fraction"] == 0.25 and eff["machine_gflop_per_s"] == 1.0
    assert eff["fraction_cpu"] == 0.5


def test_bfloat16_operations_run_in_bfloat16():
    ops = rates.pass_ops(ARCHS[2], 2, 3, True, precision="bfloat16")
    with torch.inference_mode():
        assert ops[0][1]().dtype == torch.bfloat16
