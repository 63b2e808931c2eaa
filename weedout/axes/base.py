"""The axis protocol: every way a run departs from the paper's grid (the sparsity structure,
the parent's width, searching after some training or throughout it, search variants,
comparators and controls, ...) is one module behind this one interface, and one line in the
registry (`weedout.axes.registry`). The stages, `03_analysis` and the report loop over a run's
active axes; nothing else of the package branches on an axis's settings.

An axis overrides what it changes; every hook has a do-nothing default:

- settings: `fields` (the `Config` fields it adds), `validate` (a ValueError naming the field,
  the bad value and what is allowed, before any work), `active`;
- the trials: `methods` (networks trained beside weedout and random), `mask_structure`,
  `search_parent`, `seed_searches`, `networks`, `initialise`, `first_epoch`, `trainer`;
- its tables (`tables`: file name -> the stage that writes it) from `search_tables`,
  `training_tables` and `analysis_tables`, and `tag` (columns it adds to every table);
- its figures (`figures`) and Markdown/LaTeX tables (`text_tables`), drawn by 04_figures;
- its summary for 03_analysis (`summary`, under `title`, with `about` saying what it shows);
- its block for the report (`report`: Markdown from a committed run of a preset).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch

from ..config import Config
from ..config.settings import MissingStageError
from ..core import masks, search
from ..core.seeds import derive_seed

Read = Callable[[str], pd.DataFrame]  # an earlier stage's table of the run, by file name


class Axis:
    name = ""
    fields: tuple[str, ...] = ()
    tables: dict[str, str] = {}
    title = ""
    about = ""

    def active(self, cfg: Config) -> bool:
        """Whether a run has this axis: one of its fields differs from the paper's default."""
        default = Config()
        return any(getattr(cfg, f) != getattr(default, f) for f in self.fields)

    def validate(self, cfg: Config) -> None:
        """Raise ValueError naming the field, the bad value and what is allowed."""

    # -- how it changes the trials ------------------------------------------------------------
    def methods(self, cfg: Config) -> tuple[str, ...]:
        """The methods it trains beside weedout and random (in the order they are stacked);
        answered from its setting alone, active or not."""
        return ()

    def mask_structure(self, cfg: Config):
        """The run's mask structure (weedout.core.structures), if this axis sets it."""
        return None

    def search_parent(self, cfg: Config, setup, ds: str, model: str, seed: int, device):
        """(parameters, history) of the parent a search cuts, if not the untrained one."""
        return None

    def seed_searches(self, cfg: Config, seeded: "SeedSearch") -> dict:
        """More searches of one seed's parent: name -> fn(sparsity) -> the record entry."""
        return {}

    def networks(self, cfg: Config, record: dict, seed: int, first: dict) -> list:
        """More networks of one seed at one level: (method, seed, mask), from its search
        record (`first`: the weedout and random masks, as loaded)."""
        return []

    def initialise(self, cfg: Config, level: "Level", prepared) -> None:
        """Change the networks' starting weights in place (`prepared`: the level's networks as
        weedout.core.structures prepares them; e.g. a control re-initialised)."""

    def first_epoch(self, cfg: Config, sparsity: float | None) -> int:
        """The epoch a level's sparse networks start training at (0: from initialisation)."""
        return 0

    def trainer(self, cfg: Config, sparsity: float | None):
        """A training loop other than `train_stack` for a level: fn(level, prepared) ->
        (history, moves per network, extra FLOPs per network)."""
        return None

    # -- what it writes and shows -------------------------------------------------------------
    def tag(self, cfg: Config, df: pd.DataFrame) -> pd.DataFrame:
        """Columns this axis adds to every table of a run."""
        return df

    def search_tables(self, cfg: Config, records: list[dict]) -> dict[str, pd.DataFrame]:
        return {}

    def training_tables(self, cfg: Config, searches: list[dict],
                        trainings: list[dict]) -> dict[str, pd.DataFrame]:
        return {}

    def analysis_tables(self, cfg: Config, read: Read,
                        stats: pd.DataFrame) -> dict[str, pd.DataFrame]:
        return {}

    def figures(self, cfg: Config, read: Read) -> dict:
        return {}

    def text_tables(self, cfg: Config, read: Read) -> dict:
        """name -> (table, builder): written as Markdown and LaTeX by 04_figures."""
        return {}

    def summary(self, cfg: Config, read: Read) -> list[tuple[str, pd.DataFrame]]:
        """(caption, table) pairs for 03_analysis; [] when the run has nothing to show."""
        return []

    def report(self, root: Path, preset: str) -> str | None:
        """This axis's block for a committed run of `preset` under root/results (Markdown)."""
        return None


@dataclass
class SeedSearch:
    """What the searches of one seed share: its parent, scoring batch and scorer, and
    `search` (one strategy at one level, on its own random stream)."""
    cfg: Config
    ds: str
    model: str
    seed: int
    dset: Any
    arch: Any
    parent: list
    x: Any
    y: Any
    score: Callable
    structure: Any
    batch_of: Callable   # (cfg, seed) -> the scoring batch of that config

    def search(self, name: str, s: float, *stream, budget: int | None = None,
               scored_by: tuple | None = None):
        """(SearchResult, cost) of strategy `name` at level s: its masks from the generator
        of (seed, *stream, dataset, model, s); scored by `scored_by` (x, y, score) if given."""
        g = torch.Generator().manual_seed(derive_seed(self.seed, *stream, self.ds, self.model, s))
        x, y, score = scored_by or (self.x, self.y, self.score)
        ctx = search.context(self.arch, self.parent, x, y, s, budget or self.cfg.candidates, g,
                             score, kept=self.structure.kept(self.arch, s),
                             sample=self.structure.sampler(self.arch, s, g),
                             dense_cost=self.structure.dense_cost,
                             nodes_total=self.structure.nodes_total(self.arch, s))
        ctx.evaluate = self.score  # what saliency methods and variants report: the main score
        return search.run(search.STRATEGIES[name], ctx)


@dataclass
class Level:
    """One training level's networks as the axes see them: (method, seed, mask) each."""
    cfg: Config
    ds: str
    model: str
    sparsity: float | None
    dset: Any
    arch: Any
    nets: list
    seeds: list
    parents: list        # stacked parents, one per distinct seed
    index: Any           # network -> parent
    batch_of: Callable   # seed -> the scoring batch
    progress: Any = None
    kept: tuple | None = None
    extra: dict = field(default_factory=dict)


def committed(root: Path, preset: str, *tables: str) -> tuple[Path, dict] | str:
    """(folder, run.json) of a committed run that has `tables`, or the line saying it has none."""
    folder = Path(root) / "results" / preset
    if not all((folder / t).exists() for t in (*tables, "run.json")):
        return f"No committed `{preset}` run yet (`python -m weedout --preset {preset}`)."
    return folder, json.loads((folder / "run.json").read_text())


def from_record(record: dict, name: str):
    """The mask a comparator or variant chose, from its seed's search record (kept indices)."""
    if name not in record.get("comparators", {}):
        raise MissingStageError(f"the search record of {record['dataset']}/{record['model']} "
                                f"sparsity {record['sparsity']} seed {record['seed']} has no "
                                f"{name!r}: rerun notebooks/01_search")
    return masks.from_lists(record["comparators"][name]["keep"])
