"""Sphinx configuration of the book (`make book` -> build/book/): the README as the landing page,
the study notebooks and the pipeline notebooks as committed (never executed here), the results
contract and the plug-in author's reference (autodoc). Sphinx + MyST-NB + sphinx-book-theme (the
Jupyter Book 1 stack) build offline; warnings are errors (`-W --keep-going`, in the Makefile).
"""
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # autodoc documents this checkout's weedout, not an installed one

# The notebooks live outside docs/. A link (made here, ignored by git) puts them at the same
# relative place as in the repository, so the README's links to notebooks/... resolve in the book.
LINK = DOCS / "notebooks"
if not LINK.is_symlink():
    LINK.symlink_to(Path("..") / "notebooks", target_is_directory=True)

project = "weedout"
author = "the weedout authors"
copyright = "2026, the weedout authors"
extensions = ["myst_nb", "sphinx.ext.autodoc"]
root_doc = "index"
# Only these are pages: a scratch notebook lying in notebooks/ does not break the build.
include_patterns = ["index.md", "contract.md", "reference.md", "notebooks/0[1-4]_*.ipynb",
                    "notebooks/study/*.ipynb"]
exclude_patterns = ["**/.ipynb_checkpoints"]

nb_execution_mode = "off"          # the study notebooks are rendered as committed, outputs and all
myst_heading_anchors = 3           # the README's links to its own sections (#notebooks-in-...)

# the package's docstrings write code as `name` (Markdown style): render it as code in the reference
default_role = "code"
autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "sphinx_book_theme"
html_title = "weedout"
html_theme_options = {"show_toc_level": 2, "use_download_button": False,
                      "use_fullscreen_button": False}
