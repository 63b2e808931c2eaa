"""Plug-ins: the modules named in WEEDOUT_PLUGINS, imported before any parameter is checked."""
from __future__ import annotations

import importlib
import os


def load_plugins() -> None:
    """Import the modules named in WEEDOUT_PLUGINS (comma-separated). A plugin registers its own
    search strategy, dataset or preset (search.STRATEGIES, data.DATASETS, PRESETS) at import;
    the variable reaches every notebook kernel, so papermill runs see the same registry."""
    for name in filter(None, (m.strip() for m in os.environ.get("WEEDOUT_PLUGINS", "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise ValueError(f"WEEDOUT_PLUGINS={name!r} could not be imported ({e}): name a "
                             "module on the Python path") from None
