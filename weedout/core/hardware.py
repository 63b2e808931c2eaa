"""What the machine is: the CPU's marketing name and feature flags (AVX-512 BF16, AMX, ...)."""
from __future__ import annotations

import functools
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's marketing name ('AMD EPYC 7B13'), not just the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux: /proc/cpuinfo); empty where they cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()
