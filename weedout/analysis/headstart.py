"""Does a better-scored mask start ahead, and does the lead last? Two views of a run's tables,
used for the search after some training (`Config.search_after`), where scores differ most:

- `search_gap`: how far below the median candidate's score the winner's score lies (search.csv;
  the median of the 100 scored random masks is what one random mask gets, typically);
- `gap_by_epoch`: each method's test accuracy minus the random control's, paired by seed, at
  chosen epochs of the curves (curves.csv): right after the cut, and at the end.
"""
from __future__ import annotations

import pandas as pd

CELL = ["dataset", "model"]


def search_gap(search: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model x sparsity: the median candidate's score, the winner's, and their
    difference (score units: nats for the loss), means over seeds."""
    g = search.groupby(CELL + ["sparsity", "seed"])
    per = pd.DataFrame({"median": g.score.median(),
                        "winner": search[search.chosen.astype(bool)].set_index(
                            CELL + ["sparsity", "seed"]).score})
    per["gap"] = per["median"] - per["winner"]
    return per.groupby(CELL + ["sparsity"]).mean().reset_index()


def gap_by_epoch(curves: pd.DataFrame, epochs, methods=None) -> pd.DataFrame:
    """Per dataset x model x sparsity x epoch x method: mean over seeds of (method - random)
    test accuracy in points, paired by seed; `methods` default: every one but dense and random."""
    c = curves[(curves.sparsity > 0) & curves.epoch.isin(list(epochs))]
    wide = c.pivot_table(index=CELL + ["sparsity", "epoch", "seed"], columns="method",
                         values="test_acc")
    methods = [m for m in (methods or wide.columns) if m not in ("dense", "random")]
    diff = wide[methods].sub(wide["random"], axis=0).mul(100)
    out = diff.groupby(level=CELL + ["sparsity", "epoch"]).mean()
    return out.reset_index().melt(id_vars=CELL + ["sparsity", "epoch"], var_name="method",
                                  value_name="diff").dropna(subset=["diff"])
