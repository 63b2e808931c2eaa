"""Helpers the tests of the future-work axes share (not a test module)."""
import dataclasses

import torch

from weedout import config, experiment
from weedout.core import models


def tiny(kind, shape):
    """A small parent of `kind`, a generator and a random scoring batch for it."""
    arch = models.arch_for(kind, shape, 10, (16, 12), (8, 6))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, *shape, generator=g), torch.randint(10, (32,), generator=g)
    return arch, models.init_parent(arch, 0), g, x, y


def run_smoke(root, name: str, **fields):
    """The smoke preset with `fields` changed, run end to end under `root`; its Config."""
    config.PRESETS[name] = dataclasses.replace(config.PRESETS["smoke"], preset=name, **fields)
    try:
        cfg = experiment.configure(name, RESULTS_DIR=str(root / name / "results"),
                                   FIGURES_DIR=str(root / name / "figures"))
    finally:
        del config.PRESETS[name]
    experiment.run_all(cfg)
    return cfg
