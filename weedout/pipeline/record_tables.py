"""The reduce step: the tables of a stage, rebuilt from its trial records (of the current config
only), and the errors that say which record is missing and what to run.
"""
from __future__ import annotations

import pandas as pd

from .. import config
from ..config import Config
from . import trials
from .records import MissingStageError, Store

CURVE_COLUMNS = ("train_loss", "train_acc", "test_loss", "test_acc")


def search_key(ds, model, s, seed) -> str:
    return trials.key((ds, model, s, seed))


def search_record(store: Store, ds: str, model: str, s: float, seed: int) -> dict:
    """A finished search trial, or an error saying which one is missing and what to run."""
    rec = store.load("search", search_key(ds, model, s, seed))
    if rec is None:
        raise MissingStageError(f"no search record for {ds}/{model} sparsity {s} seed {seed} "
                                f"under {store.root}: run notebooks/01_search first")
    return rec


def search_records(cfg: Config, store: Store) -> list[dict]:
    return [search_record(store, ds, model, s, seed) for ds, model in config.cells(cfg)
            for s in cfg.sparsities for seed in cfg.seeds]


def search_table(records: list[dict]) -> pd.DataFrame:
    """search.csv: one row per scored candidate of the search records, the winner marked."""
    rows = []
    for rec in records:
        rows += [{"dataset": rec["dataset"], "model": rec["model"], "sparsity": rec["sparsity"],
                  "seed": rec["seed"], "candidate": i, "score": sc, "chosen": i == rec["best_index"]}
                 for i, sc in enumerate(rec["scores"])]
    return pd.DataFrame(rows)


def train_records(cfg: Config, store: Store) -> list[dict]:
    out = []
    for trial in trials.plan(cfg, "train"):
        rec = store.load("train", trials.key(trial))
        if rec is None:
            raise MissingStageError(f"no training record for {trial}: run notebooks/02_training")
        out.append(rec)
    return out


def training_tables(cfg: Config, store: Store,
                    records: list[dict] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """accuracy.csv and curves.csv from the training records (`records`: already loaded)."""
    acc, cur = [], []
    for rec in (train_records(cfg, store) if records is None else records):
        for net in rec["networks"]:
            keys = {"dataset": rec["dataset"], "model": rec["model"], "sparsity": rec["sparsity"],
                    "method": net["method"], "seed": net["seed"]}
            c = net["curves"]
            diverged = net["diverged_epoch"] is not None
            final = {k: (float("nan") if diverged else c[k][-1]) for k in CURVE_COLUMNS}
            acc.append({**keys, **final, "init_score": net["init_score"],
                        "widths": "-".join(map(str, net["widths"])), "params": net["params"],
                        "flops": net["flops"], "node_sparsity": net["node_sparsity"],
                        "param_sparsity": net["param_sparsity"],
                        "flop_sparsity": net["flop_sparsity"], "diverged": diverged,
                        "diverged_epoch": net["diverged_epoch"], "epochs": rec["epochs"],
                        "device": rec["device"],  # cells resumed on another device show here
                        "config_digest": cfg.digest()})
            cur += [{**keys, "epoch": e, **{k: c[k][e] for k in CURVE_COLUMNS}}
                    for e in range(len(c["test_acc"]))]
    return pd.DataFrame(acc), pd.DataFrame(cur)
