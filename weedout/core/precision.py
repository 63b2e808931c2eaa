"""PRECISION: the arithmetic of training, float32 (the default: every committed number) or
bfloat16 (mixed precision where the hardware has bfloat16 units).

bfloat16 trains under `torch.autocast`: matmuls and convolutions of the forward pass (and so of
its backward) run in bfloat16, while the master weights, the SGD step and its momentum, the
loss and every metric stay float32. Scoring a mask stays float32 in both precisions, so a run
in either precision chooses the same masks and the two differ by their training alone.

Allowed where bfloat16 has native units: CUDA devices that report bfloat16 support, and CPUs
with AVX-512 BF16 or AMX (`/proc/cpuinfo` flags). Elsewhere torch would emulate it, slower than
float32, so the setting is refused before any work (`check`).
"""
from __future__ import annotations

import contextlib

import torch

from .hardware import cpu_flags, cpu_model

PRECISIONS = ("float32", "bfloat16")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bf16() -> bool:
    return any(f in cpu_flags() for f in BF16_CPU_FLAGS)


def supported(device: str) -> bool:
    """Whether `device` ("cpu" or "cuda") has native bfloat16 arithmetic."""
    if device == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return cpu_bf16()


def why_not(precision: str, device: str) -> str | None:
    """None if `precision` may run on `device`, else what is allowed there and why."""
    if precision == "float32" or supported(device):
        return None
    if device == "cuda":
        where = f"the CUDA device {torch.cuda.get_device_name()} reports no bfloat16 support"
    else:
        where = (f"this CPU ({cpu_model()}) has no bfloat16 units (none of the flags "
                 f"{list(BF16_CPU_FLAGS)} in /proc/cpuinfo), so torch would emulate it slower "
                 "than float32")
    return f"'float32' here: {where}; 'bfloat16' needs AVX-512 BF16 or AMX, or a CUDA device"


def autocast(precision: str, device: str):
    """The context of a forward pass: bfloat16 autocast, or nothing for float32."""
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device, dtype=torch.bfloat16)
