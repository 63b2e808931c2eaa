"""pytest setup for every run under this folder, `pytest notebooks` (nbval) included.

Set before anything imports weedout or starts a kernel (kernels inherit the environment):
- WEEDOUT_QUIET: headless runs show no progress bars, as the CLI does;
- WEEDOUT_PRESET=smoke: the committed notebooks (PRESET = None) run the fast CPU preset that
  their nbval reference outputs were written for, whatever preset a developer chose for
  JupyterLab (WEEDOUT_PRESET in the shell, notebooks/preset.txt).
"""
import os

os.environ["WEEDOUT_QUIET"] = "1"
os.environ["WEEDOUT_PRESET"] = "smoke"
