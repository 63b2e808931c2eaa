"""Sphinx configuration of the book (`make book` -> build/book/): the README as the landing page,
the study notebooks and the pipeline notebooks as committed (never executed here), the pages the
README points to (the results contract, running it, presets, the package) and the plug-in
author's reference (autodoc). Sphinx + MyST-NB + sphinx-book-theme (the
Jupyter Book 1 stack) build offline; warnings are errors (`-W --keep-going`, in the Makefile).
"""
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # autodoc documents this checkout's weedout, not an installed one

# The notebooks live outside docs/. A mirror of them (made here, ignored by git) puts them at the
# same relative place as in the repository, so the README's links to notebooks/... resolve in the
# book. A copy, not a symbolic link: Sphinx resolves a link's target to its real path, which
# lies outside docs/ and is then no page. copy2 keeps the files' times, so an unchanged notebook
# is not rebuilt; a notebook deleted from notebooks/ leaves the mirror too.
MIRROR = DOCS / "notebooks"
if MIRROR.is_symlink():  # the link earlier versions of this file made
    MIRROR.unlink()
wanted = {p.relative_to(ROOT / "notebooks"): p for p in (ROOT / "notebooks").glob("**/*.ipynb")
          if ".ipynb_checkpoints" not in p.parts}
for old in MIRROR.glob("**/*.ipynb"):
    if old.relative_to(MIRROR) not in wanted:
        old.unlink()
for rel, src in wanted.items():
    dst = MIRROR / rel
    if not dst.exists() or dst.stat().st_mtime_ns != src.stat().st_mtime_ns:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)

project = "weedout"
author = "the weedout authors"
copyright = "2026, the weedout authors"
extensions = ["myst_nb", "sphinx.ext.autodoc"]
root_doc = "index"
# Only these are pages: a scratch notebook lying in notebooks/ does not break the build.
include_patterns = ["index.md", "contract.md", "running.md", "presets.md", "package.md",
                    "reference.md", "notebooks/0[1-4]_*.ipynb", "notebooks/study/*.ipynb"]
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
