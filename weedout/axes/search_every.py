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

import torch

from ..analysis import comparison
from ..config.settings import FIXED  # the twins that never move
from ..core import flops, masks, scoring, search
from ..core.seeds import derive_seed
from ..viz import plotting


def researcher(cfg, arch, nets, dset, batch_of, kept, ds, model, s):
    """The `research` callback of `core.segments.train_in_segments` for one level: weedout searches the network's current
    parent again (its winner replaces the current mask only if it scores lower), random draws a
    new mask; each returns the new mask and what happened (nodes moved, both scores, FLOPs)."""
    def research(m, parent, current, epoch):
        method, seed, _ = nets[m]
        x, y = batch_of(seed)
        score = scoring.scorer(arch, parent, x, y, kind=cfg.score)
        before = float(score(current)[0])
        if method == "random":
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


def researches_table(records) -> "pd.DataFrame":
    """One row per re-search of a network (training records of a run with search_every):
    the epoch, how many kept nodes it moved, the current mask's score and the new one's."""
    import pandas as pd
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
    import pandas as pd
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
