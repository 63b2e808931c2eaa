"""How a level's node budget is spread over the hidden layers (`Config.structure`).

- `local` (the paper): every hidden layer keeps the same fraction, k_l = round((1 - s) w_l).
- `nonuniform`: the same total of kept hidden nodes as `local` (so the same overall node
  sparsity), spread over the layers by a fixed per-layer density vector: `Config.layer_density`
  if given (relative densities, one per hidden layer), else an ERK-style rule. ERK (Evci et al.
  2020) gives a weight matrix density proportional to (n_in + n_out) / (n_in n_out); at node
  level a hidden layer sits between its fan-in (inputs of its nodes) and its fan-out (nodes of
  the next layer, or the classes), so its density is proportional to 1/fan_in + 1/fan_out
  (a conv layer's fan-in and fan-out count kernel taps): layers next to small layers keep more.
  Every mask of a level still has the same kept widths, so candidates are scored and networks
  trained stacked exactly as in `local`; only the widths differ.
- `global`: the same total, with the allocation across layers part of what is drawn and
  searched (`masks.sample_global`: one node per layer, the rest uniformly from all remaining
  nodes). Candidates differ in shape, so they are scored as 0/1 node gates of the full parent in
  one batched pass (`scoring.gated_scorer`) and trained at full size with their gates
  (`train_stack(gates=...)`), each equal to its compacted twin up to rounding (tests check both).
- `unstructured`: weight-level masks, per weight matrix as many weights as the matrix keeps
  in the level's local node mask (`masks.weight_counts`; biases are all kept), drawn uniformly
  (`masks.sample_weights`), scored (`scoring.weight_scorer`) and trained (`train_stack(
  weight_masks=...)`) at full size with the weights multiplied by their masks. An unstructured
  network does not compact: the tables give its nonzero parameters and its dense kernels' FLOPs.
The random control and every comparator of a run use the run's structure.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import allocation, inits, masks, models, scoring
from .allocation import STRUCTURES, total
from .models import Arch



class Local:
    """The paper's structure: exact-count node masks with every layer at the level's fraction,
    stored as kept node indices, scored by gathering the parent's first layer and trained as
    compacted networks stacked by shape. The other structures change one part each. `init`:
    how a candidate inherits the parent's weights (weedout.core.inits), in scoring and in
    `rescale` for training."""
    name = "local"
    dense_cost = False  # a scored candidate costs its compacted forward pass

    def __init__(self, init: str = "inherited"):
        self.init = init

    def kept(self, arch: Arch, s: float) -> tuple[int, ...] | None:
        """The kept widths of every mask of a level; None: the local widths, through the
        paper's own path (`masks.sample` computes them)."""
        return None

    def nodes_total(self, arch: Arch, s: float) -> int | None:
        """A single node budget for the whole network (global masks), else None (per layer)."""
        return None

    def sampler(self, arch: Arch, s: float, generator):
        """sample(n): n masks of level s, drawn with `generator`."""
        kept = self.kept(arch, s)
        return lambda n: masks.sample(arch.widths, s, n, generator, kept)

    def scorer(self, arch: Arch, parent, x, y, kind: str):
        return scoring.scorer(arch, parent, x, y, kind=kind, init=self.init)

    def full(self, arch: Arch):
        """The mask that keeps everything, in the form `scorer` takes."""
        return masks.full(arch.widths)

    def store(self, mask):
        """A mask as a trial record keeps it (JSON)."""
        return masks.to_lists(mask)

    def load(self, stored, arch: Arch):
        return masks.from_lists(stored)

    def prepare(self, arch: Arch, parents: list, index, keeps: list) -> Prepared:
        """The networks of one level (`keeps`: one mask each, None for the dense parent) ready
        for `train_stack`: compacted and stacked, each from its parent (`index`)."""
        keep = masks.cat([k if k is not None else masks.full(arch.widths) for k in keeps])
        carch, params = models.compact(arch, parents, keep, index)
        return Prepared(carch, params, [carch.widths] * len(keeps), keep=keep)

    def rescale(self, arch: Arch, prepared: Prepared, rows) -> None:
        """In place: the networks `rows` of a prepared level with every kept unit's incoming
        weights scaled to its kept fan-in (`weedout.core.inits`)."""
        inits.rescale(prepared.params, inits.node_factors(arch.widths, prepared.arch.widths), rows)


class NonUniform(Local):
    """The local total of kept nodes spread by a density vector (`kept`: `allocate`)."""
    name = "nonuniform"

    def __init__(self, density: tuple[float, ...] = (), init: str = "inherited",
                 equal_to: str = "nodes"):
        super().__init__(init)
        self.density, self.equal_to = tuple(density), equal_to

    def kept(self, arch: Arch, s: float) -> tuple[int, ...]:
        return allocation.kept(arch, s, "nonuniform", self.density, self.equal_to)


class Global(Local):
    """One node budget for the network: masks of mixed shapes, drawn and scored as 0/1 node
    gates of the full parent, stored as kept indices, trained at full size with their gates."""
    name = "global"

    def nodes_total(self, arch: Arch, s: float) -> int:
        return total(arch, s)

    def sampler(self, arch: Arch, s: float, generator):
        budget = total(arch, s)
        return lambda n: masks.sample_global(arch.widths, budget, n, generator)

    def scorer(self, arch: Arch, parent, x, y, kind: str):
        return scoring.gated_scorer(arch, parent, x, y, kind=kind, init=self.init)

    def full(self, arch: Arch):
        return masks.to_binary(masks.full(arch.widths), arch.widths)

    def store(self, mask):
        return masks.to_lists(masks.from_gates(mask))

    def prepare(self, arch: Arch, parents: list, index, keeps: list) -> Prepared:
        dev = parents[0].device
        gates = [torch.cat(layer).to(dev) for layer in
                 zip(*[masks.to_binary(k, arch.widths) for k in keeps])]
        widths = [tuple(layer.shape[1] for layer in k) for k in keeps]
        return Prepared(arch, [p[index] for p in parents], widths, gates=gates)

    def rescale(self, arch: Arch, prepared: Prepared, rows) -> None:
        inits.rescale(prepared.params, inits.gate_factors(arch.widths, prepared.gates), rows)


class Unstructured(Local):
    """Weight masks: per weight matrix the weights the level's local node mask keeps there,
    drawn uniformly, stored as packed bits, scored and trained at full size with the weights
    multiplied by their masks (a scored candidate costs the full parent's pass)."""
    name = "unstructured"
    dense_cost = True

    def __init__(self, init: str = "inherited", rule: str = "local"):
        super().__init__(init)
        self.rule = rule  # "local": each matrix keeps what the local node mask keeps there

    def counts(self, arch: Arch, s: float) -> list[int]:
        """Weights each matrix keeps: as in the level's local node mask, or spread by ERK."""
        if self.rule == "erk":
            return allocation.erk_weight_counts(arch, s)
        return masks.weight_counts(arch, s)

    def sampler(self, arch: Arch, s: float, generator):
        shapes, counts = masks.weight_shapes(arch), self.counts(arch, s)
        return lambda n: masks.sample_weights(shapes, counts, n, generator)

    def scorer(self, arch: Arch, parent, x, y, kind: str):
        return scoring.weight_scorer(arch, parent, x, y, kind=kind, init=self.init)

    def full(self, arch: Arch):
        return [torch.ones(1, *shape) for shape in masks.weight_shapes(arch)]

    def store(self, mask):
        return masks.pack(mask)

    def load(self, stored, arch: Arch):
        return masks.unpack(stored, masks.weight_shapes(arch))

    def prepare(self, arch: Arch, parents: list, index, keeps: list) -> Prepared:
        dev = parents[0].device
        weights = [torch.cat(layer).to(dev) for layer in zip(*keeps)]
        return Prepared(arch, [p[index] for p in parents], [arch.widths] * len(keeps),
                        weight_masks=weights)

    def rescale(self, arch: Arch, prepared: Prepared, rows) -> None:
        inits.rescale(prepared.params, inits.weight_factors(prepared.weight_masks), rows)


@dataclass
class Prepared:
    """A level's networks as `train_stack` takes them: the architecture they run at, their
    stacked parameters, each network's own kept widths, and its gates or weight masks (full-size
    networks), or the compacted masks (`keep`) the networks were cut with."""
    arch: Arch
    params: list
    widths: list
    gates: list | None = None
    weight_masks: list | None = None
    keep: list | None = None


def make(name: str = "local", density: tuple[float, ...] = (), init: str = "inherited",
         equal_to: str = "nodes", weight_rule: str = "local") -> Local:
    """The structure called `name` (one of STRUCTURES), its candidates inheriting the parent's
    weights by `init` (one of weedout.core.inits.INITS); a non-uniform one equal to the local
    mask in `equal_to`, a weight mask spread by `weight_rule` (weedout.core.allocation)."""
    if name == "nonuniform":
        return NonUniform(density, init, equal_to)
    if name == "unstructured":
        return Unstructured(init, weight_rule)
    kinds = {"local": Local, "global": Global}
    if name not in kinds:
        raise ValueError(f"structure={name!r} is not allowed: one of {list(STRUCTURES)}")
    return kinds[name](init)


LOCAL = Local()
