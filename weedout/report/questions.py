"""The study's questions, in reading order: each notebook of notebooks/study/ and the function
that answers it in one line from the committed results (the notebook's first output, and the
README's table of questions: `weedout.report.readme`)."""
from __future__ import annotations

from . import (budget, claims, compute, designs, evolution, pai, parent_width, search_after,
               speedup, structure, throughout)

ANSWERS = {"01_claims": claims.claims_answer, "02_stronger_search": evolution.evolution_answer,
           "03_anything_better": pai.pai_answer, "04_search_budget": budget.budget_answer,
           "05_search_after": search_after.after_answer, "06_structure": structure.structure_answer,
           "07_parent_width": parent_width.width_answer, "08_throughout": throughout.throughout_answer,
           "09_compute": compute.compute_answer, "10_speed": speedup.speed_answer,
           "11_designs": designs.designs_answer}
