"""run.json, the evidence next to the numbers (config, hardware, versions, timings, which config
wrote each table), last_run.json (every invocation), and reading an earlier stage's table
(refused when another config wrote it)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from ..axes import registry
from ..config import device_of, paths, presets
from . import provenance
from .records import MissingStageError, Store, atomic_write
from .lock import exclusive

LAST_RUN = "last_run.json"  # each stage's latest invocation; run.json: the producing run's


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
                   changed: bool = True, workers: dict | None = None) -> None:
    """The whole command's wall time (notebook start-up included) and each notebook's, next to
    the stages' own timings: what `python -m weedout` cost from start to finish. Into run.json
    only if the command changed it (`changed`), always into last_run.json. `workers`: with an
    executor, who computed the trials (executor, workers, threads each) and, per phase, how many
    and in what wall time."""
    command = {"argv": ["python", "-m", "weedout", *argv],
               "notebooks_seconds": {k: round(v, 1) for k, v in notebooks.items()},
               "total_seconds": round(seconds, 1),
               "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if workers:
        command["workers"] = workers
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


# The notebook of each stage: what a missing table's message says to run.
NOTEBOOK = {"search": "notebooks/01_search", "training": "notebooks/02_training",
            "analysis": "notebooks/03_analysis"}


def _shown(path: Path) -> str:
    """A path as a user reads it: relative to the clone's root (installed: the working
    directory) where it is inside."""
    try:
        return str(Path(path).relative_to(paths.home()))
    except ValueError:
        return str(path)


def _elsewhere(cfg, name: str) -> str:
    """Where this table does exist for another preset (the committed cpu results on a fresh
    clone), so that a user who only wanted to look at results learns how, in the same line."""
    if cfg.results_dir is not None:
        return ""
    have = [p for p in presets.PRESETS if p != cfg.preset and (paths.results_dir(p) / name).exists()]
    return f"; or look at existing results with PRESET = {' or '.join(map(repr, have))}" \
        f" (or WEEDOUT_PRESET, for all four notebooks)" if have else ""


def read_table(cfg, name: str) -> pd.DataFrame:
    """A table of an earlier stage, refused if another config (other EPOCHS, CANDIDATES, ...)
    wrote it last: a results folder reused with new settings must never mix the two. Which
    stage writes it (and so which notebook to run) comes from the axes' registry."""
    stage = registry.stage_of(name)
    made_by = NOTEBOOK.get(stage, "the stage that writes it")
    path = cfg.results_path / name
    if not path.exists():
        raise MissingStageError(f"{_shown(path)} is missing: run {made_by} first"
                                f"{_elsewhere(cfg, name)}")
    # str: a digest such as "0123456789" must not be read as a number
    table = pd.read_csv(path, dtype={"config_digest": str})
    wrote = run_json(cfg).get("stages", {}).get(stage, {}).get("digest")
    if "config_digest" in table and len(table):  # the table's own word, where it has one
        others = sorted(set(table["config_digest"]) - {cfg.digest()})
        wrote = others[0] if others else cfg.digest()
    if wrote and wrote != cfg.digest():
        raise ValueError(f"{path} was made by another config (digest {wrote}), not this run's "
                         f"(digest {cfg.digest()}): run {made_by} with these settings first")
    return table
