"""Atomic, resumable trial records, and the tidy tables built from them.

Layout of a run's results folder (RESULTS_DIR, default results/<preset>/):

    config.json                 the full config of the latest run, with its digest
    run.json                    hardware, versions, per-stage timings and which config wrote
                                each table (a later stage refuses a table of another config):
                                the evidence of the run that produced the tables, rewritten
                                only by a stage that changed its outputs
    last_run.json               what the latest invocation of each stage did (seconds, trials
                                computed, whether it changed anything); not committed, so
                                re-running 03/04 on committed results dirties nothing
    trials/<digest>/<phase>/<key>.json   one record per finished trial
    trials/<digest>/claims/<phase>/<key>.claim       a trial being computed (claims.py)
    trials/<digest>/<phase>.log one line per computed trial: key, pid, host, Slurm job
    slurm/<job>/                submitit's pickles and each array task's logs (--executor slurm)
    search.csv accuracy.csv curves.csv stats.csv     tables (rebuilt from the records)

Trials live under the digest of the settings that change their numbers (epochs, candidates,
widths, ...), so a results folder reused with other settings never mixes the two: each config
reads only its own records. A record is written to a temporary file and renamed, and carries
the SHA-256 of its payload; a truncated or corrupted one is reported with its path, set aside
as `<key>.json.corrupt` and recomputed, never read as a result.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

from . import paths, provenance
from .config import PRESETS, device_of

FORMAT = 1
LOCK_WAIT_ENV = "WEEDOUT_LOCK_WAIT"  # seconds `exclusive` waits for the folder lock (default 0)
LAST_RUN = "last_run.json"  # each stage's latest invocation; run.json: the producing run's


class CorruptRecordWarning(UserWarning):
    pass


class StaleRecordWarning(UserWarning):
    """A record computed by another engine version (provenance.ENGINE_VERSION)."""


class ResultsBusyError(RuntimeError):
    pass


def _checksum(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def atomic_write(path: Path, text: str | bytes) -> None:
    """Write a file so that readers see the old version or the whole new one, never a part.
    A file that already holds exactly these bytes is left alone (same bytes, same mtime)."""
    data = text.encode() if isinstance(text, str) else text
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600 files; results are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    atomic_write(path, df.to_csv(index=False))
    return path


def file_digests(paths) -> dict:
    """SHA-256 of each file (None if missing): compared before and after a stage to tell a
    stage that changed its outputs from a re-run that reproduced them byte for byte."""
    out = {}
    for p in paths:
        try:
            out[str(p)] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
        except FileNotFoundError:
            out[str(p)] = None
    return out


class MissingStageError(FileNotFoundError):
    """An earlier stage's output is missing. The fix is always "run notebook X first", which the
    message says, so a notebook shows this one line instead of a long red traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for an exception's own traceback
        return [f"{type(self).__name__}: {self}"]


class Store:
    """The records of one config (one digest) under a results folder."""

    def __init__(self, results: Path, digest: str):
        self.root = Path(results) / "trials" / digest

    def path(self, phase: str, key: str) -> Path:
        return self.root / phase / f"{key}.json"

    def load(self, phase: str, key: str) -> dict | None:
        """The payload of a finished trial; None if it is missing or unreadable (then warned
        about with its path and moved aside, so the trial is simply recomputed)."""
        path = self.path(phase, key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            rec = json.loads(raw.decode())  # decoded here: garbage bytes are corruption too
            ok = (rec.get("format") == FORMAT and rec.get("key") == key
                  and rec.get("sha256") == _checksum(rec["payload"]))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            ok = False
        if not ok:
            warnings.warn(f"corrupted trial record {path}: set aside as {path.name}.corrupt "
                          "and recomputed", CorruptRecordWarning, stacklevel=2)
            os.replace(path, path.with_name(path.name + ".corrupt"))
            return None
        engine = rec.get("engine", 1)  # records written before versions existed: the first engine
        if engine != provenance.ENGINE_VERSION:
            aside = path.with_name(f"{path.name}.engine-v{engine}")
            warnings.warn(f"trial record {path} was computed by engine version {engine}, this "
                          f"code computes version {provenance.ENGINE_VERSION}: recomputed (the "
                          f"old record is kept as {aside.name})", StaleRecordWarning, stacklevel=2)
            os.replace(path, aside)
            return None
        return rec["payload"]

    def save(self, phase: str, key: str, payload: dict) -> None:
        rec = {"format": FORMAT, "key": key, **provenance.record_stamp(),
               "sha256": _checksum(payload), "payload": payload}
        atomic_write(self.path(phase, key), json.dumps(rec, allow_nan=True))

    def stamps(self, phase: str) -> list[dict]:
        """Engine version and commit of every record of a phase (for run.json's provenance)."""
        out = []
        for path in sorted((self.root / phase).glob("*.json")):
            try:
                rec = json.loads(path.read_bytes().decode())
                out.append({k: rec.get(k) for k in ("engine", "commit", "dirty")})
            except (OSError, ValueError, AttributeError):
                continue
        return out


@contextlib.contextmanager
def exclusive(results: Path):
    """Hold the results folder for one stage of one process. A second serial run pointed at the
    same folder is refused with a clear message naming the holder; workers (executors.py) do not
    take this lock, they claim trials one by one (claims.py). The lock is an flock: the kernel
    drops it when its holder dies, even by SIGKILL, so it never goes stale."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    fd = os.open(results / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    # A run with an executor (`--executor local|slurm`) sets WEEDOUT_LOCK_WAIT: its stages only
    # reduce records into tables (seconds), so two such runs on one folder wait for each other
    # there instead of failing; trials themselves are guarded by per-trial claims, not this lock.
    deadline = time.time() + float(os.environ.get(LOCK_WAIT_ENV) or 0)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.time() < deadline:
                    time.sleep(0.2)
                    continue
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise ResultsBusyError(
                f"RESULTS_DIR={str(results)!r} is in use by pid {holder}: wait for that run to "
                "finish, or give this run another RESULTS_DIR") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def sparsity_key(s: float) -> str:
    return f"s{s:.3f}"


# -- run.json: the evidence next to the numbers, and which config wrote each table --

def record_stage(cfg, stage: str, seconds: float, computed: int, store: "Store | None" = None,
                 phase: str | None = None, changed: bool = True) -> None:
    """Evidence next to the numbers (airbench's habit): config, hardware, versions, timings, and
    the engine versions and git commits of the records a stage's tables were built from.

    `changed`: the stage computed trials or rewrote an output. A re-run that changed nothing
    (e.g. 03/04 on committed results) leaves run.json as the producing run wrote it, so the
    committed evidence stays byte-identical; every invocation goes to last_run.json."""
    entry = {"seconds": round(seconds, 2), "trials_computed": computed,
             "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             # "digest": which config last wrote this stage's tables (checked by `read_table`).
             "digest": cfg.digest(), **provenance.git_commit()}
    if store is not None and phase is not None:
        stamps = store.stamps(phase)
        entry["records"] = {"n": len(stamps),
                            "engines": sorted({s["engine"] for s in stamps if s["engine"] is not None}),
                            "commits": sorted({s["commit"] + ("+dirty" if s["dirty"] else "")
                                               for s in stamps if s["commit"]})}
    last = _read_json(cfg.results_path / LAST_RUN)
    last.setdefault("stages", {})[stage] = {**entry, "changed": changed}
    atomic_write(cfg.results_path / LAST_RUN, json.dumps(last, indent=1, default=list))
    run = run_json(cfg)
    before = run.get("stages", {}).get(stage, {})
    if not changed and before.get("digest") == cfg.digest():
        return  # the tables are those run.json already vouches for
    env = provenance.environment(device_of(cfg))
    entry["host"] = env.get("gpu") or env["cpu"]
    run.update(config=cfg.to_dict(), digest=cfg.digest())
    if computed > 0 or "cpu" not in run:
        # the top-level hardware and versions are those of the run that computed trials: a
        # redraw of the figures elsewhere must not claim the numbers came from its machine
        run.update(**env)
    run.setdefault("stages", {})[stage] = entry
    atomic_write(cfg.results_path / "run.json", json.dumps(run, indent=1, default=list))


def record_command(cfg, argv: list[str], notebooks: dict[str, float], seconds: float,
                   changed: bool = True) -> None:
    """The whole command's wall time (notebook start-up included) and each notebook's, next to
    the stages' own timings: what `python -m weedout` cost from start to finish. Into run.json
    only if the command changed it (`changed`), always into last_run.json."""
    command = {"argv": ["python", "-m", "weedout", *argv],
               "notebooks_seconds": {k: round(v, 1) for k, v in notebooks.items()},
               "total_seconds": round(seconds, 1),
               "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with exclusive(cfg.results_path):
        for name in (LAST_RUN, "run.json") if changed else (LAST_RUN,):
            run = _read_json(cfg.results_path / name)
            run["command"] = command
            atomic_write(cfg.results_path / name, json.dumps(run, indent=1, default=list))


def _read_json(path: Path) -> dict:
    """run.json or last_run.json, or {} if missing or damaged: evidence, never a reason to stop."""
    try:
        run = json.loads(path.read_bytes().decode())
    except (OSError, ValueError):
        return {}
    return run if isinstance(run, dict) and isinstance(run.get("stages", {}), dict) else {}


def run_json(cfg) -> dict:
    """run.json, or {} if missing or damaged: it is evidence, never a reason to stop a run."""
    return _read_json(cfg.results_path / "run.json")


# The stage whose run.json entry says which config wrote each table.
_STAGE_OF = {"search.csv": "search", "cost.csv": "search", "variants.csv": "search",
             "accuracy.csv": "training", "curves.csv": "training", "compute.csv": "training",
             "stats.csv": "analysis", "methods.csv": "analysis", "widths.csv": "analysis",
             "pools.csv": "analysis", "researches.csv": "training", "throughout.csv": "analysis"}


def _shown(path: Path) -> str:
    """A path as a user of the repository reads it: relative to its root where it is inside."""
    try:
        return str(Path(path).relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def _elsewhere(cfg, name: str) -> str:
    """Where this table does exist for another preset (the committed cpu results on a fresh
    clone), so that a user who only wanted to look at results learns how, in the same line."""
    if cfg.results_dir is not None:
        return ""
    have = [p for p in PRESETS if p != cfg.preset and (paths.results_dir(p) / name).exists()]
    return f"; or look at existing results with PRESET = {' or '.join(map(repr, have))}" \
        f" (or WEEDOUT_PRESET, for all four notebooks)" if have else ""


def read_table(cfg, name: str, made_by: str) -> pd.DataFrame:
    """A table of an earlier stage, refused if another config (other EPOCHS, CANDIDATES, ...)
    wrote it last: a results folder reused with new settings must never mix the two."""
    path = cfg.results_path / name
    if not path.exists():
        raise MissingStageError(f"{_shown(path)} is missing: run {made_by} first"
                                f"{_elsewhere(cfg, name)}")
    # str: a digest such as "0123456789" must not be read as a number
    table = pd.read_csv(path, dtype={"config_digest": str})
    wrote = run_json(cfg).get("stages", {}).get(_STAGE_OF.get(name), {}).get("digest")
    if "config_digest" in table and len(table):  # the table's own word, where it has one
        others = sorted(set(table["config_digest"]) - {cfg.digest()})
        wrote = others[0] if others else cfg.digest()
    if wrote and wrote != cfg.digest():
        raise ValueError(f"{path} was made by another config (digest {wrote}), not this run's "
                         f"(digest {cfg.digest()}): run {made_by} with these settings first")
    return table
