"""The ways a run departs from the paper's grid, one module each behind one interface
(weedout.axes.base.Axis), listed in one registry (weedout.axes.registry). Adding an axis is a
module and a `registry.register` line, also from a plug-in.

    structure      node budget over the layers: local, non-uniform, global, unstructured
    widths         parent width as a grid axis (the degree of overparameterization)
    search_after   search after k epochs of the dense parent's training
    comparators    more strategies searched beside weedout (pruning-at-initialisation scores)
    variants       the same search with one setting changed (budget, score, scoring batch)
    controls       scratch and rescaled: the random mask trained differently
    search_every   searching again throughout training, beside fixed twins
    methods        every method vs random (any run with more methods than weedout and random)
    compute        FLOPs and seconds of search and training
"""
from . import registry
from .comparators import Comparators, Controls
from .compute import Compute
from .methods import Methods
from .search_after import SearchAfter
from .search_every import SearchEvery
from .structure import Structure
from .variants import Variants
from .widths import Widths

# The order the stages run them, and the order their methods are stacked in a level.
for _axis in (Structure(), Widths(), SearchAfter(), Comparators(), Variants(), Controls(),
              SearchEvery(), Methods(), Compute()):
    registry.register(_axis)

register, active = registry.register, registry.active
