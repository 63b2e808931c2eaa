"""Shared pytest setup: headless runs (no progress bars), as the CLI does."""
import os

os.environ["WEEDOUT_QUIET"] = "1"  # set before any test imports weedout.experiment
