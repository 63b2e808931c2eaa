"""Where a number came from: the engine version of the numerics, the code's git commit, the
hardware and library versions, and the CUDA settings that make repeated GPU runs identical.

ENGINE_VERSION names *how* numbers are computed. Every trial record carries it; a record of
another version is never reused (results.Store warns, keeps it aside and recomputes), so after
a fix to the numerics `make reproduce` cannot re-emit old numbers. Docs, plotting, statistics
and refactors that leave every trained network bit-identical do not bump it. A test
(tests/test_provenance.py) recomputes a tiny grid and compares it with the fingerprint stored
for this version in tests/data/engine_fingerprint.json: a change to the numbers without a bump
fails there.

History:
  1  the first engine (records without an "engine" field)
  2  2-D CNNs run channels-last (cuDNN/oneDNN sum in another order: rounding-level changes
     for `cnn` only; `mlp` and `cnn1d` are bit-identical to version 1)
"""
from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

import torch

from ..config import paths
from ..core.hardware import cpu_model

ENGINE_VERSION = 2

# Set to 1 (or pass `python -m weedout --fast-cuda`) to let cuDNN/cuBLAS pick their fastest,
# non-deterministic kernels and TF32 tensor cores: faster, but repeated GPU runs then differ in
# the last bits, and TF32 matmuls keep only 10 mantissa bits.
FAST_CUDA_ENV = "WEEDOUT_FAST_CUDA"


def fast_cuda() -> bool:
    return os.environ.get(FAST_CUDA_ENV, "") not in ("", "0")


def configure_torch(device: str) -> str:
    """Make CUDA runs repeatable unless WEEDOUT_FAST_CUDA opts into speed; returns the mode.

    Deterministic mode: deterministic algorithms only (an op without one raises instead of
    silently varying), cuBLAS's fixed workspace (must be set before its first use, which is why
    every stage calls this before touching the device), no TF32 in matmuls or convolutions,
    no cuDNN autotuning. On the CPU torch is already deterministic for our ops: nothing to do.
    """
    if device != "cuda":
        return "cpu"
    if fast_cuda():
        _fp32("tf32")
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark = True
        return "fast"
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    _fp32("ieee")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    return "deterministic"


def _fp32(precision: str) -> None:
    """Float32 matmul/conv precision: 'ieee' (true float32) or 'tf32' (tensor cores)."""
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # torch >= 2.9: the new API
        torch.backends.cuda.matmul.fp32_precision = precision
        if hasattr(torch.backends.cudnn, "conv"):
            torch.backends.cudnn.conv.fp32_precision = precision
    else:
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"


@functools.lru_cache(maxsize=1)
def git_commit() -> dict:
    """The commit of the code (and whether the tree had uncommitted changes); None outside git
    and for an installed package (its folder may sit inside someone else's repository)."""
    if not paths.CLONE:
        return {"commit": None, "dirty": None}
    def git(*args):
        return subprocess.run(["git", "-C", str(paths.ROOT), *args], capture_output=True,
                              text=True, timeout=10)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "weedout")
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def record_stamp() -> dict:
    """What every trial record carries about the code that computed it."""
    return {"engine": ENGINE_VERSION, **git_commit()}


def environment(device: str) -> dict:
    """Hardware and versions for run.json and the benchmark's JSON."""
    env = {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "python": platform.python_version(), "torch": torch.__version__,
           "platform": platform.platform(), "engine": ENGINE_VERSION, "device": "cpu"}
    if device == "cuda":
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        env.update(device=props.name, gpu=props.name,
                   gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                   cuda_mode="fast" if fast_cuda() else "deterministic")
    return env
