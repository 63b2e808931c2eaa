"""Derived seeds: every random stream of a run (parent init, candidate masks, the random
control, scoring batch, data order) from its own tags, never from a shared global stream."""
from __future__ import annotations

import hashlib


def derive_seed(*tags) -> int:
    """A 63-bit seed from any tags (seed, phase, dataset, ...): independent streams per purpose,
    identical on every machine, unaffected by the order in which trials run."""
    blob = "/".join(map(str, tags)).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") >> 1
