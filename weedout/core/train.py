"""Phase 2: train many networks at once, with per-epoch metrics.

All networks of one (dataset, model, sparsity) cell have the same compacted shape, so they are
trained as one stacked model: one forward, one backward, one optimizer step for all of them.
Each network still sees exactly the batches and updates it would see alone:
- its own data order (a permutation drawn from its seed: same seed = same order, whatever the
  method), gathered from the dataset tensors already on the device;
- its own loss: the sum of the per-network mean losses has, for each network's weights, exactly
  that network's gradient, and SGD (momentum, weight decay) acts element by element;
- no layer mixes networks (no batch norm), so a diverging network cannot spill into the others.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from . import models
from .seeds import derive_seed
from .models import Arch
from .precision import autocast


@dataclass(frozen=True)
class Schedule:
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    precision: str = "float32"  # of the forward and backward passes (weedout.core.precision)

    def lr_at(self, step: int, total: int) -> float:
        """Cosine annealing from lr to 0, per step."""
        return self.lr * 0.5 * (1 + math.cos(math.pi * step / total))


def masked(params: list, weight_masks) -> list:
    """The parameters a forward pass uses: each weight matrix times its 0/1 mask [M, *shape]
    (unstructured masks; biases as they are), or `params` itself without masks."""
    if weight_masks is None:
        return params
    return [p * weight_masks[i // 2] if i % 2 == 0 else p for i, p in enumerate(params)]


def to_float32(logits: torch.Tensor) -> torch.Tensor:
    """bfloat16 logits (of an autocast forward) as float32 for the loss and the metrics; any
    other dtype as it is (float32, or float64 in the benchmark's --float64 check)."""
    return logits.float() if logits.dtype == torch.bfloat16 else logits


def data_order(seed: int, tag: str, epoch: int, n: int) -> torch.Tensor:
    """The permutation a network with this seed sees in this epoch (CPU generator: the same on
    every device)."""
    g = torch.Generator().manual_seed(derive_seed(seed, "order", tag, epoch))
    return torch.randperm(n, generator=g)


@torch.inference_mode()
def evaluate(arch: Arch, params: list, x: torch.Tensor, y: torch.Tensor,
             batch: int = 1000, gates=None, weight_masks=None,
             precision: str = "float32") -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss and accuracy [M] of M stacked networks on a whole split (shared inputs);
    `gates`: 0/1 node gates [M, width] per hidden layer (`models.forward`); `precision`: of
    the forward pass (`weedout.core.precision`; the loss is float32 either way)."""
    M = params[-1].shape[0]
    params = masked(params, weight_masks)
    loss = torch.zeros(M, dtype=torch.float64, device=x.device)
    correct = torch.zeros(M, dtype=torch.float64, device=x.device)
    for i in range(0, x.shape[0], batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        with autocast(precision, x.device.type):
            logits = models.forward(arch, params, xb, gates=gates)
        logits = to_float32(logits)
        loss += models.cross_entropy(logits, yb.expand(M, -1)).double().sum(1)
        correct += (logits.argmax(-1) == yb).double().sum(1)
    return (loss / x.shape[0]).cpu(), (correct / x.shape[0]).cpu()


def train_stack(arch: Arch, params: list, data, seeds: list[int], sched: Schedule,
                progress=None, epochs: tuple[int, int] | None = None, gates=None,
                weight_masks=None, epoch_fn=None) -> dict:
    """Train M stacked networks (params [M, ...]) in place of copies; network m uses seeds[m].

    Returns per-epoch metrics as [epochs+1, M] tensors (row 0: before training, measured on the
    whole training split; later rows: running means over the epoch's batches for train_*,
    the whole test split for test_*), `diverged_epoch` [M] (-1 = finite throughout) and the
    trained parameters.

    epochs=(first, last): only epochs first+1..last of the schedule, each with the learning rate
    and the data order it has in the whole run (searching after `first` epochs cuts one run in
    two: the dense parent's epochs, then the sparse network's). Rows before `first` are NaN, row
    `first` is measured before training as row 0 is, rows after `last` are not returned. The
    optimizer starts afresh (no momentum carried over the cut).

    gates: fixed 0/1 node gates [M, width] per hidden layer (global masks: networks of
    different shapes trained at full size, a removed node's output multiplied by 0, so it has
    no effect and its weights no gradient; equal to the compacted network up to rounding).
    weight_masks: fixed 0/1 masks [M, *shape] per weight matrix (unstructured masks): every
    forward pass uses the weights times their masks, so a removed weight has no effect and no
    gradient (its stored value only decays), as in torch.nn.utils.prune's reparametrisation.
    epoch_fn(run, order): the steps of one epoch (default `run_epoch`; the benchmark passes
    the loop this engine had before, `weedout.baseline.epoch`, to time the two side by side).

    An MLP stack of one network is trained as a stack of two (`_as_two`), so that a network's
    numbers never depend on whether it was trained alone.
    """
    if len(seeds) == 1 and not arch.conv:
        return _as_two(arch, params, data, seeds, sched, progress, epochs, gates, weight_masks,
                       epoch_fn)
    first, last = epochs or (0, sched.epochs)
    M, N, dev = len(seeds), data.x_train.shape[0], data.x_train.device
    steps_per_epoch = math.ceil(N / sched.batch_size)
    run = Stack(arch, [p.detach().clone().requires_grad_(True) for p in params], data, sched,
                gates, weight_masks, sched.epochs * steps_per_epoch, first * steps_per_epoch)
    hist = {k: torch.full((last + 1, M), torch.nan, dtype=torch.float64)
            for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    hist["train_loss"][first], hist["train_acc"][first] = run.evaluate(data.x_train, data.y_train)
    hist["test_loss"][first], hist["test_acc"][first] = run.evaluate(data.x_test, data.y_test)
    diverged = torch.full((M,), -1, dtype=torch.long)
    unique = sorted(set(seeds))
    row_of = torch.tensor([unique.index(s) for s in seeds], device=dev)
    for epoch in range(first + 1, last + 1):
        # One permutation per distinct seed, then one row per network: [M, N].
        order = torch.stack([data_order(s, data.name, epoch, N) for s in unique]).to(dev)[row_of]
        loss_sum, correct = (epoch_fn or run_epoch)(run, order)
        hist["train_loss"][epoch] = (loss_sum / N).cpu()
        hist["train_acc"][epoch] = (correct.double() / N).cpu()
        hist["test_loss"][epoch], hist["test_acc"][epoch] = run.evaluate(data.x_test, data.y_test)
        # Diverged: a non-finite loss this epoch or non-finite weights. Recorded, not fatal.
        finite = torch.isfinite(hist["train_loss"][epoch])
        for p in run.params:
            finite &= torch.isfinite(p.detach()).flatten(1).all(1).cpu()
        diverged[(~finite) & (diverged < 0)] = epoch
        if progress is not None:
            progress.update(1)
    hist["diverged_epoch"] = diverged
    hist["params"] = [p.detach() for p in run.params]
    return hist


@dataclass
class Stack:
    """One stacked training run as its epochs see it: the parameters being trained (leaves
    [M, ...]), what a forward pass needs, the schedule's step count, and the optimizer's state."""
    arch: Arch
    params: list
    data: object
    sched: Schedule
    gates: list | None
    weight_masks: list | None
    total: int                  # steps of the whole schedule (the cosine's length)
    step: int                   # steps taken so far in the whole schedule
    state: dict = field(default_factory=dict)

    def loss(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [M, B, classes] and per-example losses [M, B], both float32 (in bfloat16
        precision the forward runs under autocast; its logits are cast back before the loss)."""
        with autocast(self.sched.precision, xb.device.type):
            logits = models.forward(self.arch, masked(self.params, self.weight_masks), xb,
                                    gates=self.gates)
        logits = to_float32(logits)
        return logits, models.cross_entropy(logits, yb)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor):
        return evaluate(self.arch, self.params, x, y, gates=self.gates,
                        weight_masks=self.weight_masks, precision=self.sched.precision)


def run_epoch(run: Stack, order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The steps of one epoch, network m visiting the training split in the order order[m];
    returns each network's summed per-example loss (float64) and its count of correct answers.

    What is not arithmetic is kept out of the step: the batch is gathered with one
    index_select, the gradients come from autograd.grad (no zeroing, no accumulation into
    .grad), the optimizer is `sgd_step`, and nothing waits for the device."""
    x, y, B = run.data.x_train, run.data.y_train, run.sched.batch_size
    M, N = order.shape
    loss_sum = torch.zeros(M, dtype=torch.float64, device=x.device)
    correct = torch.zeros(M, dtype=torch.long, device=x.device)
    for i in range(0, N, B):
        idx = order[:, i:i + B]
        xb = x.index_select(0, idx.reshape(-1)).view(*idx.shape, *x.shape[1:])  # [M, B, ...]
        yb = y[idx]                                                              # [M, B]
        logits, ce = run.loss(xb, yb)
        grads = torch.autograd.grad(ce.mean(1).sum(), run.params)
        sgd_step(run.params, list(grads), run.state, run.sched,
                 run.sched.lr_at(run.step, run.total))
        run.step += 1
        loss_sum += ce.detach().double().sum(1)
        correct += (logits.detach().argmax(-1) == yb).sum(1)
    return loss_sum, correct


@torch.no_grad()
def sgd_step(params: list, grads: list, state: dict, sched: Schedule, lr: float) -> None:
    """torch.optim.SGD's step (momentum, weight decay; no dampening, no Nesterov) bit for bit:
    the same operations in the same order (tests/test_speed.py compares the two), with fewer
    passes and calls: the weight decay goes into the fresh gradients in place rather than into
    copies, and each operation is one call over all parameters (torch._foreach_*). The
    momentum buffers live in `state`, which starts empty (the first step copies the gradient).
    Not fused: neither torch._fused_sgd_ nor this step under torch.compile (inductor, gcc,
    torch 2.14, any floating-point contraction flag) gives these bits after one step. Eager's
    add with alpha is one fused multiply-add per element (float32 alpha), its momentum update
    two roundings; their kernels round differently, and the engine fingerprint and the
    stacked = alone = naive tests hold only for the same bits."""
    if sched.weight_decay != 0:
        torch._foreach_add_(grads, params, alpha=sched.weight_decay)
    if sched.momentum != 0:
        if "momentum" not in state:
            state["momentum"] = [g.detach().clone() for g in grads]
        else:
            torch._foreach_mul_(state["momentum"], sched.momentum)
            torch._foreach_add_(state["momentum"], grads)
        grads = state["momentum"]
    torch._foreach_add_(params, grads, alpha=-lr)


def _as_two(arch: Arch, params, data, seeds, sched, progress, epochs, gates, weight_masks,
            epoch_fn) -> dict:
    """An MLP stack of one network, trained as a stack of two (itself twice; the copy dropped).
    On some CPUs (seen: AMD EPYC with torch 2.14's MKL) a batched matmul of one matrix takes
    another kernel than a batch of several, and the network's numbers would differ in the last
    bits from the same network in any larger stack (a level resumed with one seed left, the
    parent trained alone before `search_after`); every stack of two or more agrees bit for bit."""
    two = lambda ts: None if ts is None else [torch.cat([t, t]) for t in ts]  # noqa: E731
    hist = train_stack(arch, two(params), data, seeds * 2, sched, progress, epochs, two(gates),
                       two(weight_masks), epoch_fn)
    out = {k: v[:, :1] for k, v in hist.items() if k not in ("diverged_epoch", "params")}
    return {**out, "diverged_epoch": hist["diverged_epoch"][:1],
            "params": [p[:1] for p in hist["params"]]}
