"""Sparsity structure (`Config.structure`, the paper's future work "non-uniform, global and
unstructured sparsity"): how a level's budget is spread over the layers, or over weights. The
mask structures themselves are weedout.core.structures; this axis chooses one for a run, checks
its settings, shows the allocations the searches end with, and writes its report block: weedout
against random under the structure, and its networks against the local ones of `cpu_pai`
(same parents, seeds and data orders), paired by seed.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import torch

from ..analysis import comparison
from ..config import Config, cells, parent_of
from ..config.settings import bad
from ..core import allocation as counting, structures
from ..viz import fmt
from ..viz import methods as methods_viz
from .base import Axis, committed

LOCAL_PRESET = "cpu_pai"  # the local networks the other structures are paired with
LOCAL_RESCALED = "cpu_rescaled"  # ... and those of a run whose sub-networks are rescaled
# A run on Fashion-MNIST (issue 19's `fashion_*` presets) is paired with the local networks of
# `fashion`'s grid, the cpu runs having no Fashion-MNIST cell: per initialisation.
FASHION_LOCAL = {"inherited": "fashion", "rescaled": "fashion_rescaled"}


def local_preset(run: dict) -> str:
    """The committed local run a structure run is paired with: the same initialisation, and
    for a run on Fashion-MNIST alone the `fashion` grid's networks."""
    cfg = run.get("config", {})
    init = "rescaled" if cfg.get("init") == "rescaled" else "inherited"
    if list(cfg.get("datasets", ())) == ["fashion_mnist"]:
        return FASHION_LOCAL[init]
    return LOCAL_RESCALED if init == "rescaled" else LOCAL_PRESET


def allocation(accuracy):
    """Per dataset x model x sparsity x method of a run's sparse networks: the mean kept nodes
    of every hidden layer over the seeds ("51.2-50.8"), and the mean share of the first layer
    (where a global search moves the budget, if anywhere); `smallest_share`, the smallest layer's
    share of those mean kept nodes (a layer collapse when small: `design_runs.collapses`)."""
    acc = accuracy[accuracy.sparsity > 0]
    layers = acc.widths.str.split("-", expand=True).astype(float)
    share = layers[0] / layers.sum(axis=1)
    keys = [acc[k] for k in ("dataset", "model", "sparsity", "method")]
    mean = layers.groupby(keys).mean()
    return pd.DataFrame({"kept_mean": mean.apply(lambda r: "-".join(f"{v:.1f}" for v in r), axis=1),
                         "first_share": share.groupby(keys).mean(),
                         "first_share_sd": share.groupby(keys).std(),
                         "smallest_share": mean.min(axis=1) / mean.sum(axis=1)}).reset_index()


def verdict_counts(v: pd.Series) -> str:
    """"equivalent / inconclusive / better / worse" counts of a verdict column."""
    names = ("equivalent", "inconclusive", "better", "worse")
    return " / ".join(str(int(v.str.endswith(n).sum())) for n in names)


def across_machines(root: Path, run: dict) -> str:
    """The note for a run paired with local networks made on another CPU model (`fashion`'s
    were made on an Intel Xeon): single networks differ by up to a couple of points from one
    model to another, and a pair across runs carries that spread."""
    got = committed(root, local_preset(run))
    theirs, mine = ("?" if isinstance(got, str) else got[1].get("cpu", "?")), run.get("cpu", "?")
    return ("" if theirs == mine
            else f" (made on {theirs}, this run on {mine}: paired across machines)")


def _vs_local(root: Path, preset: str, run: dict, name: str, st: pd.DataFrame,
              pairs: pd.DataFrame) -> list:
    """Evidence line and one row per dataset x model: weedout vs random under structure `name`
    (stats.csv), and its networks vs the local ones of `local_preset` (`pairs`), per method."""
    lines = [f"From {fmt.evidence(preset, run)}; local networks from `{local_preset(run)}`"
             f"{across_machines(root, run)}.", "",
             f"| dataset / model | weedout vs random, {name}: equivalent / inconclusive / "
             f"better / worse | smallest p (Holm) | {name} vs local, random: equivalent / "
             "inconclusive / better / worse | the same, weedout |", "|---|---|---:|---|---|"]
    for (ds, model), g in st.groupby(["dataset", "model"], sort=True):
        p = pairs[(pairs.dataset == ds) & (pairs.model == model)]
        lines.append(f"| {ds} / {model} | {verdict_counts(g.verdict)} | {fmt.p(g.p_holm.min(), 2)} | "
                     f"{verdict_counts(p[p.method == 'random'].verdict)} | "
                     f"{verdict_counts(p[p.method == 'weedout'].verdict)} |")
    return lines


def _runs(root: Path, preset: str):
    """(folder, run, stats, accuracy, pairs with the local run) or the line saying what is missing."""
    got = committed(root, preset, "stats.csv", "accuracy.csv")
    if isinstance(got, str):
        return got
    folder, run = got
    local = Path(root) / "results" / local_preset(run) / "accuracy.csv"
    if not local.exists():
        return f"No committed `{local_preset(run)}` run to compare with."
    acc = pd.read_csv(folder / "accuracy.csv")
    pairs = comparison.paired_runs(pd.read_csv(local), acc)
    if pairs.empty:
        return f"No cell of `{preset}` is in `{local_preset(run)}` to compare with."
    return folder, run, pd.read_csv(folder / "stats.csv"), acc, pairs


def render_structure(root: Path, preset: str, name: str) -> str:
    """A run with non-uniform or unstructured masks: weedout vs random over the levels; then,
    per level, its networks against the local ones (`comparison.paired_runs`), with kept nodes
    per layer (node masks) and parameters."""
    got = _runs(root, preset)
    if isinstance(got, str):
        return got
    _, run, st, _, pairs = got
    nodes = name != "unstructured"  # weight masks keep every node
    lines = _vs_local(root, preset, run, name, st, pairs)
    lines += ["", f"Per level: {'kept nodes per layer and ' if nodes else 'nonzero '}parameters "
              f"({name} vs local), and test accuracy {name} − local (pp, paired by seed, 95% "
              "CI, Holm p):", "",
              f"| dataset / model | sparsity | {f'kept: {name} / local | ' if nodes else ''}"
              "parameters | random Δ | weedout Δ |",
              f"|---|---:|{'---|' if nodes else ''}---:|---:|---:|"]
    for key, g in pairs.groupby(["dataset", "model", "sparsity"], sort=True):
        r = g.set_index("method")
        cell = [f"{fmt.signed(r.loc[m, 'diff_mean'], 1)} ({r.loc[m, 'diff_ci_low']:+.1f} … "
                f"{r.loc[m, 'diff_ci_high']:+.1f}; {fmt.p(r.loc[m, 'p_holm'], 2)})"
                for m in ("random", "weedout")]
        kept = f"{r.kept.iloc[0]} / {r.kept_local.iloc[0]} | " if nodes else ""
        lines.append(f"| {key[0]} / {key[1]} | {fmt.pct(key[2], 0)}% | {kept}"
                     f"{r.params.iloc[0]:,.0f} / {r.params_local.iloc[0]:,.0f} | {cell[0]} | "
                     f"{cell[1]} |")
    return "\n".join(lines)


def render_global(root: Path, preset: str) -> str:
    """The global run: weedout vs random and vs the local networks; per level, the allocation
    the search and the random draw end with (mean kept nodes per layer, first layer's share)."""
    got = _runs(root, preset)
    if isinstance(got, str):
        return got
    _, run, st, acc, pairs = got
    lines = _vs_local(root, preset, run, "global", st, pairs)
    alloc = allocation(acc).set_index(["dataset", "model", "sparsity", "method"])
    lines += ["", f"Per level: mean kept nodes per layer over the seeds (the local split in "
              f"`{local_preset(run)}` is even), the first layer's share (mean ± sd over seeds), and "
              "weedout − random (pp, Holm p):", "",
              "| dataset / model | sparsity | weedout: kept, first share | random: kept, first "
              "share | weedout − random |", "|---|---:|---|---|---:|"]
    for (ds, model, s), r in st.set_index(["dataset", "model", "sparsity"]).iterrows():
        cells_ = [f"{alloc.loc[(ds, model, s, m), 'kept_mean']}, "
                  f"{alloc.loc[(ds, model, s, m), 'first_share']:.2f} ± "
                  f"{alloc.loc[(ds, model, s, m), 'first_share_sd']:.2f}"
                  for m in ("weedout", "random")]
        lines.append(f"| {ds} / {model} | {fmt.pct(s, 0)}% | {cells_[0]} | {cells_[1]} | "
                     f"{fmt.signed(100 * r.diff_mean, 2)} ({fmt.p(r.p_holm, 2)}) |")
    return "\n".join(lines)


# Methods whose starting weights are not inherited from the parent as the mask cuts them: the
# dense parent, and the controls (`scratch` is re-initialised, `rescaled` is rescaled already).
NOT_INHERITED = ("dense", "scratch", "rescaled")


class Structure(Axis):
    """What a sub-network is: its mask structure (`structure`, `layer_density`) and how it
    inherits the parent's weights (`init`: inherited, or rescaled to each unit's kept fan-in)."""
    name = "structure"
    fields = ("structure", "layer_density", "init", "equal_to", "weight_rule")
    title = "Sparsity structure"
    about = ("How each level's node budget ends up spread over the hidden layers: the mean kept "
             "nodes per layer of weedout's and random's networks over the seeds, and the first "
             "layer's share of them.")

    def validate(self, cfg: Config) -> None:
        if cfg.structure not in structures.STRUCTURES:
            raise bad("structure", cfg.structure, f"one of {list(structures.STRUCTURES)}")
        if cfg.layer_density and cfg.structure != "nonuniform":
            raise bad("layer_density", cfg.layer_density, "() unless structure='nonuniform'")
        for field, allowed, owner in (("equal_to", counting.EQUAL_TO, "nonuniform"),
                                      ("weight_rule", counting.WEIGHT_RULES, "unstructured")):
            value = getattr(cfg, field)
            if value not in allowed:
                raise bad(field, value, f"one of {list(allowed)}")
            if value != allowed[0] and cfg.structure != owner:
                raise bad(field, value, f"{allowed[0]!r} unless structure={owner!r}")
        if cfg.structure in ("global", "unstructured") and (
                cfg.variants or cfg.controls or cfg.search_every
                or cfg.strategy != "random_search"
                or (cfg.comparators and cfg.structure == "unstructured")):
            raise bad("structure", cfg.structure, "'local' or 'nonuniform' in a run with "
                      "variants, controls, search_every or a strategy other than random_search "
                      "(or comparators, for unstructured masks): global and unstructured masks "
                      "are searched by random search, trained beside random, and global ones "
                      "beside saliency comparators ranked across the layers")
        if cfg.init == "rescaled" and (cfg.search_after or cfg.search_every
                                       or "rescaled" in cfg.controls):
            raise bad("INIT", cfg.init, "'inherited' in a run with search_after, search_every "
                      "or the 'rescaled' control: rescaling applies to a parent's weights at "
                      "initialisation, and the 'rescaled' control already is the rescaled random "
                      "mask")
        for ds, model in cells(cfg):
            layers = len(cfg.mlp_widths if parent_of(model)[0] == "mlp" else cfg.cnn_channels)
            d = cfg.layer_density
            if d and (len(d) != layers or not all(isinstance(v, (int, float)) and not isinstance(
                    v, bool) and 0 < v < math.inf for v in d)):
                raise bad("layer_density", d, f"one positive number per hidden layer ({layers} "
                          f"for {model}), or () for the ERK-style rule")

    def mask_structure(self, cfg: Config):
        return structures.make(cfg.structure, cfg.layer_density, cfg.init, cfg.equal_to,
                               cfg.weight_rule)

    def initialise(self, cfg: Config, level, prepared) -> None:
        """INIT rescaled: every sparse network's kept units scaled to their kept fan-in."""
        rows = [m for m, (method, _, _) in enumerate(level.nets) if method not in NOT_INHERITED]
        if cfg.init == "rescaled" and rows:
            with torch.no_grad():
                self.mask_structure(cfg).rescale(level.arch, prepared, rows)

    def tag(self, cfg: Config, df: pd.DataFrame) -> pd.DataFrame:
        """An `init` column after `model` in every table of a run whose sub-networks are
        rescaled (the paper's inherited weights add none: committed tables stay as they are)."""
        if cfg.init == "inherited" or "model" not in df.columns or "init" in df.columns:
            return df
        out = df.copy()
        out.insert(out.columns.get_loc("model") + 1, "init", cfg.init)
        return out

    def figures(self, cfg: Config, read) -> dict:
        """Global masks: the split of the budget each method ends with (`plot_split`)."""
        if cfg.structure != "global":
            return {}
        return {"split": methods_viz.plot_split(allocation(read("accuracy.csv")))}

    def summary(self, cfg: Config, read) -> list:
        if cfg.structure in ("local", "unstructured"):  # even splits; weight masks keep nodes
            return []
        # every sparse method: weedout, random and, in a comparators run, each saliency score
        return [("Mean kept nodes per layer and the first layer's share",
                 allocation(read("accuracy.csv")))]

    def report(self, root: Path, preset: str) -> str:
        got = committed(root, preset, "config.json")
        kind = ("" if isinstance(got, str) else got[1].get("config", {}).get("structure", ""))
        if kind == "global":
            return render_global(root, preset)
        return render_structure(root, preset, "unstructured" if kind == "unstructured"
                                else "non-uniform")
