"""weedout: random search as a baseline for sparse neural network architecture search.

A thin package behind four notebooks (notebooks/01_search ... 04_figures), in layers that
import only downwards:

    core       torch only: models, masks, structures, search, scoring, saliency, train, flops
    data       datasets as device tensors
    config     settings, presets, validation, plug-ins, paths
    analysis   statistics, versus-random comparisons, cost tables
    viz        figures, tables, number formats
    axes       one module per way a run departs from the paper's grid, and their registry
    pipeline   the stages (plan -> execute -> reduce), records, claims, lock, provenance
    cluster    executors (serial, local workers, Slurm)
    report     the README's generated blocks and the study's numbers
    cli, bench, fetch, notebook_filter   entry points

`python -m weedout` runs the notebooks with papermill. Two names stay where users script
against them: `from weedout import search` (the strategy registry, `weedout.core.search`) and
`from weedout import experiment` (the stages, `weedout.pipeline.stages`).
"""
import importlib

__version__ = "0.1.0"

# Documented aliases, resolved on first use (PEP 562): `import weedout` stays light (the git
# clean filter imports weedout.notebook_filter) and the old spellings keep working.
_ALIASES = {"search": "weedout.core.search", "experiment": "weedout.pipeline.stages"}


def __getattr__(name: str):
    if name in _ALIASES:
        return importlib.import_module(_ALIASES[name])
    raise AttributeError(f"module 'weedout' has no attribute {name!r}")
