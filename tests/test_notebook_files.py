"""The committed notebooks as files.

- They carry no outputs, except the reference outputs of the cells nbval checks
  (# NBVAL_CHECK_OUTPUT), which are deterministic text and are kept by the git filter
  (tag keep_output); a changed reference makes nbval fail.
- The repository's git clean filter (weedout.notebook_filter) turns what JupyterLab saves back
  into the committed file.
- Their first cell says what to do when this kernel's Python cannot import weedout.
"""
import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("01_search", "02_training", "03_analysis", "04_figures")
CHECK = "# NBVAL_CHECK_OUTPUT"


def staged(name: str) -> str:
    """The notebook as git would commit it (the index), or the working file outside git.
    The working file may hold outputs autosaved by JupyterLab: the filter keeps those out of
    the index, so the index is what this test must judge."""
    rel = f"notebooks/{name}.ipynb"
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f":{rel}"], capture_output=True)
    return shown.stdout.decode() if shown.returncode == 0 else (ROOT / rel).read_text()


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def is_checked(cell) -> bool:
    return CHECK in "".join(cell["source"])


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs_but_the_nbval_references(name):
    nb = json.loads(staged(name))
    assert nb["metadata"]["kernelspec"]["name"] == "python3", \
        "papermill (-k python3) and nbval expect the python3 kernelspec; pick the 'Python " \
        "(weedout)' kernel only in your JupyterLab, and do not commit it"
    assert "widgets" not in nb["metadata"]
    for cell in code_cells(nb):
        tags = cell["metadata"].get("tags", [])
        # the two markers go together: nbval compares the outputs the filter keeps, and only those
        assert is_checked(cell) == ("keep_output" in tags), f"{name} {cell['id']}: {tags}"
        if not is_checked(cell):
            assert cell["outputs"] == [], f"{name} {cell['id']}: outputs committed"
            assert cell["execution_count"] is None, f"{name} {cell['id']}: count committed"
            continue
        assert cell["execution_count"] == 1  # nbval ignores a reference cell without a count
        assert cell["outputs"], f"{name} {cell['id']}: nbval has no reference to compare"
        for out in cell["outputs"]:  # deterministic text: no images, timings or counts
            assert out["output_type"] == "stream" and out["name"] == "stdout", out


def test_the_nbval_reference_exists_where_the_text_says_nbval_checks():
    nb = json.loads(staged("01_search"))
    checked = [c for c in code_cells(nb) if is_checked(c)]
    assert len(checked) == 1 and "".join(checked[0]["outputs"][0]["text"]) == "[1]\n"


def clean_command() -> list[str]:
    """The clean filter of .gitconfig, run with this interpreter."""
    cmd = subprocess.run(["git", "config", "-f", str(ROOT / ".gitconfig"),
                          "filter.notebooks.clean"], capture_output=True, text=True, check=True)
    args = cmd.stdout.split()
    assert args[0] == ".venv/bin/python" and args[1:] == ["-m", "weedout.notebook_filter"], args
    return [sys.executable, *args[1:]]


def test_the_filter_is_configured_by_the_repository():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no commits to keep outputs out of")
    attr = subprocess.run(["git", "-C", str(ROOT), "check-attr", "filter", "--",
                           "notebooks/01_search.ipynb"], capture_output=True, text=True)
    assert attr.stdout.strip().endswith("filter: notebooks"), attr.stdout + attr.stderr
    assert "include.path ../.gitconfig" in (ROOT / "Makefile").read_text()  # make sets it up
    clean_command()


def as_jupyterlab_saves_it(nb: dict) -> dict:
    """The notebook after Run All and an autosave: counts, every kind of output, widget state,
    execution timings."""
    nb = copy.deepcopy(nb)
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for i, cell in enumerate(code_cells(nb), 1):
        cell["execution_count"] = i + 7  # counts of a session that ran other cells first
        cell["metadata"]["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00.000Z"}
        cell["metadata"]["scrolled"] = True
        if is_checked(cell):  # what nbval compares: the same text, with another count
            continue
        cell["outputs"] = [
            {"name": "stderr", "output_type": "stream", "text": ["search: 100%\n"]},
            {"data": {"application/vnd.jupyter.widget-view+json": {
                "model_id": "abc", "version_major": 2, "version_minor": 0}},
             "metadata": {}, "output_type": "display_data"},
            {"data": {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]},
             "metadata": {}, "output_type": "display_data"},
            {"data": {"text/plain": [f"{i}"]}, "execution_count": i, "metadata": {},
             "output_type": "execute_result"}]
    return nb


@pytest.mark.parametrize("name", NAMES)
def test_filter_turns_a_saved_notebook_back_into_the_committed_file(name):
    committed = staged(name)
    saved = json.dumps(as_jupyterlab_saves_it(json.loads(committed)), indent=1)
    cleaned = subprocess.run(clean_command(), input=saved, capture_output=True, text=True,
                             check=True)
    assert cleaned.stdout == committed


def test_nbval_fails_when_a_reference_output_changes(tmp_path):
    """The check in 01_search is live: a copy whose reference says [2] fails under nbval."""
    nb = json.loads(staged("01_search"))
    for cell in code_cells(nb):
        if "parameters" in cell["metadata"].get("tags", []):  # the copy writes into tmp only
            cell["source"] += [f"\nRESULTS_DIR = {str(tmp_path / 'results')!r}",
                               f"\nFIGURES_DIR = {str(tmp_path / 'figures')!r}"]
        if is_checked(cell):
            cell["outputs"][0]["text"] = ["[2]\n"]
    (tmp_path / "01_search.ipynb").write_text(json.dumps(nb))
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider",
                          "01_search.ipynb"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 1, report
    assert "1 failed" in report and "passed" in report, report  # only the checked cell failed
    assert "Cell outputs differ" in report, report  # a mismatch, not an error in the cell
    assert "mismatch 'stdout'" in report and "- [1]" in report and "+ [2]" in report, report


def make_display_name() -> str:
    found = re.search(r'ipykernel install --user --name weedout --display-name "([^"]+)"',
                      (ROOT / "Makefile").read_text())
    assert found, "make kernel must register the project's kernel"
    return found.group(1)


def import_cell(name: str) -> str:
    nb = json.loads(staged(name))
    return "".join(next(c for c in code_cells(nb) if "from weedout import" in "".join(c["source"]))
                   ["source"])


@pytest.mark.parametrize("name", NAMES)
def test_kernel_without_weedout_is_told_which_kernel_to_pick(name, tmp_path):
    # -S: no site-packages, as in a JupyterLab kernel of another Python; run from an empty folder
    run = subprocess.run([sys.executable, "-S", "-c", import_cell(name)], cwd=tmp_path,
                         capture_output=True, text=True)
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: this kernel cannot import weedout"), run.stderr
    assert f"'{make_display_name()}'" in last and "make kernel" in last


def test_a_missing_dependency_of_weedout_is_not_blamed_on_the_kernel(tmp_path):
    fake = tmp_path / "weedout"
    fake.mkdir()
    (fake / "__init__.py").write_text("import torch_that_is_missing\n")
    run = subprocess.run([sys.executable, "-S", "-c", import_cell("01_search")], cwd=tmp_path,
                         capture_output=True, text=True)
    assert "No module named 'torch_that_is_missing'" in run.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("name", NAMES)
def test_valid_nbformat_with_unique_cell_ids(name):
    """nbformat 4.5 wants an id on every cell (a missing one is a warning today and 'a hard
    error in future nbformat versions'); a cell added by hand is where one goes missing."""
    import nbformat
    raw = json.loads(staged(name))   # nbformat.reads would quietly add the missing ids
    ids = [c.get("id") for c in raw["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), ids
    nbformat.validate(nbformat.from_dict(raw))
