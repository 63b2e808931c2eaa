"""The work each method does: FLOPs (`weedout.core.flops`) and seconds of its search and of
its training, per trained network (compute.csv) and per method (its summary)."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

# The columns of cost.csv: what one method's search of one network did.
SEARCH_COST = ("forward", "backward", "flops", "seconds")

# Methods that choose no mask by looking at the network: their search costs nothing.
NO_SEARCH = ("dense", "random", "scratch", "rescaled")
COLUMNS = ["dataset", "model", "sparsity", "method", "seed", "search_flops", "search_seconds",
           "train_flops", "train_seconds", "total_flops", "total_seconds", "test_acc"]


def table(cost: pd.DataFrame | None, records: Iterable[dict]) -> pd.DataFrame:
    """One row per trained network: the FLOPs and seconds of its search (from cost.csv's rows,
    by method; 0 for NO_SEARCH) and of its training (from the training records), their totals
    and its final test accuracy (NaN when it diverged). Records from before training FLOPs
    were recorded give NaN there."""
    rows = []
    for rec in records:
        share = rec.get("seconds", np.nan) / rec.get("stacked", np.nan)
        for net in rec["networks"]:
            acc = np.nan if net["diverged_epoch"] is not None else net["curves"]["test_acc"][-1]
            rows.append({"dataset": rec["dataset"], "model": rec["model"],
                         "sparsity": rec["sparsity"], "method": net["method"], "seed": net["seed"],
                         "train_flops": net.get("train_flops", np.nan), "train_seconds": share,
                         "test_acc": acc})
    out = pd.DataFrame(rows)
    keys = ["dataset", "model", "sparsity", "method", "seed"]
    if cost is not None and len(cost):
        searched = cost[keys + ["flops", "seconds"]].rename(
            columns={"flops": "search_flops", "seconds": "search_seconds"})
        out = out.merge(searched, on=keys, how="left")
    else:
        out["search_flops"] = out["search_seconds"] = np.nan
    free = out.method.isin(NO_SEARCH)
    out.loc[free, ["search_flops", "search_seconds"]] = 0.0
    out["total_flops"] = out.search_flops + out.train_flops
    out["total_seconds"] = out.search_seconds + out.train_seconds
    return out[COLUMNS]


def summary(compute: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model x method, means over levels and seeds: search and training GFLOPs,
    the search's share of the total, seconds, and test accuracy."""
    g = compute.groupby(["dataset", "model", "method"], sort=True)
    out = g[["search_flops", "train_flops", "total_flops", "search_seconds",
             "train_seconds", "test_acc"]].mean()
    out["search_share"] = (compute.search_flops / compute.total_flops).groupby(
        [compute.dataset, compute.model, compute.method]).mean()
    for c in ("search_flops", "train_flops", "total_flops"):
        out[c] /= 1e9
    return out.rename(columns={c: c.replace("flops", "gflops") for c in out.columns}).reset_index()


def search_costs(records: Iterable[dict]) -> pd.DataFrame:
    """cost.csv: one row per searched network of the search records: forward/backward passes of
    one network, their FLOPs (NaN in records from before FLOPs were counted) and seconds; the
    random control draws its mask without looking at the network (no passes)."""
    rows = []
    for rec in records:
        costs = {"weedout": rec.get("cost"), "random": {"forward": 0, "backward": 0,
                                                        "flops": 0, "seconds": 0.0},
                 **{n: c.get("cost") for n, c in rec.get("comparators", {}).items()}}
        rows += [{"dataset": rec["dataset"], "model": rec["model"], "sparsity": rec["sparsity"],
                  "seed": rec["seed"], "method": m,
                  **{k: (c or {}).get(k, float("nan")) for k in SEARCH_COST}}
                 for m, c in costs.items()]
    return pd.DataFrame(rows)
