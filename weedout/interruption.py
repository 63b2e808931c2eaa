"""Ctrl-C during `python -m weedout`: the one line it ends with, and the noise kept out of the
terminal.

A Ctrl-C used to print 38-147 lines of chained tracebacks: papermill's, nbclient's, asyncio's,
and whatever import was half done (a `ModuleNotFoundError: rfc3987` from jsonschema's optional
formats, which read like a broken install). None of it helps: every finished trial is already a
record on disk, and rerunning the same command resumes exactly. So the command ends with one
line saying what was interrupted, what is saved and the command that resumes, and exits 130
(128 + SIGINT, what shells report for a command stopped by Ctrl-C). While a notebook runs, this
process's stderr (file descriptor 2, which the kernel inherits) goes to a log file beside the
executed notebook: the kernel's own start-up and teardown messages and the interrupted
traceback land there, not on the terminal.

Standard library only: `weedout/__main__.py` imports it before the heavy imports (torch,
pandas), so a Ctrl-C during those is caught too.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import traceback
from pathlib import Path

EXIT = 130
# What a Ctrl-C before the results folder is known interrupted, and what it leaves
STARTUP, NOTHING_SAVED = "the start-up (before any work) was", "nothing was computed yet"


def command(argv: list[str]) -> str:
    """The command that resumes: the same one, as the user typed it."""
    return shlex.join(["python", "-m", "weedout", *argv])


def line(what: str, saved: str, argv: list[str]) -> str:
    """The one line a Ctrl-C ends with."""
    return f"interrupted: {what} stopped by Ctrl-C; {saved}; resume with: {command(argv)}"


def report(what: str, saved: str, argv: list[str]) -> int:
    """Print the line on stderr; the exit status to return."""
    print(line(what, saved, argv), file=sys.stderr, flush=True)
    return EXIT


@contextlib.contextmanager
def stderr_to(log: Path):
    """Send file descriptor 2 (this process's stderr and that of every child it starts, the
    notebook kernels) to `log` for the block (removed again if nothing was written); a
    KeyboardInterrupt's traceback is written there too before it propagates. The terminal's
    stderr comes back however the block ends."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "wb") as f:  # this run's: an earlier one's noise is of no use
            os.dup2(f.fileno(), 2)
        try:
            yield
        except KeyboardInterrupt:
            traceback.print_exc()
            raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if log.exists() and log.stat().st_size == 0:
            log.unlink()  # a quiet run leaves no empty log behind


class Watch:
    """Remembers a Ctrl-C for the whole run. The signal reaches this process while papermill
    waits on a kernel, and an event loop or a kernel between two cells can swallow it (the
    notebook then finishes as if nothing happened); so the handler notes it, raises as Python's
    own does, and `check()` after each notebook raises it again if it was swallowed."""

    def __init__(self):
        self.seen = False

    def _handler(self, signum, frame):
        self.seen = True
        raise KeyboardInterrupt

    def __enter__(self):
        self._before = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._before)

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt
