"""Who computes the missing trials of a phase: this process (serial, the default), N local
worker processes, or Slurm job arrays submitted with submitit.

Only the config and trial keys travel to a worker (pickled by submitit or multiprocessing), never
tensors: each worker loads its datasets itself and runs `pipeline.stages.execute`, which claims each
trial before computing it (`weedout.claims`), so workers of one run, of two runs, or a serial run
can share one results folder. The reduce step (tables, run.json) is the stages' own, run after.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

from .. import config
from ..pipeline import stages, trials
from ..pipeline.records import Store

EXECUTORS = ("serial", "local", "slurm")


def _bad(name: str, value, allowed: str) -> ValueError:
    return ValueError(f"{name}={value!r} is not allowed: {allowed}")


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    time: int = 60                  # minutes per array task (one group of trials)
    gpus_per_task: int = 0
    cpus_per_task: int = 1
    array_parallelism: int = 256
    extra: dict = field(default_factory=dict)  # more #SBATCH lines, e.g. {"account": "abc"}
    retries: int = 2                # resubmissions of tasks that left trials missing


def check(executor: str, workers: int | None, slurm: SlurmOptions) -> None:
    """Refuse bad executor settings before any work, naming the parameter and what is allowed."""
    if executor not in EXECUTORS:
        raise _bad("--executor", executor, f"one of {list(EXECUTORS)}")
    if workers is not None and executor != "local":
        raise _bad("--workers", workers, f"--workers needs --executor local (the executor here "
                   f"is {executor!r})")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise _bad("--workers", workers, "a whole number >= 1")
    for name, value, low in (("--time", slurm.time, 1), ("--gpus-per-task", slurm.gpus_per_task, 0),
                             ("--cpus-per-task", slurm.cpus_per_task, 1),
                             ("--array-parallelism", slurm.array_parallelism, 1)):
        if not isinstance(value, int) or value < low:
            raise _bad(name, value, f"a whole number >= {low}")
    if executor == "slurm" and shutil.which("sbatch") is None:
        raise _bad("--executor", "slurm", "Slurm's sbatch is not on PATH here; run on a Slurm "
                   "login node, or use --executor serial|local")


def threads_each(workers: int) -> int:
    """Torch threads per local worker: the cores shared out, no oversubscription on CPU."""
    return max(1, (os.cpu_count() or 1) // workers)


def describe(executor: str, workers: int | None, slurm: SlurmOptions) -> dict:
    """Who computes the trials, for run.json: worker count and threads each (local), or the
    Slurm resources asked for."""
    if executor == "local":
        return {"workers": workers or 1, "threads_each": threads_each(workers or 1)}
    if executor == "slurm":
        return {"cpus_per_task": slurm.cpus_per_task, "gpus_per_task": slurm.gpus_per_task,
                "partition": slurm.partition}
    return {}


def work(cfg, phase: str, todo: list, threads: int | None = None) -> int:
    """One worker: the body of every local process and Slurm array task. Returns the number of
    trials it computed. On Slurm, CUDA_VISIBLE_DEVICES (set by Slurm for --gpus-per-task) pins
    it to its GPU; `device` 'auto' then takes that GPU as cuda:0."""
    config.load_plugins()  # WEEDOUT_PLUGINS is inherited: the worker sees the same registry
    import torch

    if threads:
        torch.set_num_threads(threads)
    return stages.execute(cfg, phase, [tuple(t) for t in todo])


def _local_worker(cfg, phase: str, todo: list, gpu: int | None, threads: int) -> None:
    if gpu is not None:  # before the first CUDA call: this process sees one GPU, as cuda:0
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    try:
        work(cfg, phase, todo, threads)
    except KeyboardInterrupt:  # Ctrl-C reaches every worker: the CLI says it in one line
        sys.exit(130)


def run_local(cfg, phase: str, todo: list, workers: int) -> list[str]:
    """N worker processes on this machine, each given every trial in another order (claims split
    the work; the rotation makes them start on different groups). Worker i gets GPU i mod n."""
    import torch
    gpus = torch.cuda.device_count() if config.device_of(cfg) == "cuda" else 0
    groups = trials.groups(phase, todo)
    threads = threads_each(workers)
    ctx = multiprocessing.get_context("spawn")  # no forked torch state (threads, CUDA)
    procs = []
    for i in range(workers):
        mine = [t for g in groups[i % len(groups):] + groups[:i % len(groups)] for t in g]
        procs.append(ctx.Process(target=_local_worker, name=f"weedout-{phase}-{i}",
                                 args=(cfg, phase, mine, i % gpus if gpus else None, threads)))
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return [f"{p.name} exited with code {p.exitcode} (its traceback is on stderr above)"
            for p in procs if p.exitcode != 0]


def _queued(array_id: str) -> int:
    """Tasks of a job array still pending or running (squeue, so no accounting database is
    needed; an array that left the queue is finished, successfully or not)."""
    out = subprocess.run(["squeue", "-h", "-r", "-j", array_id, "-o", "%i"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return 0  # an array that finished long ago is unknown to squeue
    return len([line for line in out.stdout.split() if line.strip()])


def _wait(array_id: str, total: int, desc: str) -> None:
    from tqdm.auto import tqdm
    with tqdm(total=total, desc=desc, leave=False, disable=not sys.stderr.isatty()) as bar:
        while (left := _queued(array_id)) > 0:
            bar.update(total - left - bar.n)
            time.sleep(2)


def run_slurm(cfg, phase: str, todo: list, opts: SlurmOptions) -> list[str]:
    """Submit one array task per group of missing trials, wait, and resubmit the tasks that left
    trials missing (failed, cancelled, preempted past submitit's own requeue) up to
    `opts.retries` times. Returns one line per task that still failed, with its log."""
    import submitit
    store = Store(cfg.results_path, cfg.digest())
    folder = cfg.results_path / "slurm"
    ex = submitit.SlurmExecutor(folder=folder / "%j")
    params = dict(time=opts.time, cpus_per_task=opts.cpus_per_task, job_name=f"weedout-{phase}",
                  array_parallelism=opts.array_parallelism, additional_parameters=opts.extra)
    if opts.partition:
        params["partition"] = opts.partition
    if opts.gpus_per_task:
        params["gpus_per_task"] = opts.gpus_per_task
    ex.update_parameters(**params)
    chunks, failed = trials.groups(phase, todo), []
    for attempt in range(opts.retries + 1):
        if not chunks:
            break
        jobs = ex.map_array(work, [cfg] * len(chunks), [phase] * len(chunks), chunks)
        _wait(jobs[0].job_id.split("_")[0], len(jobs), f"{phase} (try {attempt + 1})")
        left = [(trials.missing(store, phase, c), j) for c, j in zip(chunks, jobs)]
        failed = [(c, j) for c, j in left if c]
        chunks = [c for c, _ in failed]
    return [f"{phase} task {j.job_id} ({', '.join(map(trials.key, c))}): log {j.paths.stderr}"
            for c, j in failed]


def run(executor: str, cfg, phase: str, workers: int | None, slurm: SlurmOptions) -> list[str]:
    """Compute the missing trials of a phase with an executor; returns what still failed."""
    todo = trials.missing(Store(cfg.results_path, cfg.digest()), phase, trials.plan(cfg, phase))
    if not todo:
        return []
    if executor == "slurm":
        return run_slurm(cfg, phase, todo, slurm)
    if executor == "local":
        return run_local(cfg, phase, todo, workers or 1)
    work(cfg, phase, todo)
    return []
