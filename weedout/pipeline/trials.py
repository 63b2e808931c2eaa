"""Plan and execute: which trials a config needs, which are missing, and the worker loop that
computes them under per-trial claims (`weedout.claims`), in any order, by any number of workers.

A trial is `(dataset, model, sparsity, seed)`; sparsity None is the dense parent (training only).
- search trial: the masks of one seed at one sparsity (weedout's, random's, comparators');
- training trial: the networks of one seed at one level (dense; or weedout, random, comparators
  and controls), one record each, so adding a seed trains only that seed's networks.
Workers still stack: the trials of one group (search: a seed's levels; training: a level's seeds)
that a worker could claim are computed together, and each is saved as its own record.

Every computed trial also appends one line (key, pid, host, Slurm job) to
`trials/<digest>/<phase>.log`: the evidence that no trial was computed twice.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import Callable, Iterable

from .. import config
from .claims import Claims, holder, slurm_job
from .records import Store, sparsity_key

Trial = tuple  # (dataset, model, sparsity | None, seed)
PHASES = ("search", "train")
POLL = 0.5  # seconds between looks at trials another worker is computing


def key(trial: Trial) -> str:
    ds, model, s, seed = trial
    return f"{ds}-{model}-{'dense' if s is None else sparsity_key(s)}-seed{seed}"


def plan(cfg, phase: str) -> list[Trial]:
    """Every trial of a phase that the config needs, in the order the tables list them."""
    levels = cfg.sparsities if phase == "search" else (None, *cfg.sparsities)
    return [(ds, m, s, seed) for ds, m in config.cells(cfg) for s in levels for seed in cfg.seeds]


def missing(store: Store, phase: str, trials: Iterable[Trial]) -> list[Trial]:
    return [t for t in trials if store.load(phase, key(t)) is None]


def group_of(phase: str, trial: Trial) -> tuple:
    """What one worker computes together: search, one seed's parent at every level; training,
    one level's networks of every seed (one stacked model)."""
    ds, model, s, seed = trial
    return (ds, model, seed) if phase == "search" else (ds, model, s)


def groups(phase: str, trials: Iterable[Trial]) -> list[list[Trial]]:
    out: dict[tuple, list] = {}
    for t in trials:
        out.setdefault(group_of(phase, t), []).append(t)
    return list(out.values())


def _log(store: Store, phase: str, trial: Trial) -> None:
    """One line per computed trial, appended (O_APPEND: whole lines from concurrent workers)."""
    line = json.dumps({"key": key(trial), "pid": os.getpid(), "host": socket.gethostname(),
                       "job": slurm_job(), "time": time.time()}) + "\n"
    store.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(store.root / f"{phase}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def computed_log(store: Store, phase: str) -> list[dict]:
    """Every line of a phase's log: which trial was computed by whom."""
    try:
        return [json.loads(line) for line in (store.root / f"{phase}.log").read_text().splitlines()
                if line.strip()]
    except FileNotFoundError:
        return []


Compute = Callable[[list, Callable[[Trial, dict], None]], None]


def _tell_waits(phase: str, waiting: list[Trial], told: set, claims: Claims) -> None:
    """Say once per trial who holds it, so a wait is never a mystery. A claim released since
    (the trial done, or given up) says nothing: the next pass loads or takes it."""
    for t in waiting:
        info = None if key(t) in told else holder(claims.path(key(t)))
        if info is None:
            continue
        told.add(key(t))
        who = (f"pid {info['pid']} on {info.get('host')}" if "pid" in info
               else "another worker (its claim is still being written)")
        print(f"weedout: {phase} trial {key(t)} is being computed by {who}: waiting for it",
              file=sys.stderr)


def execute(store: Store, phase: str, todo: list[Trial], compute: Compute) -> int:
    """Compute every trial of `todo` that has no record, claiming each first; wait for those
    another live worker holds (take them over if it dies). `compute(trials, save)` computes a
    group's trials and calls `save(trial, payload)` for each as soon as it is done. Returns the
    number of trials this worker computed."""
    claims = Claims(store.root / "claims" / phase)
    computed, told = 0, set()

    def save(trial: Trial, payload: dict) -> None:
        nonlocal computed
        store.save(phase, key(trial), payload)
        _log(store, phase, trial)
        claims.release(key(trial))
        computed += 1

    pending = list(todo)
    try:
        while pending:
            waiting = []
            for group in groups(phase, pending):
                mine = []
                for t in group:
                    if store.load(phase, key(t)) is not None:
                        continue
                    if not claims.take(key(t)):
                        waiting.append(t)
                        continue
                    if store.load(phase, key(t)) is not None:  # saved between look and claim
                        claims.release(key(t))
                        continue
                    mine.append(t)
                if mine:
                    try:
                        compute(mine, save)
                    finally:
                        for t in mine:
                            claims.release(key(t))
            _tell_waits(phase, waiting, told, claims)
            if waiting:
                time.sleep(POLL)
            pending = waiting
    finally:
        claims.release_all()
    return computed
