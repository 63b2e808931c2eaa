"""The engine's grid computed by worker processes, as `python -m weedout --executor local
--workers N` splits a run: N spawned processes sharing the cores (threads // N torch threads
each), the search one seed per task and the training one cell (a stacked level) per task.

Why a way of its own: on a small CPU the training step is made of small operations, and one
process spreading each of them over all its threads keeps the cores less busy than several
single-thread processes each running whole networks. The networks must not change: the engine
(one process) and the workers are compared bit for bit in the same run.

The pool is started once, before any timing (each worker loads nothing itself: the dataset's
tensors reach it through shared memory), and warmed up by `_measure`'s untimed one-seed grid, as
every other way is; `close()` ends it. A worker's CPU clock is its own process time, summed
over the tasks."""
from __future__ import annotations

import dataclasses
import time

import torch
import torch.multiprocessing as mp

from . import ways
from .meters import stamp

_POOL: dict = {}     # the pool and what it was started with
_STATE: dict = {}    # in a worker: arch, dataset, parents and scoring batches by seed


def _start(arch, dset, threads: int) -> None:
    torch.set_num_threads(threads)
    _STATE.update(arch=arch, dset=dset, grids={})


def _grid(cfg, seed: int):
    """The seed's parent and scoring batch, made once per worker (deterministic from the seed)."""
    key = (cfg.score_batch, seed)
    if key not in _STATE["grids"]:
        parents, batches = ways._grid(dataclasses.replace(cfg, seeds=(seed,)),
                                      _STATE["arch"], _STATE["dset"])
        _STATE["grids"][key] = (parents[seed], batches[seed])
    return _STATE["grids"][key]


def _search(cfg, seed: int) -> tuple[dict, float]:
    t = time.process_time()
    parent, batch = _grid(cfg, seed)
    found = ways.search_seed(cfg, _STATE["arch"], _STATE["dset"], parent, batch, seed)
    return found, time.process_time() - t


def _train(cfg, s: float, nets: list) -> tuple[dict, float]:
    t = time.process_time()
    parents = {seed: _grid(cfg, seed)[0] for _, seed, _ in nets}
    final = ways.train_cell(cfg, _STATE["arch"], _STATE["dset"], parents, s, nets)
    return final, time.process_time() - t


def pool(arch, dset, workers: int, threads: int):
    """The running pool for this grid (started on first use)."""
    key = (workers, threads, id(dset))
    if _POOL.get("key") != key:
        close()
        ctx = mp.get_context("spawn")  # no forked torch state (thread pools)
        _POOL.update(key=key, pool=ctx.Pool(workers, initializer=_start,
                                            initargs=(arch, dset, threads)))
    return _POOL["pool"]


def close() -> None:
    if "pool" in _POOL:
        _POOL.pop("pool").close()
        _POOL.clear()


def way(workers: int, threads: int):
    """A way for `WAYS`: the engine's grid on `workers` processes of `threads` threads each."""
    def run_workers(cfg, arch, dset, dev):
        p = pool(arch, dset, workers, threads)
        t0 = stamp(dev)
        searched = p.starmap(_search, [(cfg, seed) for seed in cfg.seeds], chunksize=1)
        chosen = {k: v for found, _ in searched for k, v in found.items()}
        t1 = stamp(dev)
        # largest cells first (the dense one leads `_cells`), so no worker is left with it last
        trained = p.starmap(_train, [(cfg, s, nets) for s, nets in
                                     ways._cells(cfg, chosen, arch, dset)], chunksize=1)
        t2 = stamp(dev)
        times = {"search": t1[0] - t0[0], "training": t2[0] - t1[0],
                 "search cpu": sum(c for _, c in searched),
                 "training cpu": sum(c for _, c in trained)}
        return times, chosen, {k: v for final, _ in trained for k, v in final.items()}
    return run_workers
