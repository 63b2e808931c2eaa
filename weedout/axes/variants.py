"""The search budget and the score, as an axis: does searching more (or scoring differently)
find better masks, and do better-scored masks train better?

A run with `variants` (e.g. the `cpu_budget` preset) searches every parent again with one search
setting changed (`config.variant`): `candidates=1000` (more masks), `candidates=1` (one mask: a
second, independent random draw, which calibrates how often "better than random" happens by
chance), `score=error`, `score_batch=64`. Each variant's winner is trained beside weedout and
the random control, and judged by `weedout.analysis.comparison` exactly as the comparators are. The
random control is budget 1 by definition: one uniform mask, no scoring.

This module adds the two views of that grid: `table` (variants.csv, from the search records:
each winner's loss on the *main* scoring batch, so winners scored by error or on fewer examples
are compared on one scale) and `plot` (found loss and trained accuracy against the budget).
"""
from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from ..analysis import comparison
from ..config import Config, variant
from ..config.settings import bad
from ..core import masks
from ..viz import fmt, plotting
from .base import Axis, SeedSearch, committed, from_record

COLUMNS = ["dataset", "model", "sparsity", "seed", "method", "candidates", "score",
           "score_batch", "found", "random_score", "parent_score"]


def table(cfg, records) -> pd.DataFrame:
    """One row per searched network of weedout, the random control and every variant: its
    search setting and `found`, its mask's score on the main batch with the main score kind."""
    rows = []
    main = {"candidates": cfg.candidates, "score": cfg.score, "score_batch": cfg.score_batch}
    for rec in records:
        keys = {k: rec[k] for k in ("dataset", "model", "sparsity", "seed")}
        ref = {"random_score": rec["random_score"], "parent_score": rec["parent_score"]}
        rows.append({**keys, "method": "weedout", **main,
                     "found": rec["scores"][rec["best_index"]], **ref})
        rows.append({**keys, "method": "random", **main, "candidates": 1,
                     "found": rec["random_score"], **ref})
        for name in cfg.variants:
            key, value = variant(name)
            rows.append({**keys, "method": name, **{**main, key: value},
                         "found": rec["comparators"][name]["main_score"], **ref})
    return pd.DataFrame(rows, columns=COLUMNS)


def _budget_rows(variants: pd.DataFrame, cfg_score: str, cfg_batch: int) -> pd.DataFrame:
    """The rows that differ from the main search in the budget only (random, candidates=*,
    weedout)."""
    return variants[(variants.score == cfg_score) & (variants.score_batch == cfg_batch)]


def plot(variants: pd.DataFrame, methods: pd.DataFrame, stats: pd.DataFrame):
    """Two rows per cell, x = candidates scored (log): top, how much lower the winner's loss is
    than the random control's (mean over seeds, one line per sparsity level, black: the mean
    over levels); bottom, the trained accuracy difference vs random (pp; weedout's from
    stats.csv, the variants' from methods.csv). The random control is the dashed zero line;
    `candidates=1` (another random draw) shows how far from it chance alone goes. Score and
    batch variants are drawn at the main budget as open markers."""
    main = variants[variants.method == "weedout"].iloc[0]
    budget = _budget_rows(variants, main.score, main.score_batch)
    others = sorted(set(variants.method) - set(budget.method))
    diff = pd.concat([
        stats.assign(method="weedout")[["dataset", "model", "sparsity", "method", "diff_mean"]],
        methods[["dataset", "model", "sparsity", "method", "diff_mean"]]])
    gain = variants.assign(gain=variants.random_score - variants.found).groupby(
        ["dataset", "model", "sparsity", "method"]).agg(gain=("gain", "mean"),
                                                       candidates=("candidates", "first"))
    gain = gain.reset_index().merge(diff, how="left", on=["dataset", "model", "sparsity",
                                                           "method"])
    panels = plotting.panel_cells(variants)
    fig, axes = plotting.subplots(2, len(panels), w=4.6, h=3.4)
    cmap = plotting.plt.get_cmap("viridis")
    levels = sorted(gain.sparsity.unique())
    markers = dict(zip(others, ("^", "s", "D", "v", "P")))
    for col, (ds, model) in enumerate(panels):
        cell = gain[(gain.dataset == ds) & (gain.model == model)]
        for row, (y, scale, label) in enumerate([("gain", 1.0, "loss below random's (nats)"),
                                                 ("diff_mean", 100.0, "Δ accuracy vs random (pp)")]):
            ax = axes[row, col]
            b = cell[cell.method.isin(budget.method.unique()) & (cell.method != "random")]
            for i, s in enumerate(levels):
                g = b[b.sparsity == s].sort_values("candidates")
                ax.plot(g.candidates, g[y] * scale, color=cmap(i / max(1, len(levels) - 1)),
                        lw=0.9, alpha=0.8, marker=".", ms=4, label=f"{100 * s:g}%")
            m = b.groupby("candidates")[y].mean()
            ax.plot(m.index, m * scale, color="black", lw=2, label="mean over levels")
            for name in others:
                o = cell[cell.method == name]
                ax.scatter(o.candidates.iloc[:1] * 1.25, [o[y].mean() * scale],
                           marker=markers[name], facecolor="none", edgecolor="black", s=45,
                           zorder=4, label=f"{name} (mean)")
            ax.axhline(0, color=plotting.METHOD_COLORS["random"], lw=1, ls="--")
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_ylabel(label)
            if row == 1:
                ax.set_xlabel("candidates scored")
            ax.set_title(f"{ds} · {model}", fontsize=10.5)
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.02, 0.0), fontsize=7.5,
                       title="sparsity", title_fontsize=8)
    fig.suptitle("Search budget: the winner's loss and its trained accuracy, against random",
                 fontsize=11.5)
    return fig


def summary(variants: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model x method: mean loss of the winner below the random control's (nats)
    and how often (fraction of searches) it is below it at all."""
    v = variants.assign(gain=variants.random_score - variants.found)
    g = v.groupby(["dataset", "model", "method"], sort=True)
    return pd.DataFrame({"candidates": g.candidates.first(), "score": g.score.first(),
                         "score_batch": g.score_batch.first(), "loss_gain": g.gain.mean(),
                         "below_random": g.gain.apply(lambda x: float(np.mean(x > 0)))}
                        ).reset_index()


def render_budget(root: Path, preset: str) -> str:
    """Per dataset, model and search setting: how far below the random control's loss its
    winner lands, how often, and how its trained networks compare with random."""
    got = committed(root, preset, "variants.csv", "methods.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    found = summary(pd.read_csv(folder / "variants.csv")).sort_values(
        ["dataset", "model", "candidates", "method"]).set_index(["dataset", "model", "method"])
    verdicts = comparison.summary(pd.read_csv(folder / "methods.csv")).set_index(
        ["dataset", "model", "method"])
    lines = [f"From {fmt.evidence(preset, run)}.", "",
             "| dataset / model | method | candidates | score | batch | loss below random's "
             "(nats) | searches below random | equivalent / inconclusive / better / worse | mean Δ "
             "accuracy vs random (pp) | smallest p (Holm) |",
             "|---|---|---:|---|---:|---:|---:|---|---:|---:|"]
    for key, r in found.iterrows():
        if key[2] == "random":
            continue
        v = verdicts.loc[key] if key in verdicts.index else None
        counts = ("n/a" if v is None else
                  " / ".join(str(int(v[k])) for k in ("equivalent", "inconclusive", "better",
                                                       "worse")))
        lines.append(f"| {key[0]} / {key[1]} | {key[2]} | {r.candidates} | {r.score} | "
                     f"{r.score_batch} | {fmt.signed(r.loss_gain, 4)} | {fmt.pct(r.below_random, 0)}% | "
                     f"{counts} | {'n/a' if v is None else fmt.signed(100 * v.mean_diff, 2)} | "
                     f"{'n/a' if v is None else fmt.p(v.min_p_holm, 2)} |")
    return "\n".join(lines)


def _scorer(cfg: Config, name: str, seeded: SeedSearch):
    """(budget, (x, y, score)) of a variant: the main search's with its one setting changed
    (a smaller scoring batch is a prefix of the main one: the same permutation)."""
    key, value = variant(name)
    if key == "candidates":
        return value, (seeded.x, seeded.y, seeded.score)
    vcfg = dataclasses.replace(cfg, **{key: value})
    vx, vy = seeded.batch_of(vcfg, seeded.seed)
    return cfg.candidates, (vx, vy, seeded.structure.scorer(seeded.arch, seeded.parent, vx, vy,
                                                            vcfg.score))


def _search(cfg: Config, seeded: SeedSearch, budget: int, scored_by: tuple, s: float) -> dict:
    """A variant's search of one level: the main search's stream, so a score or batch variant
    scores the very same masks; its winner's score on the main batch too (`main_score`)."""
    res, c = seeded.search(cfg.strategy, s, "search", budget=budget, scored_by=scored_by)
    return {"keep": masks.to_lists(res.best), "score": res.scores[res.best_index],
            "main_score": float(seeded.score(res.best)[0]), "scores": res.scores, "cost": c}


class Variants(Axis):
    name = "variants"
    fields = ("variants",)
    tables = {"variants.csv": "search"}
    title = "Search budget and score"
    about = ("How far below the random control's loss each search setting's winner lands, and "
             "in what fraction of the searches; their trained networks' verdicts are in the "
             "methods summary, and figures/<preset>/budget.png draws both against the budget.")

    def validate(self, cfg: Config) -> None:
        for name in cfg.variants:
            key, value = variant(name)
            if value == getattr(cfg, key) or cfg.variants.count(name) > 1:
                raise bad("variants", name, f"a setting other than the main search's own "
                          f"({key}={getattr(cfg, key)}), not repeated")

    def methods(self, cfg: Config) -> tuple[str, ...]:
        return cfg.variants

    def seed_searches(self, cfg: Config, seeded: SeedSearch) -> dict:
        # scorers built once per seed, as the main search's is
        return {name: partial(_search, cfg, seeded, *_scorer(cfg, name, seeded))
                for name in cfg.variants}

    def networks(self, cfg: Config, record: dict, seed: int, first: dict) -> list:
        return [(name, seed, from_record(record, name)) for name in cfg.variants]

    def search_tables(self, cfg: Config, records: list[dict]) -> dict:
        return {"variants.csv": table(cfg, records)}

    def figures(self, cfg: Config, read) -> dict:
        return {"budget": plot(read("variants.csv"), read("methods.csv"), read("stats.csv"))}

    def summary(self, cfg: Config, read) -> list:
        return [("The winner's loss below random's, per search setting",
                 summary(read("variants.csv")))]

    def report(self, root: Path, preset: str) -> str:
        return render_budget(root, preset)
