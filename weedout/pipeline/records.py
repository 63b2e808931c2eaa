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
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from ..config.settings import MissingStageError  # noqa: F401 (where callers look for it)
from . import provenance

FORMAT = 1


class CorruptRecordWarning(UserWarning):
    pass


class StaleRecordWarning(UserWarning):
    """A record computed by another engine version (provenance.ENGINE_VERSION)."""


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


def sparsity_key(s: float) -> str:
    return f"s{s:.3f}"


