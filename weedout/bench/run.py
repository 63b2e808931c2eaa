"""Side-by-side benchmark, `python -m weedout.bench`: one small grid run each way in one run,
by the naive reference (weedout.core.reference: one network at a time, a DataLoader, masks
multiplied in, one forward per candidate), by the engine with the training step it had before
issue 20 (`baseline`), by the engine of today (batched scorer, stacked `train_stack`, physical
compaction) and, on a CPU with two or more threads, by today's engine on worker processes that
share the threads (`workers`, as `--executor local` runs; `weedout.bench.workers`); checks that
the naive reference and the engine agree (exit 1 if not) and that the baseline, the engine and
the workers agree bit for bit (float32), and prints per-phase wall times, their ratios, peak
memory, and the engine's efficiency: its achieved FLOP/s as a fraction of the
machine's own rate for the same matmuls and convolutions, measured in the same run
(`weedout.bench.rates`). All use the experiment's own parents, scoring batches, masks and data orders
(`core.seeds.parent_params`, `scoring_batch`, the same `derive_seed` tags).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import torch

from .. import config, data
from ..config import paths
from ..core import models
from ..pipeline import provenance
from . import ways as bench_ways, workers as bench_workers
from .meters import Peak, hardware, latency_ms, load
from .ways import WAYS


def compaction(cfg, arch, dset, final_n, final_e) -> list[dict]:
    """Seed 0's trained weedout networks: the naive, masked dense-size one vs the engine's,
    materialized as a small nn.Sequential (max |dlogit|: their outputs' largest difference)."""
    x = dset.x_test[:256]
    dp, df = models.count(arch)
    rows = []
    for s in cfg.sparsities[:3]:
        masked = final_n[s, "weedout", cfg.seeds[0]][2].eval()
        carch, p = final_e[s, "weedout", cfg.seeds[0]][2]
        small = models.materialize(carch, p).eval()
        cp, cf = models.count(carch)
        assert sum(q.numel() for q in small.parameters()) == cp
        with torch.inference_mode():
            dlogit = float((masked(x) - small(x)).abs().max())
        rows.append({"sparsity": s, "params_masked": dp, "params_compact": cp, "flops_masked": df,
                     "flops_compact": cf, "ms_masked": latency_ms(masked, x),
                     "ms_compact": latency_ms(small, x), "max_dlogit": dlogit})
    return rows


def _compaction_text(rows: list[dict]) -> str:
    lines = [f"{'sparsity':>8} {'params':>16} {'FLOPs/example':>20} {'ms/batch of 256':>24} {'max':>12}",
             f"{'':>8} {'masked':>8}{'compact':>8} {'masked':>10}{'compact':>10} "
             f"{'masked':>12}{'compact':>12} {'|dlogit|':>12}"]
    lines += [f"{r['sparsity']:>8g} {r['params_masked']:>8d}{r['params_compact']:>8d} "
              f"{r['flops_masked']:>10d}{r['flops_compact']:>10d} {r['ms_masked']:>12.3f}"
              f"{r['ms_compact']:>12.3f} {r['max_dlogit']:>12.1e}" for r in rows]
    return "\n".join(lines)


def default_preset(dataset: str) -> str:
    """The preset whose parents a dataset is benchmarked with: the first that runs it."""
    return next((name for name in ("cpu", "fashion", "paper") if dataset in config.PRESETS[name].datasets),
                "cpu")


def default_json(a, dev: str) -> Path:
    """build/bench/<device>-<dataset>-<model>[-float64][-bfloat16].json. The files the README
    cites live in results/bench/ and are written there only when --json names them."""
    name = (f"{dev}-{a.dataset}-{a.model}" + ("-float64" if a.float64 else "")
            + ("-bfloat16" if a.precision == "bfloat16" else ""))
    return paths.home() / "build" / "bench" / f"{name}.json"


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m weedout.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=config.DEVICES, default="auto")
    p.add_argument("--dataset", choices=tuple(data.DATASETS), default="digits")
    p.add_argument("--model", choices=data.MODELS, default="mlp")
    p.add_argument("--preset", default=None, help="whose parent widths and training settings to "
                   "use (default: the first of cpu, fashion, paper that runs the dataset)")
    p.add_argument("--seeds", type=int, default=4, help="seeds 0..n-1")
    p.add_argument("--candidates", type=int, default=100)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.5, 0.75, 0.9])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--workers", type=int, default=None, help="also run the engine's grid on this "
                   "many processes sharing the threads, as --executor local does (default on a "
                   "CPU: one per thread when there are two or more; 1 or 0: not run)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--json", default=None, help="where to save timings and agreement (default: "
                   "build/bench/<device>-<dataset>-<model>.json; 'none' to skip). The README's "
                   "table reads results/bench/*.json: name a file there to add or replace a row")
    p.add_argument("--train-subset", type=int, default=None, metavar="N",
                   help="train on the first N training examples only: a quick check that the "
                        "benchmark runs (the GPU script's dry run), not a measurement")
    p.add_argument("--float64", action="store_true", help="every way in double precision, with "
                   "tight agreement tolerances (a correctness check; timings are not the point)")
    p.add_argument("--precision", default="float32", help="the engine's training precision, "
                   "float32 or bfloat16 (PRECISION; refused where the hardware has no bfloat16 "
                   "units); the naive reference and the baseline train in float32")
    return p.parse_args(argv)


def _setup(a):
    """(cfg, device, dataset, arch); ValueError/FileNotFoundError for a bad value, before work."""
    cfg = config.resolve(a.preset, DATASETS=[a.dataset], MODELS=[a.model], SEEDS=a.seeds,
                         SPARSITIES=a.sparsities, CANDIDATES=a.candidates, EPOCHS=a.epochs,
                         DEVICE=a.device, DATA_ROOT=a.data_root, PRECISION=a.precision)
    data.ensure_available(a.dataset, cfg.data_path)
    if a.train_subset is not None and a.train_subset < 1:
        raise ValueError(f"--train-subset={a.train_subset} is not allowed: a positive count")
    if a.workers is not None and a.workers < 0:
        raise ValueError(f"--workers={a.workers} is not allowed: a count, 0 or 1 to leave it out")
    if a.float64 and cfg.precision != "float32":
        raise ValueError("--float64 with --precision bfloat16 is not allowed: one or the other")
    dev = config.device_of(cfg)
    provenance.configure_torch(dev)
    dset = data.load_dataset(a.dataset, cfg.data_path, device=dev)
    if a.train_subset is not None:
        dset = dataclasses.replace(dset, x_train=dset.x_train[:a.train_subset],
                                   y_train=dset.y_train[:a.train_subset])
    if a.float64:
        dset = dataclasses.replace(dset, x_train=dset.x_train.double(), x_test=dset.x_test.double())
    arch = models.arch_for(a.model, dset.in_shape, dset.n_classes, cfg.mlp_widths, cfg.cnn_channels)
    return cfg, dev, dset, arch


def _ways(a, dev: str, threads: int) -> dict:
    """WAYS, and "workers" (the grid on worker processes) where asked or by default on a CPU
    with two or more threads: as many workers as threads, one thread each."""
    n = a.workers if a.workers is not None else (threads if dev == "cpu" else 0)
    if n <= 1:
        return dict(WAYS)
    if dev != "cpu" or n > threads:
        raise ValueError(f"--workers={n} is not allowed here: at most --threads ({threads}) "
                         "worker processes, on a CPU (one GPU is one device)")
    return {**WAYS, "workers": bench_workers.way(n, threads // n)}


def _measure(cfg, arch, dset, dev, ways: dict) -> tuple[dict, dict, dict]:
    """Every way on a one-seed warm-up grid (untimed: allocator, kernels, lazy imports, the
    workers' start), then on the grid: (times, peak memory, results) per way (peak memory: of
    the ways run in this process, so not of the workers)."""
    warm = dataclasses.replace(cfg, seeds=cfg.seeds[:1], sparsities=cfg.sparsities[:1],
                               candidates=4, epochs=1)
    for fn in ways.values():
        fn(warm, arch, dset, dev)
    peaks, times, results = {}, {}, {}
    for name, fn in ways.items():
        peak = Peak(dev)
        times[name], *results[name] = fn(cfg, arch, dset, dev)
        if name != "workers":  # Peak reads this process; the workers' memory is their own
            peaks[name] = peak.read()
        for clock in ("", " cpu"):
            t = times[name]
            t["end to end" + clock] = t["search" + clock] + t["training" + clock]
    return times, peaks, results


def _print_times(times: dict, peaks: dict, dev: str) -> None:
    w = "workers" in times
    print(f"\n{'phase (clock)':<18}{'naive s':>10}{'baseline s':>12}{'engine s':>10}"
          + (f"{'workers s':>11}" if w else "") + f"{'naive/engine':>14}{'baseline/engine':>17}"
          + (f"{'engine/workers':>16}" if w else ""))
    for ph, n in sorted(times["naive"].items(), key=lambda kv: kv[0].endswith("cpu")):
        b, e = times["baseline"][ph], times["engine"][ph]
        label = ph[:-4] + " (CPU)" if ph.endswith(" cpu") else ph + " (wall)"
        k = times["workers"][ph] if w else None
        print(f"{label:<18}{n:>10.2f}{b:>12.2f}{e:>10.2f}" + (f"{k:>11.2f}" if w else "")
              + f"{n / e:>13.1f}x{b / e:>16.2f}x" + (f"{e / k:>15.2f}x" if w else ""))
    print(f"peak host memory ({Peak.how}): " + ", ".join(
        f"{k} {h:.0f} MiB (+{d:.0f} over its start)" for k, (h, d, _) in peaks.items())
        + ("; the workers' processes: not measured" if w else ""))
    if dev == "cuda":
        print("peak device memory (torch.cuda.max_memory_allocated): " + ", ".join(
            f"{k} {g:.0f} MiB" for k, (_, _, g) in peaks.items()))


def _print_efficiency(eff: dict) -> None:
    print("\nefficiency: the engine's FLOP/s against the machine's rate for the same matmuls and "
          "convolutions, each timed alone now (weedout.bench.rates)")
    for ph, e in eff.items():
        print(f"  {ph:<18} {e['gflops']:9.2f} GFLOP  engine {e['engine_gflop_per_s']:7.2f} GFLOP/s"
              f"  machine {e['machine_gflop_per_s']:7.2f} GFLOP/s  fraction {e['fraction']:.0%} "
              f"(on the CPU clock {e['fraction_cpu']:.0%})")


def main(argv=None) -> int:
    a = parse(argv)
    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    a.preset = a.preset or default_preset(a.dataset)
    try:  # every bad value (a model that cannot take the data, a missing dataset) before any work
        cfg, dev, dset, arch = _setup(a)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n, S = len(cfg.seeds), len(cfg.sparsities)
    print(f"weedout benchmark: naive reference vs baseline (the engine before issue 20) vs engine "
          f"(vs the engine on worker processes where asked), same grid, one run\n"
          f"{hardware(dev)}\ngrid: {a.dataset} {a.model} "
          f"{'-'.join(map(str, arch.widths))}, sparsities {cfg.sparsities}, {n} seeds, "
          f"{cfg.candidates} candidates, {cfg.epochs} epochs, batch {cfg.batch_size}, training in "
          f"{cfg.precision}: {n * S * cfg.candidates} candidates scored, {n * (1 + 2 * S)} networks "
          "trained")
    threads = torch.get_num_threads()
    try:
        ways = _ways(a, dev, threads)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        times, peaks, results = _measure(cfg, arch, dset, dev, ways)
    finally:
        bench_workers.close()
    tol = bench_ways.tolerances(a.float64, cfg.precision, len(dset.y_test))
    ok, agreement = bench_ways.compare(*results["naive"], *results["engine"], len(dset.y_test), tol)
    identical = bench_ways.same_bits(*results["baseline"], *results["engine"])
    workers_identical = (bench_ways.same_bits(*results["engine"], *results["workers"])
                         if "workers" in results else None)
    _print_times(times, peaks, dev)
    print("\nagreement: " + "\n           ".join(agreement + ["OK" if ok else "DISAGREE"]))
    print(f"baseline = engine, bit for bit: {identical}"
          + ("" if cfg.precision == "float32" else " (the engine trains in bfloat16)"))
    if workers_identical is not None:
        print(f"engine = workers, bit for bit: {workers_identical}")
    eff = None if a.float64 else bench_ways.efficiency(cfg, arch, dset, dev, times)
    if eff:
        _print_efficiency(eff)
    compact = compaction(cfg, arch, dset, results["naive"][1], results["engine"][1])
    print("\ncompaction: the naive run's masked MaskedNet vs the engine run's network materialized "
          "(seed 0, weedout; |dlogit| includes their training drift)\n" + _compaction_text(compact))
    print(f"after the runs: {load()}")
    if a.json != "none":
        out = Path(a.json) if a.json else default_json(a, dev)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "command": " ".join(["python -m weedout.bench", *(sys.argv[1:] if argv is None else argv)]),
            "times": times, "peak_mib": {k: {"host": h, "host_over_start": d, "device": g}
                                         for k, (h, d, g) in peaks.items()},
            "agree": ok, "agreement": agreement, "baseline_identical": identical,
            "workers_identical": workers_identical,
            "efficiency": eff, "compaction": compact, "environment": provenance.environment(dev),
            "load_after": load(), "grid": {**vars(a), "widths": list(arch.widths),
                                            "batch_size": cfg.batch_size, "lr": cfg.lr},
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1) + "\n")
        print(f"saved {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
