"""The study's questions, in reading order: each notebook of notebooks/study/ and the function
that answers it in one line (the README's table of questions calls these)."""
from __future__ import annotations

from . import claims, evolution

ANSWERS = {"01_claims": claims.claims_answer, "02_stronger_search": evolution.evolution_answer}
