"""Per-trial claims: many workers (local processes, Slurm array tasks) share one results folder
without computing the same trial twice at the same time.

A claim is a small file `<results>/trials/<digest>/claims/<phase>/<key>.claim` created with
O_CREAT|O_EXCL (atomic, also on NFS v3+), holding the worker's pid, host and start time. A worker
that holds claims touches them every HEARTBEAT seconds, so a claim goes stale when
- its pid is dead and it was made on this host (a worker killed by SIGKILL, a crashed notebook), or
- it was not touched for STALE_AFTER seconds (a worker on another node that died or was preempted:
  its pid cannot be checked from here).
A stale claim is taken over under an flock on the claims folder, so two workers that find the
same stale claim cannot both take it. Records themselves are written atomically (temp + rename)
by `results.Store`, so a claim only saves duplicate work; it never guards a record's bytes.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path

HEARTBEAT = 30.0     # seconds between touches of the claims a worker holds
STALE_AFTER = 300.0  # a claim not touched for this long is abandoned (10 missed heartbeats)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def holder(path: Path) -> dict | None:
    """Who holds a claim (pid, host, time), or None if there is no claim."""
    try:
        info = json.loads(path.read_text())
        info["touched"] = path.stat().st_mtime
        return info if isinstance(info, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"touched": 0.0}  # unreadable: half-written by a worker killed at creation


def slurm_job() -> str | None:
    """This process's Slurm job as squeue and scancel name it ('123_4' for an array task)."""
    env = os.environ
    if env.get("SLURM_ARRAY_JOB_ID"):
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID')}"
    return env.get("SLURM_JOB_ID")


def is_stale(info: dict, now: float | None = None, stale_after: float = STALE_AFTER) -> bool:
    now = time.time() if now is None else now
    if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int) \
            and not _alive(info["pid"]):
        return True
    return now - info.get("touched", 0.0) > stale_after


class Claims:
    """The claims of one worker in one folder: `take` a key, `release` it, and a heartbeat
    thread that keeps every held claim fresh while the trial computes (which may take hours)."""

    def __init__(self, folder: Path, stale_after: float = STALE_AFTER,
                 heartbeat: float = HEARTBEAT):
        self.folder = Path(folder)
        self.stale_after, self.heartbeat = stale_after, heartbeat
        self.held: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.claim"

    def _create(self, key: str) -> bool:
        try:
            fd = os.open(self.path(key), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "time": time.time(),
                       "job": slurm_job()}, f)
        self.held.add(key)
        self._start_heartbeat()
        return True

    def take(self, key: str) -> bool:
        """Claim `key`; False if a live worker holds it. A stale claim is taken over."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._create(key):
            return True
        info = holder(self.path(key))
        if info is not None and not is_stale(info, stale_after=self.stale_after):
            return False
        with self._takeover_lock():  # re-check under the lock: only one worker takes it over
            info = holder(self.path(key))
            if info is not None and is_stale(info, stale_after=self.stale_after):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(key))
            return self._create(key)

    def release(self, key: str) -> None:
        if key in self.held:
            self.held.discard(key)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(key))

    def release_all(self) -> None:
        for key in list(self.held):
            self.release(key)
        self._stop.set()

    @contextlib.contextmanager
    def _takeover_lock(self):
        fd = os.open(self.folder / ".takeover", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _start_heartbeat(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            for key in list(self.held):
                with contextlib.suppress(FileNotFoundError):
                    os.utime(self.path(key))
