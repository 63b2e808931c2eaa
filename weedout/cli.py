"""`python -m weedout`: run the four notebooks in order with papermill, forwarding parameters.

    python -m weedout                          # the cpu preset, the README's main command
                                               # (the notebooks on their own default to smoke)
    python -m weedout --preset paper --device cuda
    python -m weedout --preset smoke --datasets digits --seeds 3 --sparsities 0.5,0.9
    python -m weedout --preset paper --executor slurm --partition gpu --gpus-per-task 1
    python -m weedout --executor local --workers 4

With an executor other than serial, the missing search trials are computed by the workers first,
then the missing training trials, and then the four notebooks run as usual: 01 and 02 find every
trial done and only write the tables (the reduce step), 03 and 04 are unchanged.

Every parameter is checked (and the datasets looked for) before the first notebook starts, so a
typo fails in a second, not after an hour, and leaves existing results untouched. Executed
notebooks are written to <RESULTS_DIR>/notebooks/.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import interruption
from .cluster import executors
from .config import PARAMETERS, PRESETS, paths
from .pipeline import coverage, lock, provenance, records, run_record, stages, trials

NOTEBOOKS = ("01_search", "02_training", "03_analysis", "04_figures")


def _list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _number(text: str):
    """'0.5' -> 0.5, '3' -> 3; anything else stays a string so validation can name it."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _seeds(text: str):
    """'5' = seeds 0..4; '0,3,7' = those seeds."""
    items = [_number(t) for t in _list(text)]
    return items[0] if len(items) == 1 and "," not in text else items


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m weedout", description=__doc__, allow_abbrev=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu", help=f"one of {list(PRESETS)}. Default: cpu, the "
                   "README's main run (the notebooks opened by hand default to smoke)")
    p.add_argument("--datasets", type=_list, help="comma list, e.g. digits,mnist1d")
    p.add_argument("--models", type=_list, help="comma list of parents, e.g. mlp,cnn1d")
    p.add_argument("--sparsities", type=lambda t: [_number(x) for x in _list(t)],
                   help="comma list of node sparsities in (0, 1); the dense parent "
                   "(level 0) is trained in every run")
    p.add_argument("--widths", type=lambda t: [_number(x) for x in _list(t)],
                   help="comma list of parent-width factors, e.g. 0.5,1,2 (a grid axis)")
    p.add_argument("--seeds", type=_seeds, help="a count n (seeds 0..n-1) or a comma list")
    p.add_argument("--candidates", type=_number, help="masks scored per sparsity and seed")
    p.add_argument("--epochs", type=_number, help="training epochs")
    p.add_argument("--device", help="auto | cpu | cuda")
    p.add_argument("--init", help="inherited (default: the parent's weights, the paper) | "
                   "rescaled (every kept unit's weights scaled to its kept fan-in)")
    p.add_argument("--precision", help="float32 (default) | bfloat16: mixed-precision training, "
                   "where the hardware has bfloat16 units (AVX-512 BF16 or AMX, or CUDA)")
    p.add_argument("--data-root", help="folder of the torchvision datasets (default: "
                   "$WEEDOUT_DATA, else the clone's data/, installed the working directory's); "
                   "a relative path is taken from the working directory")
    p.add_argument("--results-dir", help="default: the clone's results/<preset>/ (an installed "
                   "package: the working directory's); a relative path is taken from the "
                   "working directory. Refused: the repository root, the package's own folders "
                   "and another preset's results")
    p.add_argument("--figures-dir", help="default: the clone's figures/<preset>/ (installed: "
                   "the working directory's); relative paths as --results-dir")
    p.add_argument("--only", type=_list, help="run only these notebooks, e.g. 03_analysis,04_figures")
    p.add_argument("--fast-cuda", action="store_true",
                   help="let cuDNN/cuBLAS use non-deterministic kernels and TF32 (faster on a GPU; "
                        "repeated runs then differ in the last bits). Default: deterministic")
    x = p.add_argument_group("executors (see README: Running on a cluster)")
    x.add_argument("--executor", default="serial",
                   help=f"one of {list(executors.EXECUTORS)} (default: serial, this process)")
    x.add_argument("--workers", type=_number, help="local worker processes (--executor local)")
    x.add_argument("--partition", help="Slurm partition (default: the cluster's default)")
    x.add_argument("--time", type=_number, default=60, help="minutes per Slurm array task")
    x.add_argument("--gpus-per-task", type=_number, default=0, help="GPUs per Slurm task")
    x.add_argument("--cpus-per-task", type=_number, default=1, help="CPUs per Slurm task")
    x.add_argument("--array-parallelism", type=_number, default=256,
                   help="Slurm array tasks running at once")
    x.add_argument("--sbatch-extra", type=_pairs, default={},
                   help="more sbatch options as key=value,key=value (e.g. account=abc,qos=high)")
    return p


def _pairs(text: str) -> dict:
    """'account=abc,qos=high' -> {'account': 'abc', 'qos': 'high'}."""
    out = {}
    for item in _list(text):
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise argparse.ArgumentTypeError(f"--sbatch-extra={text!r}: each item must be "
                                             "key=value (e.g. account=abc,qos=high)")
        out[name.strip()] = value.strip()
    return out


def _executor_options(args) -> executors.SlurmOptions:
    slurm = executors.SlurmOptions(args.partition, args.time, args.gpus_per_task,
                                   args.cpus_per_task, args.array_parallelism, args.sbatch_extra)
    executors.check(args.executor, args.workers, slurm)
    return slurm


def _run_workers(args, cfg, only, slurm) -> dict | None:
    """The search, then the training trials on the executor's workers: per phase, the trials
    they computed and their wall time (for run.json), or None if some failed."""
    os.environ[lock.LOCK_WAIT_ENV] = "600"  # reduce steps of concurrent runs take turns
    done = {}
    for phase, notebook in (("search", "01_search"), ("train", "02_training")):
        if notebook not in only:
            continue
        n = len(trials.missing(records.Store(cfg.results_path, cfg.digest()), phase,
                               trials.plan(cfg, phase)))
        t0 = time.time()
        failed = executors.run(args.executor, cfg, phase, args.workers, slurm)
        done[phase] = {"trials": n, "seconds": round(time.time() - t0, 1)}
        print(f"  {phase} trials: {n} missing, computed by {args.executor} workers in "
              f"{done[phase]['seconds']:.1f} s")
        if failed:
            print(f"error: {len(failed)} {phase} task(s) failed; the other trials are kept, rerun "
                  "the same command to resume:\n  " + "\n  ".join(failed), file=sys.stderr)
            return None
    return done


@dataclass
class _Progress:
    """How far the command got: what a Ctrl-C interrupted, and where its trials are saved."""
    doing: str = interruption.STARTUP
    results: Path | None = None


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    progress = _Progress()
    try:
        return _main(argv, progress)
    except KeyboardInterrupt:  # one line instead of tracebacks (weedout/interruption.py)
        saved = (f"finished trials are saved under {progress.results / 'trials'}"
                 if progress.results else interruption.NOTHING_SAVED)
        return interruption.report(progress.doing, saved, argv)


def _validate(args, params: dict):
    """The Config, the notebooks to run and the Slurm options, every value checked (and the
    tables that 03/04 would read from disk, when this command does not make them)."""
    cfg = stages.configure(args.preset, **params)
    only = args.only or list(NOTEBOOKS)
    for name in only:
        if name not in NOTEBOOKS:
            raise ValueError(f"--only={name!r} is not allowed: choose from {list(NOTEBOOKS)}")
    slurm = _executor_options(args)
    coverage.check_before(cfg, only)
    # the folders as the validation resolved them (relative to this working directory):
    # the kernels run elsewhere and must write where the person meant
    params.update({k: str(getattr(cfg, p)) for k, p in
                   (("RESULTS_DIR", "results_path"), ("FIGURES_DIR", "figures_path"),
                    ("DATA_ROOT", "data_path")) if k in params})
    return cfg, only, slurm


@contextlib.contextmanager
def _kernel_import_path():
    """The kernels import what this command imports: `python -m` put the working directory
    first on sys.path (where a plug-in named in WEEDOUT_PLUGINS usually is), but the kernels
    start in another folder (`paths.kernel_dir`), so they get it through PYTHONPATH."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([os.getcwd(), *filter(None, [before])])
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


def _notebook(cfg, name: str, params: dict) -> bool:
    """Run one notebook with papermill, its kernel's stderr into <name>.log beside the executed
    copy; False (after one line on stderr) if a cell failed."""
    import papermill as pm  # late: validation errors should not wait for its import
    out = cfg.results_path / "notebooks" / f"{name}.ipynb"
    try:
        with interruption.stderr_to(out.with_suffix(".log")):
            pm.execute_notebook(str(paths.NOTEBOOKS / f"{name}.ipynb"), str(out),
                                parameters={"PRESET": cfg.preset, **params}, kernel_name="python3",
                                cwd=str(paths.kernel_dir()), progress_bar=False, log_output=False,
                                # the kernel's own log (TCP notice, shutdown) is noise here
                                extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
    except pm.PapermillExecutionError as e:
        if e.ename == "KeyboardInterrupt":  # the kernel got the same Ctrl-C and said so first
            raise KeyboardInterrupt from None
        print(f"error: {name} failed ({e.ename}: {e.evalue}); the executed notebook is {out}. "
              "Finished trials are kept: rerun the same command to resume.", file=sys.stderr)
        return False
    return True


def _main(argv: list[str], progress: _Progress) -> int:
    started = time.time()
    args = parser().parse_args(argv)
    params = {name: getattr(args, field) for name, field in PARAMETERS.items()}
    params = {k: v for k, v in params.items() if v is not None}
    os.environ["WEEDOUT_QUIET"] = "1"  # the kernels inherit it: no progress bars in headless runs
    if args.fast_cuda:
        os.environ[provenance.FAST_CUDA_ENV] = "1"  # inherited by the kernels too
    try:
        cfg, only, slurm = _validate(args, params)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    progress.results = cfg.results_path
    (cfg.results_path / "notebooks").mkdir(parents=True, exist_ok=True)
    print(f"weedout: preset {cfg.preset}, config digest {cfg.digest()}, results in {cfg.results_path}")
    seconds, before = {}, run_record.run_json(cfg).get("stages") or {}
    workers, phases = None, {}
    if args.executor != "serial":
        progress.doing = f"the {args.executor} workers were"
        phases = _run_workers(args, cfg, only, slurm)
        if phases is None:
            return 1
        workers = {"executor": args.executor, **executors.describe(args.executor, args.workers,
                                                                   slurm), **phases}
    with _kernel_import_path(), interruption.Watch() as ctrl_c:
        for name in (n for n in NOTEBOOKS if n in only):
            t0, progress.doing = time.time(), f"{name} was"
            if not _notebook(cfg, name, params):
                ctrl_c.check()  # a failure that a swallowed Ctrl-C caused is the Ctrl-C
                return 1
            ctrl_c.check()
            seconds[name] = time.time() - t0
            print(f"  {name:12s} {seconds[name]:7.1f} s")
    progress.doing = "the run's last record (run.json) was"
    # run.json's "command" is the run that computed the numbers: a command that computed no
    # trial (e.g. --only 04_figures redrawing committed results) must not replace its wall time;
    # every command's timing goes to last_run.json. With an executor the workers computed them
    # (the notebooks only reduced their records): their wall time and threads go in too.
    after = run_record.run_json(cfg).get("stages", {})
    computed = any(after.get(k, {}).get("trials_computed", 0) > 0 and after.get(k) != before.get(k)
                   for k in ("search", "training"))
    computed = computed or any(p["trials"] > 0 for p in phases.values())
    run_record.record_command(cfg, argv, seconds, time.time() - started, changed=computed,
                              workers=workers)
    print(f"done in {time.time() - started:.1f} s: tables in {cfg.results_path}, "
          f"figures in {cfg.figures_path}")
    return 0
