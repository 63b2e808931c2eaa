"""The faster training step computes what the old one did, bit for bit (issue 20).

`train.run_epoch` (autograd.grad, `sgd_step`'s foreach operations, index_select batches) against
`baseline.epoch` (the engine's loop before: torch.optim.SGD, .backward(), advanced indexing),
both through `train_stack`: every history entry and every trained weight must be *equal*, not
close, in float32, for every parent kind, with node gates and with weight masks. Speed itself
is never timed here (`python -m weedout.bench` compares the two side by side).
"""
import types

import pytest
import torch

from weedout.core import baseline, masks, models
from weedout.core.train import Schedule, sgd_step, train_stack

SCHED = Schedule(epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=5e-4)


def toy(shape, n_classes=3, n_train=70, n_test=20):
    g = torch.Generator().manual_seed(0)
    return types.SimpleNamespace(
        name="toy", x_train=torch.randn(n_train, *shape, generator=g),
        y_train=torch.randint(n_classes, (n_train,), generator=g),
        x_test=torch.randn(n_test, *shape, generator=g),
        y_test=torch.randint(n_classes, (n_test,), generator=g))


def assert_same_bits(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        if k == "params":
            assert all(torch.equal(p, q) for p, q in zip(a[k], b[k])), k
        else:
            assert torch.equal(a[k], b[k]) or (a[k].isnan() == b[k].isnan()).all() and torch.equal(
                a[k].nan_to_num(), b[k].nan_to_num()), k


CASES = {"mlp": ((1, 6, 6), (10, 7)), "cnn1d": ((1, 16), (6, 5)), "cnn": ((2, 8, 8), (6, 5))}


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize("how", ["compact", "gates", "weights"])
def test_new_step_equals_the_old_bit_for_bit(kind, how):
    shape, widths = CASES[kind]
    arch = models.Arch(kind, shape, widths, 3)
    params = models.stack([models.init_parent(arch, s) for s in range(3)])
    gates = weights = None
    if how == "compact":
        keep = masks.sample(arch.widths, 0.5, 3, torch.Generator().manual_seed(1))
        arch, params = models.compact(arch, params, keep, torch.arange(3))
    elif how == "gates":
        gates = [(torch.rand(3, w, generator=torch.Generator().manual_seed(w)) < 0.6).float()
                 for w in arch.widths]
    else:
        weights = [(torch.rand(p.shape, generator=torch.Generator().manual_seed(i)) < 0.5).float()
                   for i, p in enumerate(params[0::2])]
    data = toy(shape)
    new = train_stack(arch, params, data, [0, 1, 2], SCHED, gates=gates, weight_masks=weights)
    old = train_stack(arch, params, data, [0, 1, 2], SCHED, gates=gates, weight_masks=weights,
                      epoch_fn=baseline.epoch)
    assert_same_bits(new, old)
    assert not torch.equal(new["params"][0], params[0])  # it trained


def test_float64_stays_float64_bit_for_bit():
    """The benchmark's --float64 check trains in double: no step may round through float32."""
    arch = models.Arch("cnn", (2, 8, 8), (6, 5), 3)
    params = [p.double() for p in models.stack([models.init_parent(arch, s) for s in range(2)])]
    data = toy((2, 8, 8))
    for k in ("x_train", "x_test"):
        setattr(data, k, getattr(data, k).double())
    new = train_stack(arch, params, data, [0, 1], SCHED)
    assert new["params"][0].dtype == torch.float64
    assert_same_bits(new, train_stack(arch, params, data, [0, 1], SCHED, epoch_fn=baseline.epoch))


def test_a_stack_of_one_and_a_cut_run_take_the_new_step_too():
    arch = models.Arch("mlp", (1, 6, 6), (10, 7), 3)
    params, data = models.stack([models.init_parent(arch, 0)]), toy((1, 6, 6))
    for epochs in (None, (1, 2)):
        assert_same_bits(train_stack(arch, params, data, [0], SCHED, epochs=epochs),
                         train_stack(arch, params, data, [0], SCHED, epochs=epochs,
                                     epoch_fn=baseline.epoch))


@pytest.mark.parametrize("momentum, weight_decay", [(0.9, 5e-4), (0.0, 5e-4), (0.9, 0.0)])
def test_sgd_step_equals_torch_sgd(momentum, weight_decay):
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 17, 9), (3, 17), (3, 5, 4, 3, 3), (3, 1)]
    mine = [torch.randn(s, generator=g) for s in shapes]
    ref = [p.clone().requires_grad_(True) for p in mine]
    opt = torch.optim.SGD(ref, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    sched, state = Schedule(1, 1, 0.1, momentum, weight_decay), {}
    for step in range(4):
        grads = [torch.randn(s, generator=g) for s in shapes]
        lr = 0.1 / (step + 1)
        for group in opt.param_groups:
            group["lr"] = lr
        for p, gr in zip(ref, grads):
            p.grad = gr.clone()
        opt.step()
        sgd_step(mine, [gr.clone() for gr in grads], state, sched, lr)
        assert all(torch.equal(a, b.detach()) for a, b in zip(mine, ref)), step
