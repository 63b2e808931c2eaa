"""Derived seeds: every random stream of a run (parent init, candidate masks, the random
control, scoring batch, data order) from its own tags, never from a shared global stream;
and the two things a seed fixes before any search: its parent and its scoring batch."""
from __future__ import annotations

import hashlib

import torch

from .models import init_parent


def derive_seed(*tags) -> int:
    """A 63-bit seed from any tags (seed, phase, dataset, ...): independent streams per purpose,
    identical on every machine, unaffected by the order in which trials run."""
    blob = "/".join(map(str, tags)).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") >> 1


def parent_params(arch, ds: str, model: str, seed: int, device) -> list:
    """The parent of a seed: its initial weights (PyTorch's default init, drawn from the seed's
    own stream), shared by the dense, weedout, random and every other network of that seed."""
    return [p.to(device) for p in init_parent(arch, derive_seed(seed, "parent", ds, model))]


def scoring_batch(dset, seed: int, size: int):
    """The fixed scoring batch of a seed: `size` training examples, drawn once."""
    g = torch.Generator().manual_seed(derive_seed(seed, "score-batch", dset.name))
    idx = torch.randperm(dset.x_train.shape[0], generator=g)[:size].to(dset.x_train.device)
    return dset.x_train[idx], dset.y_train[idx]
