"""Sparsity structure as an axis (`Config.structure`: local, nonuniform, global, unstructured;
the mask structures themselves are in weedout.core.structures): the views of a run's tables."""
from __future__ import annotations

import pandas as pd


def allocation(accuracy):
    """Per dataset x model x sparsity x method of a run's sparse networks: the mean kept nodes
    of every hidden layer over the seeds ("51.2-50.8"), and the mean share of the first layer
    (where a global search moves the budget, if anywhere)."""
    acc = accuracy[accuracy.sparsity > 0]
    layers = acc.widths.str.split("-", expand=True).astype(float)
    share = layers[0] / layers.sum(axis=1)
    keys = [acc[k] for k in ("dataset", "model", "sparsity", "method")]
    mean = layers.groupby(keys).mean()
    return pd.DataFrame({"kept_mean": mean.apply(lambda r: "-".join(f"{v:.1f}" for v in r), axis=1),
                         "first_share": share.groupby(keys).mean(),
                         "first_share_sd": share.groupby(keys).std()}).reset_index()
