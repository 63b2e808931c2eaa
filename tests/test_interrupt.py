"""Ctrl-C during `python -m weedout` (issue 21, item 4): one line, exit 130, and the same command
resumes without recomputing a finished trial.

The terminal sends SIGINT to the whole foreground process group, so the test starts the command
in a session of its own and signals that group, as a Ctrl-C does. It waits for the first search
record (a notebook is running and a trial is saved), then interrupts.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

from weedout.config import paths

ARGS = ["--preset", "smoke", "--sparsities", "0.5", "--epochs", "1", "--candidates", "4",
        "--results-dir", "res", "--figures-dir", "fig"]


def run(cwd, **kw):
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    return subprocess.Popen([sys.executable, "-m", "weedout", *ARGS], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def records(res):
    return sorted(res.glob("trials/*/*/*.json"))


def computed(res) -> list[tuple[str, str]]:
    """Every trial computed so far, (phase, key) once per computation: the evidence each
    worker appends to trials/<digest>/<phase>.log."""
    return [(log.stem, json.loads(line)["key"]) for log in sorted(res.glob("trials/*/*.log"))
            for line in log.read_text().splitlines()]


def test_ctrl_c_says_one_line_and_the_same_command_resumes(tmp_path):
    res = tmp_path / "res"
    proc = run(tmp_path, start_new_session=True)
    deadline = time.time() + 240
    while not records(res) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert records(res), "no trial was saved in time"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in out + err
    assert err.count("\n") == 1, err
    # 01_search, unless its last trial and tables were done before the signal arrived
    assert re.fullmatch(r"interrupted: 0[12]_\w+ was stopped by Ctrl-C; finished trials are "
                        f"saved under {re.escape(str(res / 'trials'))}; resume with: "
                        f"{re.escape('python -m weedout ' + ' '.join(ARGS))}\n", err), err
    saved = {p: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in records(res)}
    first = computed(res)

    again = run(tmp_path)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert err == ""
    for p, stamp in saved.items():  # a finished trial is neither recomputed nor rewritten
        assert (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) == stamp
    keys = computed(res)  # the rerun computed only what was missing
    assert keys[:len(first)] == first and len(set(keys)) == len(keys), keys
    assert {k for k in keys if k[0] == "search"} == {("search", f"digits-mlp-s0.500-seed{s}")
                                                    for s in (0, 1)}
    assert (res / "stats.csv").exists() and (tmp_path / "fig" / "main_table.md").exists()
