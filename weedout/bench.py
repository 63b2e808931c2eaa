"""Side-by-side benchmark, `python -m weedout.bench`: one small grid run twice in one process,
by the naive reference (weedout.reference: one network at a time, a DataLoader, masks multiplied
in, one forward per candidate) and by the engine (batched scorer, stacked `train_stack`, physical
compaction); checks both give the same results (exit 1 if not) and prints per-phase wall times,
their ratio and peak memory. Both use the experiment's own parents, scoring batches, masks and
data orders (`cells.parent_params`, `scoring_batch`, the same `derive_seed` tags).
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

from . import config, data
from .config import paths
from .core import masks, models, reference, scoring, search
from .core.seeds import derive_seed
from .core.train import Schedule, train_stack
from .meters import Peak, hardware, latency_ms, load, sync
from .pipeline import provenance
from .pipeline.workers import parent_params, scoring_batch

# Agreement tolerances. Scores: the same float32 forward with another reduction order (bmm of
# a compacted net vs mm of a masked dense one), ~1e-6 apart. Training: SGD amplifies those
# rounding differences step by step (~2e-5 on a loss after the default 115 steps; more epochs,
# more drift), and an accuracy may move by an example or two.
SCORE_TOL = 1e-4
LOSS_TOL = 2e-3
# --float64 runs both ways in double precision: the same rounding drift is ~1e-12, so any
# difference beyond these is a real disagreement, not float32 noise amplified by SGD.
TOL64 = {"score": 1e-9, "loss": 1e-7, "examples": 0}


def _grid(cfg, arch, dset):
    parents = {seed: [p.to(dset.x_train.dtype) for p in
                      parent_params(arch, dset.name, arch.kind, seed, dset.x_train.device)]
               for seed in cfg.seeds}
    return parents, {seed: scoring_batch(cfg, dset, seed) for seed in cfg.seeds}


def _draw(arch, dset, seed, s, purpose: str):
    """Mask sampler for one (seed, sparsity), seeded as experiment.run_search seeds it."""
    g = torch.Generator().manual_seed(derive_seed(seed, purpose, dset.name, arch.kind, s))
    return lambda n: masks.sample(arch.widths, s, n, g)


def _cells(cfg, chosen, arch, dset):
    """(sparsity, [(method, seed, keep)]) per training cell, dense first, as cells.py does."""
    out = [(0.0, [("dense", seed, None) for seed in cfg.seeds])]
    for s in cfg.sparsities:
        out.append((s, [net for seed in cfg.seeds for net in (
            ("weedout", seed, chosen[s, seed][0]), ("random", seed, _draw(arch, dset, seed, s, "random")(1)))]))
    return out


def run_naive(cfg, arch, dset, dev):
    parents, batches = _grid(cfg, arch, dset)
    sched = Schedule(cfg.epochs, cfg.batch_size, cfg.lr, cfg.momentum, cfg.weight_decay)
    t0, chosen = time.perf_counter(), {}
    for seed in cfg.seeds:
        for s in cfg.sparsities:
            keep = _draw(arch, dset, seed, s, "search")(cfg.candidates)
            scores = reference.score_one_by_one(arch, parents[seed], keep, *batches[seed], cfg.score)
            best = int(torch.argmin(scores))
            chosen[s, seed] = (masks.select(keep, best), best, scores)
    sync(dev)
    t1, final = time.perf_counter(), {}
    for s, nets in _cells(cfg, chosen, arch, dset):
        for method, seed, keep in nets:
            h = reference.train_one(arch, parents[seed], keep, dset, seed, sched)
            final[s, method, seed] = (float(h["test_acc"][-1, 0]), float(h["test_loss"][-1, 0]), h["net"])
    sync(dev)
    return {"search": t1 - t0, "training": time.perf_counter() - t1}, chosen, final


def run_engine(cfg, arch, dset, dev):
    parents, batches = _grid(cfg, arch, dset)
    sched = Schedule(cfg.epochs, cfg.batch_size, cfg.lr, cfg.momentum, cfg.weight_decay)
    t0, chosen = time.perf_counter(), {}
    for seed in cfg.seeds:
        score = scoring.scorer(arch, parents[seed], *batches[seed], kind=cfg.score)
        for s in cfg.sparsities:
            found = search.random_search(_draw(arch, dset, seed, s, "search"), score, cfg.candidates)
            chosen[s, seed] = (found.best, found.best_index, torch.tensor(found.scores, dtype=torch.float64))
    sync(dev)
    t1, final = time.perf_counter(), {}
    for s, nets in _cells(cfg, chosen, arch, dset):
        seeds = [seed for _, seed, _ in nets]
        unique = sorted(set(seeds))
        keep = masks.cat([k if k is not None else masks.full(arch.widths) for _, _, k in nets])
        carch, params = models.compact(arch, models.stack([parents[sd] for sd in unique]), keep,
                                       torch.tensor([unique.index(sd) for sd in seeds]))
        h = train_stack(carch, params, dset, seeds, sched)
        for m, (method, seed, _) in enumerate(nets):
            final[s, method, seed] = (float(h["test_acc"][-1, m]), float(h["test_loss"][-1, m]),
                                      (carch, [p[m] for p in h["params"]]))
    sync(dev)
    return {"search": t1 - t0, "training": time.perf_counter() - t1}, chosen, final


def compare(chosen_n, final_n, chosen_e, final_e, n_test: int,
            float64: bool = False) -> tuple[bool, list[str]]:
    tol = TOL64 if float64 else {"score": SCORE_TOL, "loss": LOSS_TOL, "examples": 2}
    same = sum(chosen_n[k][1] == chosen_e[k][1] for k in chosen_n)
    dscore = max(float((chosen_n[k][2] - chosen_e[k][2]).abs().max()) for k in chosen_n)
    dacc = max(abs(final_n[k][0] - final_e[k][0]) for k in final_n)
    dloss = max(abs(final_n[k][1] - final_e[k][1]) for k in final_n)
    ok = (same == len(chosen_n) and dscore <= tol["score"] and dloss <= tol["loss"]
          and dacc <= tol["examples"] / n_test + 1e-12)
    return ok, [f"chosen masks identical {same}/{len(chosen_n)}; max |score diff| {dscore:.1e} "
                f"(tolerance {tol['score']:g})", f"final test accuracy: max |diff| "
                f"{round(dacc * n_test)} of {n_test} examples (tolerance {tol['examples']}); "
                f"final test loss: max |diff| {dloss:.1e} (tolerance {tol['loss']:g})"]


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
    """results/bench/<device>-<dataset>-<model>[-float64].json: the files the README cites."""
    name = f"{dev}-{a.dataset}-{a.model}" + ("-float64" if a.float64 else "")
    return paths.ROOT / "results" / "bench" / f"{name}.json"


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
    p.add_argument("--data-root", default=None)
    p.add_argument("--json", default=None, help="where to save timings and agreement (default: "
                   "results/bench/<device>-<dataset>-<model>.json; 'none' to skip)")
    p.add_argument("--train-subset", type=int, default=None, metavar="N",
                   help="train on the first N training examples only: a quick check that the "
                        "benchmark runs (the GPU script's dry run), not a measurement")
    p.add_argument("--float64", action="store_true", help="both ways in double precision, with "
                   "tight agreement tolerances (a correctness check; timings are not the point)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse(argv)
    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    a.preset = a.preset or default_preset(a.dataset)
    try:  # every bad value (a model that cannot take the data, a missing dataset) before any work
        cfg = config.resolve(a.preset, DATASETS=[a.dataset], MODELS=[a.model], SEEDS=a.seeds,
                             SPARSITIES=a.sparsities, CANDIDATES=a.candidates, EPOCHS=a.epochs,
                             DEVICE=a.device, DATA_ROOT=a.data_root)
        data.ensure_available(a.dataset, cfg.data_path)
        if a.train_subset is not None and a.train_subset < 1:
            raise ValueError(f"--train-subset={a.train_subset} is not allowed: a positive count")
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dev = config.device_of(cfg)
    provenance.configure_torch(dev)
    dset = data.load_dataset(a.dataset, cfg.data_path, device=dev)
    if a.train_subset is not None:
        dset = dataclasses.replace(dset, x_train=dset.x_train[:a.train_subset],
                                   y_train=dset.y_train[:a.train_subset])
    if a.float64:
        dset = dataclasses.replace(dset, x_train=dset.x_train.double(), x_test=dset.x_test.double())
    arch = models.arch_for(a.model, dset.in_shape, dset.n_classes, cfg.mlp_widths, cfg.cnn_channels)
    n, S = len(cfg.seeds), len(cfg.sparsities)
    print(f"weedout benchmark: naive reference vs engine, same grid, one process\n{hardware(dev)}\n"
          f"grid: {a.dataset} {a.model} {'-'.join(map(str, arch.widths))}, sparsities {cfg.sparsities}, "
          f"{n} seeds, {cfg.candidates} candidates, {cfg.epochs} epochs, batch {cfg.batch_size}: "
          f"{n * S * cfg.candidates} candidates scored, {n * (1 + 2 * S)} networks trained")
    warm = dataclasses.replace(cfg, seeds=cfg.seeds[:1], sparsities=cfg.sparsities[:1], candidates=4, epochs=1)
    run_naive(warm, arch, dset, dev)  # warm-up: allocator, kernels, lazy imports; not timed
    run_engine(warm, arch, dset, dev)
    peaks, times, results = {}, {}, {}
    for name, fn in (("naive", run_naive), ("engine", run_engine)):
        peak = Peak(dev)
        times[name], *results[name] = fn(cfg, arch, dset, dev)
        peaks[name] = peak.read()
    ok, agreement = compare(*results["naive"], *results["engine"], len(dset.y_test), a.float64)
    print(f"\n{'phase':<12}{'naive s':>10}{'engine s':>10}{'ratio':>8}")
    for t in times.values():
        t["end to end"] = t["search"] + t["training"]
    for ph, n in times["naive"].items():
        print(f"{ph:<12}{n:>10.2f}{times['engine'][ph]:>10.2f}{n / times['engine'][ph]:>7.1f}x")
    (hn, dn, gn), (he, de, ge) = peaks["naive"], peaks["engine"]
    print(f"peak host memory ({Peak.how}): naive {hn:.0f} MiB (+{dn:.0f} over its start), "
          f"engine {he:.0f} MiB (+{de:.0f})")
    if dev == "cuda":
        print(f"peak device memory (torch.cuda.max_memory_allocated): naive {gn:.0f} MiB, engine {ge:.0f} MiB")
    print("\nagreement: " + "\n           ".join(agreement + ["OK" if ok else "DISAGREE"]))
    compact = compaction(cfg, arch, dset, results["naive"][1], results["engine"][1])
    print("\ncompaction: the naive run's masked MaskedNet vs the engine run's network materialized "
          "(seed 0, weedout; |dlogit| includes their training drift)\n" + _compaction_text(compact))
    print(f"after the runs: {load()}")
    if a.json != "none":
        out = Path(a.json) if a.json else default_json(a, dev)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "command": " ".join(["python -m weedout.bench", *(sys.argv[1:] if argv is None else argv)]),
            "times": times, "peak_mib": dict(zip(peaks, ({"host": h, "host_over_start": d, "device": g}
                                                         for h, d, g in peaks.values()))),
            "agree": ok, "agreement": agreement, "compaction": compact,
            "environment": provenance.environment(dev),
            "load_after": load(), "grid": {**vars(a), "widths": list(arch.widths),
                                            "batch_size": cfg.batch_size, "lr": cfg.lr},
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1) + "\n")
        print(f"saved {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
