"""The training step of the engine before issue 20 ("speed toward the machine's limit"), kept
as it was so that `python -m weedout.bench` can time it beside today's (`train.run_epoch`) in
the same process: `train_stack(..., epoch_fn=baseline.epoch)`.

It differs from `train.run_epoch` only in how the step is run, not in what it computes (a test
checks the two give the same bits): torch.optim.SGD (one call per parameter and operation,
the weight decay added into a copy of each gradient), gradients accumulated into `.grad` after
zeroing, the batch gathered by advanced indexing, the correct answers counted in float64.
"""
from __future__ import annotations

import torch

from . import models
from .train import Stack, masked


def epoch(run: Stack, order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch of the pre-issue-20 loop (float32 only); `train.run_epoch`'s signature."""
    if "opt" not in run.state:  # created once per train_stack call, as it was
        s = run.sched
        run.state["opt"] = torch.optim.SGD(run.params, lr=s.lr, momentum=s.momentum,
                                           weight_decay=s.weight_decay)
    opt, data, sched = run.state["opt"], run.data, run.sched
    M, N, dev = order.shape[0], order.shape[1], data.x_train.device
    loss_sum = torch.zeros(M, dtype=torch.float64, device=dev)
    correct = torch.zeros(M, dtype=torch.float64, device=dev)
    for i in range(0, N, sched.batch_size):
        idx = order[:, i:i + sched.batch_size]
        xb, yb = data.x_train[idx], data.y_train[idx]        # [M, B, ...], [M, B]
        logits = models.forward(run.arch, masked(run.params, run.weight_masks), xb, gates=run.gates)
        ce = models.cross_entropy(logits, yb)                    # [M, B]
        for g in opt.param_groups:
            g["lr"] = sched.lr_at(run.step, run.total)
        opt.zero_grad(set_to_none=True)
        ce.mean(1).sum().backward()
        opt.step()
        run.step += 1
        loss_sum += ce.detach().double().sum(1)
        correct += (logits.detach().argmax(-1) == yb).double().sum(1)
    return loss_sum, correct
