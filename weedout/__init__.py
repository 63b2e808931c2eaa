"""weedout: random search as a baseline for sparse neural network architecture search.

A thin package behind four notebooks (notebooks/01_search ... 04_figures): presets and
validation (config), datasets as device tensors (data), maskable parents (models), exact-count
masks (masks), the random-search heuristic (search), stacked training (train), resumable
records (results), statistics (stats), figures and tables (plotting, tables), and the stages the
notebooks call (experiment). `python -m weedout` runs the notebooks with papermill.
"""
__version__ = "0.1.0"
