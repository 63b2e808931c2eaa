"""The naive way, as a typical research script would write it: the benchmark's baseline and an
oracle for the engine.

One network at a time: a dense-size `models.MaskedNet` whose node masks multiply the
activations, a `torch.utils.data.DataLoader` over a `TensorDataset`, `torch.optim.SGD`, and one
forward per candidate when scoring. It shares no functional code with the engine (no
`models.compact`/`models.forward`, no stacked layout); what it does share is *what* is computed:
the same parent weights, the same per-epoch permutation (`train.data_order`), the same per-step
cosine learning rate (`train.Schedule.lr_at`), so its results can be compared with the engine's
number for number.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Sampler, TensorDataset

from . import masks, models
from .masks import Keep
from .models import Arch
from .train import Schedule, data_order


class EpochOrderSampler(Sampler):
    """Yields the engine's permutation for (seed, dataset, epoch), like DistributedSampler's
    set_epoch: the training loop calls `set_epoch` before iterating."""

    def __init__(self, seed: int, tag: str, n: int):
        self.seed, self.tag, self.n, self.epoch = seed, tag, n, 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter(data_order(self.seed, self.tag, self.epoch, self.n).tolist())

    def __len__(self) -> int:
        return self.n


def masked_net(arch: Arch, parent: list[torch.Tensor], keep: Keep | None, device) -> models.MaskedNet:
    """The parent as a MaskedNet, its 0/1 masks set from `keep` ([1, k_l] per layer; None: dense)."""
    net = models.load_params(models.MaskedNet(arch).to(parent[0].dtype), [p.cpu() for p in parent])
    if keep is not None:
        net.set_masks([b[0] for b in masks.to_binary(keep, arch.widths)])
    return net.to(device)


@torch.no_grad()
def score_one_by_one(arch: Arch, parent: list[torch.Tensor], keep: Keep, x: torch.Tensor,
                     y: torch.Tensor, kind: str = "loss") -> torch.Tensor:
    """Score each candidate with its own MaskedNet forward on the scoring batch (lower is better)."""
    net = masked_net(arch, parent, None, x.device).eval()
    binary = masks.to_binary(keep, arch.widths)
    out = []
    for c in range(keep[0].shape[0]):
        net.set_masks([b[c] for b in binary])
        logits = net(x)
        if kind == "error":
            out.append((logits.argmax(1) != y).float().mean().item())
        else:
            out.append(F.cross_entropy(logits, y).item())
    return torch.tensor(out, dtype=torch.float64)


@torch.no_grad()
def evaluate(net: torch.nn.Module, loader: DataLoader, device) -> tuple[float, float]:
    """Mean loss and accuracy over a whole split."""
    net.eval()
    loss = correct = n = 0.0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        logits = net(xb)
        loss += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
        n += len(yb)
    return loss / n, correct / n


def train_one(arch: Arch, parent: list[torch.Tensor], keep: Keep | None, data, seed: int,
              sched: Schedule, device=None, weight_masks: list[torch.Tensor] | None = None) -> dict:
    """Train one masked network; the same metrics structure as `train.train_stack` with M=1.
    weight_masks: 0/1 masks [1, *shape] per weight matrix (unstructured), applied with torch's
    own pruning reparametrisation (`torch.nn.utils.prune.custom_from_mask`)."""
    device = device or data.x_train.device
    net = masked_net(arch, parent, keep, device)
    if weight_masks is not None:
        from torch.nn.utils import prune
        for layer, m in zip([*net.hidden, net.out], weight_masks):
            prune.custom_from_mask(layer, "weight", m[0].to(device))
    # The usual script keeps the data on the host and moves each batch to the device.
    train_set = TensorDataset(data.x_train.cpu(), data.y_train.cpu())
    loaders = {split: DataLoader(TensorDataset(getattr(data, f"x_{split}").cpu(),
                                               getattr(data, f"y_{split}").cpu()), batch_size=1000)
               for split in ("train", "test")}
    sampler = EpochOrderSampler(seed, data.name, len(train_set))
    loader = DataLoader(train_set, batch_size=sched.batch_size, sampler=sampler, num_workers=0)
    opt = torch.optim.SGD(net.parameters(), lr=sched.lr, momentum=sched.momentum,
                          weight_decay=sched.weight_decay)
    total = sched.epochs * len(loader)
    hist = {k: torch.zeros(sched.epochs + 1, 1, dtype=torch.float64)
            for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    for split in ("train", "test"):
        hist[f"{split}_loss"][0], hist[f"{split}_acc"][0] = evaluate(net, loaders[split], device)
    diverged, step = -1, 0
    for epoch in range(1, sched.epochs + 1):
        sampler.set_epoch(epoch)
        net.train()
        loss_sum = correct = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            for g in opt.param_groups:
                g["lr"] = sched.lr_at(step, total)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
        hist["train_loss"][epoch] = loss_sum / len(train_set)
        hist["train_acc"][epoch] = correct / len(train_set)
        hist["test_loss"][epoch], hist["test_acc"][epoch] = evaluate(net, loaders["test"], device)
        finite = math.isfinite(loss_sum) and all(torch.isfinite(p).all() for p in net.parameters())
        if not finite and diverged < 0:
            diverged = epoch
    hist["diverged_epoch"] = torch.tensor([diverged])
    hist["net"] = net
    return hist
