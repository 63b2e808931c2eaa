"""Parents whose hidden nodes can be masked, and the same networks physically compacted.

Three parents: `mlp` (hidden nodes = units), `cnn1d` and `cnn` (nodes = channels; conv, ReLU,
max-pool 2 per block, then one linear classifier on the flattened features).

Two views of one network, kept equal by an oracle test:
- `MaskedNet`: a plain nn.Module whose node masks multiply the activations (the textbook way;
  the naive reference of the benchmark).
- functional parameters, a list [W0, b0, ..., WL, bL] with a leading *stack* dimension M:
  `compact` cuts each of M networks out of its parent (removing a node removes its row, its
  column in the next layer and its bias), and `forward` runs all M at once — batched matmuls for
  linear layers, one grouped convolution for conv layers. Exact-count masks give every network
  of one sparsity level the same shape, which is what makes the stacking possible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

KERNEL = {"cnn1d": 5, "cnn": 3}


@dataclass(frozen=True)
class Arch:
    kind: str                   # "mlp" | "cnn1d" | "cnn"
    in_shape: tuple[int, ...]   # one example, e.g. (1, 8, 8)
    widths: tuple[int, ...]     # hidden nodes per layer (of the network as it is, compacted)
    n_classes: int

    def with_widths(self, widths) -> "Arch":
        return replace(self, widths=tuple(widths))

    @property
    def conv(self) -> bool:
        return self.kind != "mlp"

    @property
    def spatial_out(self) -> tuple[int, ...]:
        """Spatial size after the conv blocks (each halves it); () for the MLP."""
        if not self.conv:
            return ()
        return tuple(s // 2 ** len(self.widths) for s in self.in_shape[1:])


def arch_for(model: str, in_shape, n_classes: int, mlp_widths, cnn_channels) -> Arch:
    if model == "mlp":
        return Arch("mlp", tuple(in_shape), tuple(mlp_widths), n_classes)
    return Arch(model, tuple(in_shape), tuple(cnn_channels), n_classes)


class MaskedNet(nn.Module):
    """The reference network: standard layers, node masks multiplied into the activations."""

    def __init__(self, arch: Arch):
        super().__init__()
        self.arch = arch
        fan, layers = arch.in_shape[0], []
        if arch.conv:
            conv = nn.Conv1d if arch.kind == "cnn1d" else nn.Conv2d
            for w in arch.widths:
                layers.append(conv(fan, w, KERNEL[arch.kind], padding=KERNEL[arch.kind] // 2))
                fan = w
            fan *= math.prod(arch.spatial_out)
        else:
            fan = math.prod(arch.in_shape)
            for w in arch.widths:
                layers.append(nn.Linear(fan, w))
                fan = w
        self.hidden = nn.ModuleList(layers)
        self.out = nn.Linear(fan, arch.n_classes)
        for i, w in enumerate(arch.widths):
            self.register_buffer(f"mask{i}", torch.ones(w))

    def set_masks(self, binary: list[torch.Tensor]) -> "MaskedNet":
        for i, m in enumerate(binary):
            getattr(self, f"mask{i}").copy_(m.reshape(-1))
        return self

    def forward(self, x):
        h = x if self.arch.conv else x.flatten(1)
        pool = F.max_pool1d if self.arch.kind == "cnn1d" else F.max_pool2d
        for i, layer in enumerate(self.hidden):
            h = torch.relu(layer(h))
            if self.arch.conv:
                h = pool(h, 2)
            m = getattr(self, f"mask{i}")
            h = h * m.view(1, -1, *[1] * (h.dim() - 2))
        return self.out(h.flatten(1))


def init_parent(arch: Arch, seed: int) -> list[torch.Tensor]:
    """PyTorch's default initialisation, drawn from `seed` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = MaskedNet(arch)
    return [p.detach().clone() for p in net.parameters()]


def load_params(net: MaskedNet, params: list[torch.Tensor]) -> MaskedNet:
    with torch.no_grad():
        for p, v in zip(net.parameters(), params):
            p.copy_(v)
    return net


def stack(many: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """Networks' parameter lists -> one stacked list (leading dim M)."""
    return [torch.stack(ts) for ts in zip(*many)]


def compact(arch: Arch, params: list[torch.Tensor], keep: list[torch.Tensor],
            parent: torch.Tensor | None = None, start: int = 0) -> tuple[Arch, list]:
    """Cut M sparse networks out of stacked parents.

    params: stacked parents [P, ...]; keep: kept indices per hidden layer, [M, k_l];
    parent: [M] index of each network's parent (default: all from parent 0).
    Layers before `start` are left out (None): scoring computes the parent's first layer once.
    """
    M = keep[0].shape[0]
    dev = params[0].device
    p = torch.zeros(M, dtype=torch.long, device=dev) if parent is None else parent.to(dev)
    keep = [k.to(dev) for k in keep]
    out: list = [None] * len(params)
    # Whole rows first (contiguous copies), then columns with `gather`: ~2x faster than one
    # element-wise advanced index over [M, k_l, k_{l-1}] (measured on CPU, scoring chunks).
    for l, rows in enumerate(keep):
        if l < start:
            continue
        W, b = params[2 * l], params[2 * l + 1]
        out[2 * l] = W[p[:, None], rows]
        if l > 0:
            cols = keep[l - 1].view(M, 1, -1, *[1] * (W.dim() - 3))
            out[2 * l] = out[2 * l].gather(2, cols.expand(-1, rows.shape[1], -1, *W.shape[3:]))
        out[2 * l + 1] = b[p[:, None], rows]
    # Classifier: its inputs are (channel, position) pairs; drop every position of a removed channel.
    W, b = params[-2], params[-1]
    S = math.prod(arch.spatial_out)
    last = keep[-1].view(M, 1, -1, 1).expand(-1, arch.n_classes, -1, S)
    W = W.view(W.shape[0], arch.n_classes, arch.widths[-1], S)[p]
    out[-2] = W.gather(2, last).reshape(M, arch.n_classes, -1)
    out[-1] = b[p]
    return arch.with_widths([k.shape[1] for k in keep]), out


def scatter(arch: Arch, full: list[torch.Tensor], params: list[torch.Tensor],
            keep: list[torch.Tensor]) -> list[torch.Tensor]:
    """The inverse of `compact`: M full-size networks (`full` [M, ...], one parent per network)
    with the weights of their compacted networks (`params`, cut with `keep`) written back in
    place of the kept nodes' weights; every other weight keeps its value in `full`. So
    compact(arch, scatter(arch, full, params, keep), keep, arange(M)) returns `params`."""
    M = keep[0].shape[0]
    dev = full[0].device
    keep = [k.to(dev) for k in keep]
    out = [f.detach().clone() for f in full]
    for l, rows in enumerate(keep):
        W, cW = out[2 * l], params[2 * l].detach()
        tail = W.shape[3:]
        if l > 0:  # the kept rows, their kept columns overwritten, then the rows put back
            cols = keep[l - 1].view(M, 1, -1, *[1] * len(tail)).expand(-1, rows.shape[1], -1, *tail)
            cW = W.gather(1, rows.view(M, -1, *[1] * (W.dim() - 2)).expand(
                -1, -1, *W.shape[2:])).scatter(2, cols, cW)
        W.scatter_(1, rows.view(M, -1, *[1] * (W.dim() - 2)).expand(-1, -1, *W.shape[2:]), cW)
        out[2 * l + 1].scatter_(1, rows, params[2 * l + 1].detach())
    S = math.prod(arch.spatial_out)
    W = out[-2].view(M, arch.n_classes, arch.widths[-1], S)
    last = keep[-1].view(M, 1, -1, 1).expand(-1, arch.n_classes, -1, S)
    W.scatter_(2, last, params[-2].detach().view(M, arch.n_classes, -1, S))
    out[-1] = params[-1].detach().clone()
    return out


def fan_in_rescale(parent: Arch, sparse: Arch) -> list[float]:
    """Per layer (hidden ones, then the classifier), the factor that turns weights initialised
    for the parent's fan-in into weights initialised for the sparse network's: PyTorch's default
    draws weights and biases from U(+-1/sqrt(fan_in)), and a removed node shrinks the fan-in of
    the next layer (a conv's kernel and a classifier's positions cancel in the ratio)."""
    before = (None, *parent.widths)
    after = (None, *sparse.widths)
    return [1.0 if l == 0 else math.sqrt(before[l] / after[l]) for l in range(len(parent.widths) + 1)]


def _to_stacked_input(arch: Arch, x: torch.Tensor, M: int) -> torch.Tensor:
    """Input of hidden layer 0 in the stacked layout: [F, B] or [M, F, B] (mlp), [B, M*C, *S] (conv).

    The MLP runs feature-major ([M, features, B]): every weight gradient then comes out of bmm
    already in the weights' own layout (no copy when it is accumulated), and a candidate's kept
    units are whole contiguous rows of an activation (measured: forward+backward ~20% faster
    on a 2-core CPU, a whole training step 5-10%).
    """
    per_net = x.dim() == len(arch.in_shape) + 2
    if not arch.conv:
        return x.flatten(-len(arch.in_shape)).transpose(-1, -2)  # a view: bmm reads it as is
    if per_net:  # [M, B, C, *S] -> [B, M*C, *S]
        return x.transpose(0, 1).reshape(x.shape[1], M * x.shape[2], *x.shape[3:])
    return x.repeat(1, M, *[1] * (x.dim() - 2))


def hidden(arch: Arch, params: list, h: torch.Tensor, layer: int) -> torch.Tensor:
    """Hidden layer `layer` of M stacked networks (activation and pooling included)."""
    W, b = params[2 * layer], params[2 * layer + 1]
    M = W.shape[0]
    # Bias fused into the matmul, ReLU in place: fewer passes over the activations and fewer
    # autograd nodes (neither baddbmm's nor conv's backward needs its output).
    if not arch.conv:
        h = h.expand(M, *h.shape[-2:]) if h.dim() == 2 else h   # a batch shared by all M
        return torch.baddbmm(b[:, :, None], W, h).relu_()
    conv = F.conv1d if arch.kind == "cnn1d" else F.conv2d
    pool = F.max_pool1d if arch.kind == "cnn1d" else F.max_pool2d
    if arch.kind == "cnn":
        # Channels-last: oneDNN's grouped conv and max-pool are ~2x faster on a 2-core CPU in
        # NHWC (measured on a Fashion-MNIST training step); cuDNN prefers it too.
        h = h.contiguous(memory_format=torch.channels_last)
    y = conv(h, W.reshape(-1, *W.shape[2:]), b.reshape(-1), padding=W.shape[-1] // 2, groups=M)
    # Pool, then ReLU: max and ReLU commute exactly (both are monotone, no rounding), and so do
    # their gradients (a pooled max <= 0 gets none either way), so the numbers are those of
    # ReLU-then-pool (MaskedNet's order) while the ReLU touches a quarter of the values.
    return pool(y, 2).relu_()


def forward(arch: Arch, params: list, x: torch.Tensor, start: int = 0,
            gates: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Logits [M, B, classes] of M stacked networks (a transposed view of [M, classes, B]).

    x: a batch [B, *in_shape] shared by all networks, or [M, B, *in_shape] (one batch per
    network); with start > 0, the stacked activation entering hidden layer `start`
    ([M, width, B] for the MLP). gates: one [M, width] tensor per hidden layer multiplied into
    that layer's output (after ReLU and pooling): a node's gate at 0 removes it, and gradients
    in the gates are the node saliencies of `weedout.saliency`.
    """
    M = params[-1].shape[0]
    h = _to_stacked_input(arch, x, M) if start == 0 else x
    for layer in range(start, len(arch.widths)):
        h = hidden(arch, params, h, layer)
        if gates is not None:  # mlp [M, W, B]; conv [B, M*C, *S]
            g = gates[layer]
            h = h * (g[:, :, None] if not arch.conv else g.reshape(1, -1, *[1] * (h.dim() - 2)))
    if arch.conv:  # [B, M*C, *S] -> [M, C*S, B], features in the order nn.Flatten gives
        h = h.reshape(h.shape[0], M, -1).permute(1, 2, 0)
    return torch.baddbmm(params[-1][:, :, None], params[-2], h).transpose(1, 2)


def materialize(arch: Arch, params: list[torch.Tensor]) -> nn.Sequential:
    """One compacted network (`params` unstacked, as cut by `compact`) as a small dense
    nn.Sequential of standard layers: what a user would deploy, with no masks and no weedout code."""
    layers: list[nn.Module] = [] if arch.conv else [nn.Flatten()]
    conv = {"cnn1d": (nn.Conv1d, nn.MaxPool1d), "cnn": (nn.Conv2d, nn.MaxPool2d)}.get(arch.kind)
    for l in range(len(arch.widths)):
        W = params[2 * l]
        if conv:
            layers += [conv[0](W.shape[1], W.shape[0], W.shape[-1], padding=W.shape[-1] // 2),
                       nn.ReLU(), conv[1](2)]
        else:
            layers += [nn.Linear(W.shape[1], W.shape[0]), nn.ReLU()]
    layers += [nn.Flatten(), nn.Linear(params[-2].shape[1], arch.n_classes)]
    # dtype and device first: copying into default float32 layers would round float64 weights
    net = nn.Sequential(*layers).to(device=params[0].device, dtype=params[0].dtype)
    with torch.no_grad():
        for p, v in zip(net.parameters(), params):
            p.copy_(v)
    return net


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy, logits [..., K] and labels [...] -> [...]. Same value as
    F.cross_entropy(reduction="none"), but its CPU log_softmax kernel is slow for a short class
    dimension (5 ms vs 1 ms for [20480, 10]), and scoring runs it on many candidates at once."""
    return logits.logsumexp(-1) - logits.gather(-1, y.unsqueeze(-1)).squeeze(-1)


def count(arch: Arch) -> tuple[int, int]:
    """(parameters, forward FLOPs per example) of one network; FLOPs = 2 x multiply-adds of
    the linear and conv layers (activations and pooling are not counted)."""
    n_params = macs = 0
    if arch.conv:
        fan, spatial = arch.in_shape[0], arch.in_shape[1:]
        k = KERNEL[arch.kind] ** len(spatial)
        for w in arch.widths:
            n_params += w * fan * k + w
            macs += w * fan * k * math.prod(spatial)
            spatial = tuple(s // 2 for s in spatial)
            fan = w
        fan *= math.prod(spatial)
    else:
        fan = math.prod(arch.in_shape)
        for w in arch.widths:
            n_params += w * fan + w
            macs += w * fan
            fan = w
    n_params += arch.n_classes * fan + arch.n_classes
    macs += arch.n_classes * fan
    return n_params, 2 * macs
