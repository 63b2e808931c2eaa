"""Sentences about the notebooks' parameters that must stay true (issue 21, item 7): the
parameter list names every parameter (it had left out WIDTHS), and the pointer in each pipeline
notebook's parameter cell leads to a section that exists (it named a README section that did
not)."""
import json
import re

import pytest

from weedout.config import PARAMETERS, paths

PIPELINE = ("01_search", "02_training", "03_analysis", "04_figures")


def parameter_cell(name: str) -> str:
    cells = json.loads((paths.NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, name
    return "".join(tagged[0]["source"])


def test_the_parameter_list_names_every_parameter():
    text = (paths.ROOT / "docs" / "running.md").read_text()
    start = text.index("All four take the same parameters")
    listed = set(re.findall(r"`([A-Z_]+)`", text[start:text.index("\n\n", start)]))
    assert {"PRESET", *PARAMETERS} <= listed, sorted({"PRESET", *PARAMETERS} - listed)


@pytest.mark.parametrize("name", PIPELINE)
def test_the_parameter_cell_points_to_a_section_that_exists(name):
    cell = parameter_cell(name)
    page, section = re.search(r'\((\S+\.md): "([^"]+)"\)', cell).groups()
    headings = re.findall(r"^#+ (.+)$", (paths.ROOT / page).read_text(), re.M)
    assert section in headings, (page, section)
    # every parameter the notebook takes is in the cell, with the bare command's preset said
    assert all(re.search(rf"^{p} = None", cell, re.M) for p in ("PRESET", *PARAMETERS))
    assert 'A bare `python -m weedout` runs "cpu"' in cell
