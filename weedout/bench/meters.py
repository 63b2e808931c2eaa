"""Clocks and memory meters for the benchmark: wall time with device syncs, peak host and device
memory per run, forward latency, and the machine's load (other processes slow both runs)."""
from __future__ import annotations

import os
import resource
import statistics
import time
from pathlib import Path

import torch

from ..pipeline import provenance


def sync(dev: str) -> None:
    if dev == "cuda":
        torch.cuda.synchronize()


def stamp(dev: str) -> tuple[float, float]:
    """(wall, process CPU) seconds now, after the device's queue drains. CPU time leaves out
    the time other processes held these cores: on a shared machine, with one torch thread, it
    is the fairer clock; wall time is the one that counts on an idle machine or a GPU."""
    sync(dev)
    return time.perf_counter(), time.process_time()


def phases(*stamps: tuple[float, float], names=("search", "training")) -> dict:
    """Wall and CPU seconds between consecutive stamps: {name: wall, name + " cpu": cpu}."""
    out = {}
    for name, a, b in zip(names, stamps, stamps[1:]):
        out[name], out[name + " cpu"] = b[0] - a[0], b[1] - a[1]
    return out


def _status_mib(field: str) -> float:
    lines = Path("/proc/self/status").read_text().splitlines()
    return next(int(l.split()[1]) for l in lines if l.startswith(field + ":")) / 1024


class Peak:
    """Peak host resident set (Linux: VmHWM, reset via /proc/self/clear_refs so each run gets its
    own; else ru_maxrss, which only grows; tracemalloc would miss torch's allocator) and device."""
    how = "VmHWM, reset per run" if os.access("/proc/self/clear_refs", os.W_OK) else "ru_maxrss"

    def __init__(self, dev: str):
        self.dev, self.start = dev, float("nan")
        if self.how.startswith("VmHWM"):
            Path("/proc/self/clear_refs").write_text("5")
            self.start = _status_mib("VmRSS")
        if dev == "cuda":
            torch.cuda.reset_peak_memory_stats()

    def read(self) -> tuple[float, float, float | None]:
        """(host peak, host peak minus the resident set at the start, device peak) in MiB."""
        host = (_status_mib("VmHWM") if self.how.startswith("VmHWM")
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return host, host - self.start, (torch.cuda.max_memory_allocated() / 2**20
                                         if self.dev == "cuda" else None)


@torch.inference_mode()
def latency_ms(net, x, repeats: int = 50) -> float:
    """Median wall time of one forward, after 5 untimed ones."""
    times = []
    for _ in range(repeats + 5):
        sync(x.device.type)
        t = time.perf_counter()
        net(x)
        sync(x.device.type)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times[5:])


def hardware(dev: str) -> str:
    env = provenance.environment(dev)
    return (f"hardware: {env['cpu']}, {env['cpu_count']} cores; torch {env['torch']}, "
            f"{env['torch_threads']} threads; device {env['device']}; {load()}")


def load() -> str:  # other processes on these cores slow both runs (the naive one, more ops, more)
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())
