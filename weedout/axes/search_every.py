"""Searching throughout training (`Config.search_every` = e, the paper's "Weedout throughout
training"): training stops every e epochs, each network's trained weights are written back into
its full-size parent (`models.scatter`; the nodes it does not use keep their last values), and
the next segment trains a new cut of that parent:

- `weedout` searches again: the strategy's winner among fresh random masks of the parent as it is
  now, scored on the seed's scoring batch, replaces the current mask only if it scores lower
  than the current mask does (so a re-search may move nodes within the budget, or keep them);
- `random` draws a new uniform mask (the issue's "random re-draws");
- `weedout_fixed` and `random_fixed` keep their first masks through the same cuts: the twins
  that isolate what moving nodes does, since every cut restarts the optimizer (no momentum
  crosses it) for all four alike.

Every method trains the same epochs with the learning rates and data orders of the whole run.
The re-searches' scoring FLOPs are added to the networks' training FLOPs.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from ..analysis import comparison
from ..config import Config
from ..config.settings import FIXED, bad, is_int  # FIXED: the twins that never move
from ..core import flops, masks, regrow, scoring, search, segments
from ..core.seeds import derive_seed
from ..viz import fmt, plotting
from .base import Axis, Level, committed
from .structure import LOCAL_PRESET, verdict_counts


def researcher(cfg, arch, nets, dset, batch_of, kept, ds, model, s):
    """The `research` callback of `core.segments.train_in_segments` for one level: weedout
    searches the network's current parent again (its winner replaces the current mask only if
    it scores lower), random draws a new mask; or, with `regrow` "set" or "rigl", both drop and
    grow nodes (weedout.core.regrow). Each returns the new mask and what happened (nodes
    moved, both scores, FLOPs)."""
    def research(m, parent, current, epoch):
        method, seed, _ = nets[m]
        x, y = batch_of(seed)
        score = scoring.scorer(arch, parent, x, y, kind=cfg.score)
        before = float(score(current)[0])
        if cfg.regrow in regrow.GROW:  # drop-and-grow, both arms alike; silences in `parent`
            g = torch.Generator().manual_seed(derive_seed(seed, "grow", ds, model, s, epoch))
            fraction = regrow.drop_fraction(cfg.drop_fraction, epoch, cfg.epochs)
            new, _ = regrow.step(arch, parent, current, fraction, cfg.regrow, g, (x, y))
            after = float(score(new)[0])
            cost = (flops.gate_gradient_flops(arch, x.shape[0]) if cfg.regrow == "rigl" else 0)
        elif method == "random":
            g = torch.Generator().manual_seed(derive_seed(seed, "redraw", ds, model, s, epoch))
            new, cost = masks.sample(arch.widths, s, 1, g, kept), 0
            after = float(score(new)[0])
        else:
            g = torch.Generator().manual_seed(derive_seed(seed, "research", ds, model, s, epoch))
            ctx = search.context(arch, parent, x, y, s, cfg.candidates, g, score, kept=kept)
            found, c = search.run(search.STRATEGIES[cfg.strategy], ctx)
            after = found.scores[found.best_index]
            cost = c["flops"] + flops.scoring_flops(arch, tuple(k.shape[1] for k in current),
                                                      x.shape[0])
            new = found.best if after < before else current
        moved = sum(len(set(a[0].tolist()) - set(b[0].tolist())) for a, b in zip(new, current))
        return new, {"epoch": epoch, "moved": moved, "score_current": before,
                     "score_new": after, "flops": cost}

    return research


def researches_table(records) -> pd.DataFrame:
    """One row per re-search of a network (training records of a run with search_every):
    the epoch, how many kept nodes it moved, the current mask's score and the new one's."""
    rows = [{"dataset": r["dataset"], "model": r["model"], "sparsity": r["sparsity"],
             "method": n["method"], "seed": n["seed"], **x}
            for r in records for n in r["networks"] for x in n.get("researches", [])]
    return pd.DataFrame(rows, columns=["dataset", "model", "sparsity", "method", "seed", "epoch",
                                       "moved", "score_current", "score_new"])


def effect(accuracy, margin: float = 0.01, alpha: float = 0.05):
    """Per level and method (weedout, random): the moving networks' test accuracy minus their
    fixed twins', paired by seed (`comparison.paired_runs`): what searching again (weedout) or
    drawing again (random) does, every cut being equal."""
    fixed = accuracy[accuracy.method.isin(FIXED)].assign(
        method=lambda d: d.method.str.replace("_fixed", "", regex=False))
    return comparison.paired_runs(fixed, accuracy[accuracy.method.isin(["weedout", "random"])],
                                  margin=margin, alpha=alpha)


def summary(researches, effects):
    """Per dataset x model x method: the share of re-searches that moved any node, the mean
    nodes moved, the levels where the moving networks equal their fixed twins at every seed
    (no spread, so no test: their verdict reads "inconclusive"), and the effect's verdicts
    over the levels (moving vs fixed twin)."""
    g = researches.groupby(["dataset", "model", "method"], sort=True)
    moves = pd.DataFrame({"researches": g.size(),
                          "moved_share": g.moved.apply(lambda x: (x > 0).mean()),
                          "moved_mean": g.moved.mean()})
    e = effects.groupby(["dataset", "model", "method"], sort=True)
    verdicts = pd.DataFrame({v: e.verdict.apply(lambda x, v=v: int((x == v).sum()))
                             for v in ("equivalent", "inconclusive", "better", "worse")})
    same = (effects.diff_mean == 0) & (effects.diff_ci_low == 0) & (effects.diff_ci_high == 0)
    verdicts["identical"] = same.groupby([effects[k] for k in ("dataset", "model", "method")]).sum()
    verdicts["mean_diff"] = e.diff_mean.mean()
    verdicts["min_p_holm"] = e.p_holm.min()
    return moves.join(verdicts, how="outer").reset_index()


def plot(effects):
    """Per cell: moving minus fixed twin (pp, 95% CI) against sparsity, weedout searching again
    and random drawing again; zero = what the cuts alone give."""
    panels = plotting.panel_cells(effects)
    fig, axes = plotting.subplots(1, len(panels), w=4.6, h=3.4)
    for ax, (ds, model) in zip(axes[0], panels):
        d = effects[(effects.dataset == ds) & (effects.model == model)]
        for method in ("weedout", "random"):
            m = d[d.method == method].sort_values("sparsity")
            x = 100 * m.sparsity + (1 if method == "random" else 0)
            ax.errorbar(x, m.diff_mean, yerr=[m.diff_mean - m.diff_ci_low, m.diff_ci_high -
                                              m.diff_mean], marker="o", ms=4, capsize=2,
                        color=plotting.METHOD_COLORS[method],
                        label="weedout: searched again" if method == "weedout"
                        else "random: drawn again")
        ax.axhline(0, color="black", lw=0.8, ls=":")
        ax.set_xlabel("node sparsity (%)")
        ax.set_ylabel("Δ accuracy vs fixed twin (pp)")
        ax.set_title(f"{ds} · {model}", fontsize=10.5)
    axes[0, -1].legend(fontsize=8)
    fig.suptitle("Searching throughout training: moving masks vs the same cuts with fixed masks",
                 fontsize=11.5)
    return fig


def render_throughout(root: Path, preset: str) -> str:
    """Per dataset, model and moving method of the run that searches throughout training: how
    often a re-search moved nodes, and the moving networks against their fixed twins over the
    levels; then the fixed twins against the uncut networks of `cpu_pai` (what the cuts alone,
    optimizer restarts included, cost)."""
    got = committed(root, preset, "researches.csv", "throughout.csv", "accuracy.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    every = run["config"]["search_every"]
    table = summary(pd.read_csv(folder / "researches.csv"),
                    pd.read_csv(folder / "throughout.csv"))
    lines = [f"From {fmt.evidence(preset, run)}.", "",
             f"| dataset / model | method (every {every} epochs) | re-searches | moved any node | "
             "nodes moved (mean) | vs fixed twin: equivalent / inconclusive / better / worse | "
             "levels identical to the twin | mean Δ (pp) | smallest p (Holm) |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for r in table.itertuples(index=False):
        what = "weedout: searched again" if r.method == "weedout" else "random: drawn again"
        lines.append(f"| {r.dataset} / {r.model} | {what} | {r.researches} | "
                     f"{fmt.pct(r.moved_share)}% | {r.moved_mean:.1f} | {r.equivalent} / "
                     f"{r.inconclusive} / {r.better} / {r.worse} | {int(r.identical)} | "
                     f"{fmt.signed(r.mean_diff, 2)} | "
                     f"{fmt.p(r.min_p_holm, 2)} |")
    local = Path(root) / "results" / LOCAL_PRESET / "accuracy.csv"
    if local.exists():
        acc = pd.read_csv(folder / "accuracy.csv")
        fixed = acc[acc.method.isin(FIXED)].assign(
            method=lambda d: d.method.str.replace("_fixed", "", regex=False))
        pairs = comparison.paired_runs(pd.read_csv(local), fixed)
        lines += ["", f"The fixed twins against the uncut networks of `{LOCAL_PRESET}` (same "
                  "parents, masks, seeds and data orders; what the cuts and optimizer restarts "
                  "alone do), over the levels:", "",
                  "| dataset / model | method | equivalent / inconclusive / better / worse | "
                  "mean Δ (pp) | smallest p (Holm) |", "|---|---|---|---:|---:|"]
        for (ds, model, m), g in pairs.groupby(["dataset", "model", "method"], sort=True):
            lines.append(f"| {ds} / {model} | {m}_fixed | {verdict_counts(g.verdict)} | "
                         f"{fmt.signed(g.diff_mean.mean(), 2)} | {fmt.p(g.p_holm.min(), 2)} |")
    return "\n".join(lines)


class SearchEvery(Axis):
    name = "search_every"
    fields = ("search_every", "regrow", "drop_fraction")
    tables = {"researches.csv": "training", "throughout.csv": "analysis"}
    title = "Searching throughout training"
    about = ("Training stops every few epochs; weedout searches its parent again, random draws "
             "again, and their `_fixed` twins keep their first masks through the same cuts: how "
             "often a re-search moved nodes, and the moving networks against their fixed twins "
             "over the levels.")

    def validate(self, cfg: Config) -> None:
        if not is_int(cfg.search_every) or not 0 <= cfg.search_every < cfg.epochs - cfg.search_after:
            raise bad("search_every", cfg.search_every, f"a whole number of epochs: 0 (search "
                      f"once) or from 1 to EPOCHS-1-search_after "
                      f"({cfg.epochs - 1 - cfg.search_after}), so that at least one search "
                      "happens during training")
        if cfg.search_every and (cfg.controls or cfg.comparators or cfg.variants):
            raise bad("search_every", cfg.search_every, "0 in a run with controls, comparators "
                      "or variants: searching throughout training trains weedout, random and "
                      f"their fixed twins {list(FIXED)} only")
        if cfg.regrow not in ("search", *regrow.GROW):
            raise bad("regrow", cfg.regrow, f"one of {['search', *regrow.GROW]}")
        if cfg.regrow != "search" and not cfg.search_every:
            raise bad("regrow", cfg.regrow, "'search' unless search_every > 0: nodes are "
                      "dropped and grown at the cuts of a run that searches throughout training")
        if isinstance(cfg.drop_fraction, bool) or not isinstance(cfg.drop_fraction, (int, float)) \
                or not 0 < cfg.drop_fraction <= 1:
            raise bad("drop_fraction", cfg.drop_fraction, "a fraction of the kept nodes in (0, 1]")

    def methods(self, cfg: Config) -> tuple[str, ...]:
        return FIXED if cfg.search_every else ()

    def networks(self, cfg: Config, record: dict, seed: int, first: dict) -> list:
        # the fixed twins: the first masks, through the same cuts
        return [(f"{m}_fixed", seed, first[m]) for m in ("weedout", "random")]

    def trainer(self, cfg: Config, sparsity: float | None):
        return None if sparsity is None else train_level

    def training_tables(self, cfg: Config, searches: list[dict], trainings: list[dict]) -> dict:
        return {"researches.csv": researches_table(trainings)}

    def analysis_tables(self, cfg: Config, read, stats_table: pd.DataFrame) -> dict:
        return {"throughout.csv": effect(read("accuracy.csv"), margin=cfg.equivalence_margin)}

    def figures(self, cfg: Config, read) -> dict:
        return {"throughout": plot(read("throughout.csv"))}

    def summary(self, cfg: Config, read) -> list:
        return [("Re-searches and the moving networks against their fixed twins",
                 summary(read("researches.csv"), read("throughout.csv")))]

    def report(self, root: Path, preset: str) -> str:
        return render_throughout(root, preset)


def train_level(level: Level, prepared) -> tuple:
    """A level trained in segments, each network's parent searched again (or drawn again) at
    every cut: the trainer hook of `SearchEvery`."""
    cfg = level.cfg
    full = [p[level.index] for p in level.parents]
    research = researcher(cfg, level.arch, level.nets, level.dset, level.batch_of, level.kept,
                          level.ds, level.model, level.sparsity)
    return segments.train_in_segments(level.arch, level.nets, full, prepared.keep, level.dset,
                                      level.seeds, cfg.schedule(), research, cfg.search_after,
                                      cfg.search_every, FIXED, level.progress)
