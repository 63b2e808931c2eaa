"""The folder lock: one stage of one serial run holds a results folder at a time."""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

LOCK_WAIT_ENV = "WEEDOUT_LOCK_WAIT"  # seconds `exclusive` waits for the folder lock (default 0)


class ResultsBusyError(RuntimeError):
    pass


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
