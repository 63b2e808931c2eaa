"""The one build step pyproject.toml cannot declare: the four pipeline notebooks travel inside
the package (weedout/notebooks/ of the wheel), copied from notebooks/ (the one copy people
edit), so that `python -m weedout` works from any install (weedout.config.paths.NOTEBOOKS).
Everything else about the package is in pyproject.toml."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PIPELINE = "0[1-4]_*.ipynb"  # 01_search ... 04_figures; not notebooks/study/


class BuildWithNotebooks(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install is a clone: it runs the clone's notebooks/
        here = Path(__file__).resolve().parent / "notebooks"
        found = sorted(here.glob(PIPELINE))
        if len(found) != 4:  # a wheel without them fails only when a user runs it
            raise FileNotFoundError(f"expected the four pipeline notebooks in {here}, found "
                                    f"{[p.name for p in found]}")
        target = Path(self.build_lib) / "weedout" / "notebooks"
        self.mkpath(str(target))
        for nb in found:
            self.copy_file(str(nb), str(target / nb.name))


setup(cmdclass={"build_py": BuildWithNotebooks})
