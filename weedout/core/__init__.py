"""The engine, torch only: parents and their compaction (models), exact-count masks (masks),
how a level's node budget is spread (structures), the search strategies and their scorers
(search, scoring, saliency), stacked training (train, segments), FLOP formulas (flops), derived
seeds (seeds) and the naive reference engine (reference). Imports nothing else of weedout."""
