"""`python -m weedout.bench`: the engine measured against the naive reference and against its own
training step before issue 20, side by side in one process (run), the ways being timed (ways),
the machine's own rate for the engine's shapes (rates), clocks and memory meters (meters)."""
from .run import default_json, default_preset, main, parse

__all__ = ["default_json", "default_preset", "main", "parse"]
