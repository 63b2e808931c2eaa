"""Numbers as the tables, the README and the study notebooks print them: one formatter each
(a fraction in %, a difference in points with its CI, a p-value, a signed number, a duration)
and the evidence line of a run."""
from __future__ import annotations

import math

NA = "n/a"


def present(*v) -> bool:
    return all(x is not None and not (isinstance(x, float) and math.isnan(x)) for x in v)


def mean_ci(mean, lo, hi, digits: int = 2) -> str:
    """``mean ± half-width`` of a fraction-valued mean and 95% CI, in %."""
    if not present(mean):
        return NA
    if not present(lo, hi):
        return f"{100 * mean:.{digits}f}"
    return f"{100 * mean:.{digits}f} ± {100 * (hi - lo) / 2:.{digits}f}"


def diff(mean, lo, hi, digits: int = 2) -> str:
    """Signed difference with its 95% CI, in percentage points."""
    if not present(mean):
        return NA
    if not present(lo, hi):
        return f"{100 * mean:+.{digits}f}"
    return f"{100 * mean:+.{digits}f} [{100 * lo:+.{digits}f}, {100 * hi:+.{digits}f}]"


def p(value, digits: int = 3) -> str:
    """A p-value: "<0.001" below that, else `digits` decimals; "n/a" when undefined."""
    if not present(value):
        return NA
    return "<0.001" if value < 0.001 else f"{value:.{digits}f}"


def pct(x, digits: int = 1) -> str:
    """A fraction in percent (points), "n/a" when undefined."""
    return f"{100 * x:.{digits}f}" if present(x) else NA


def minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def signed(x: float, digits: int = 3) -> str:
    v = round(float(x), digits)
    return f"{(v if v != 0 else 0.0):+.{digits}f}"  # never "-0.000"


def resumed(run: dict) -> str:
    """", which computed k of the n training trials ..." when the last command found some
    training trials already on disk (an interrupted run, resumed): its time is then not the
    whole run's."""
    cmd, training = run.get("command", {}), run.get("stages", {}).get("training", {})
    n = training.get("records", {}).get("n")
    workers = cmd.get("workers")
    done = workers["train"]["trials"] if workers else training.get("trials_computed")
    if n is None or done is None or done >= n:
        return ""
    return (f", which computed {done} of the {n} training trials (the others were on disk "
            "from an earlier, interrupted command)")


def evidence(preset: str, run: dict) -> str:
    """One line: what ran, on what, for how long, with which code."""
    cfg = run.get("config", {})
    seeds = cfg.get("seeds", [])
    cmd = run.get("command", {})
    stages = run.get("stages", {}).values()
    if "total_seconds" in cmd:
        took = f"{minutes(cmd['total_seconds'])} for `{' '.join(cmd['argv'])}`{resumed(run)}"
    elif stages and all(s.get("trials_computed", 1) == 0 for s in stages):
        # the stages only rebuilt tables from records an earlier command computed: their
        # seconds are not the compute time (the README's text gives that)
        took = "tables built from trial records computed earlier (compute time: see the text)"
    else:  # runs from before the command's own time was recorded: the stages' sum
        took = f"{minutes(sum(s['seconds'] for s in run.get('stages', {}).values()))} of stage time"
    where = run.get("gpu") or f"{run.get('cpu', '?')} ({run.get('cpu_count', '?')} cores)"
    engine = f", engine v{run['engine']}" if "engine" in run else ""
    training = run.get("stages", {}).get("training", {})
    # the code that computed the trained networks (the records'), else the stage's own
    commits = training.get("records", {}).get("commits") or [training.get("commit")]
    code = f", code {', '.join(c[:10] for c in commits)}" if commits[0] else ""
    return (f"`{preset}`: {len(seeds)} seeds ({seeds[0]}–{seeds[-1]}), {cfg.get('candidates')} "
            f"candidates, {cfg.get('epochs')} epochs; {where}, torch {run.get('torch', '?')}"
            f"{engine}{code}; {took} (`results/{preset}/run.json`)") if seeds else f"`{preset}`"
