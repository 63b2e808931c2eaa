"""Comparators and controls: more methods on the same parents, seeds and levels as weedout,
each judged against the same random network of its seed (the `methods` view).

- comparators (`Config.comparators`): more keys of `search.STRATEGIES` searched beside the
  strategy, each on its own random stream (adding one changes no other): the node-level
  pruning-at-initialisation scores of weedout.core.saliency and their inverted twins
  (`cpu_pai`), or a plug-in's own strategy;
- controls (`Config.controls`): the random mask trained differently, to explain the drop vs
  dense: `scratch` (a freshly initialised dense network with the sparse network's widths,
  Liu et al. 2019) and `rescaled` (the random mask with its kept weights rescaled to the sparse
  network's fan-in: the parent's initialisation is scaled for the parent's fan-in).
"""
from __future__ import annotations

from functools import partial

import torch

from ..config import Config
from ..config.settings import CONTROLS, RESERVED, bad
from ..core import masks, models, search
from ..core.seeds import derive_seed
from .base import Axis, Level, SeedSearch, from_record


def _search(seeded: SeedSearch, name: str, s: float) -> dict:
    res, c = seeded.search(name, s, "search", name)  # its own stream
    return {"keep": seeded.structure.store(res.best), "score": res.scores[res.best_index],
            "cost": c}


class Comparators(Axis):
    name = "comparators"
    fields = ("comparators",)

    def validate(self, cfg: Config) -> None:
        for name in cfg.comparators:
            if name not in search.STRATEGIES or name in RESERVED or name == cfg.strategy:
                raise bad("comparators", name, f"each one of {list(search.STRATEGIES)}, other "
                          f"than the strategy itself ({cfg.strategy!r}), not repeated")
        if len(set(cfg.comparators)) != len(cfg.comparators):
            raise bad("comparators", cfg.comparators, "entries must not repeat")

    def methods(self, cfg: Config) -> tuple[str, ...]:
        return cfg.comparators

    def seed_searches(self, cfg: Config, seeded: SeedSearch) -> dict:
        return {name: partial(_search, seeded, name) for name in cfg.comparators}

    def networks(self, cfg: Config, record: dict, seed: int, first: dict) -> list:
        return [(name, seed, from_record(record, name)) for name in cfg.comparators]


class Controls(Axis):
    name = "controls"
    fields = ("controls",)

    def validate(self, cfg: Config) -> None:
        for name in cfg.controls:
            if name not in CONTROLS or cfg.controls.count(name) > 1:
                raise bad("controls", name, f"each one of {list(CONTROLS)}, not repeated")

    def methods(self, cfg: Config) -> tuple[str, ...]:
        return cfg.controls

    def networks(self, cfg: Config, record: dict, seed: int, first: dict) -> list:
        # the random mask, as stored (`scratch` uses only its widths: it is re-initialised)
        return [(name, seed, masks.from_lists(record["random"])) for name in cfg.controls]

    def initialise(self, cfg: Config, level: Level, prepared) -> None:
        """In place: `scratch` networks get a fresh default initialisation at their own widths,
        `rescaled` ones their inherited weights scaled to their own fan-in."""
        params, carch = prepared.params, prepared.arch
        factors = models.fan_in_rescale(level.arch, carch)
        with torch.no_grad():
            for m, (method, seed, _) in enumerate(level.nets):
                if method == "scratch":
                    fresh = models.init_parent(carch, derive_seed(
                        seed, "scratch", level.ds, level.model, level.sparsity))
                    for p, f in zip(params, fresh):
                        p[m] = f.to(p.device)
                elif method == "rescaled":
                    for i, p in enumerate(params):
                        p[m] *= factors[i // 2]
