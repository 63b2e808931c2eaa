"""The study notebooks (notebooks/study/) as committed evidence.

- They are committed WITH their outputs, which must read the same on any machine (no absolute
  paths, object addresses, errors or stderr), and git's `study` filter keeps them (while the
  `notebooks` filter strips the pipeline notebooks).
- nbval re-executes them strictly (`make test`); the drift test shows that this is live: in a
  copy of the repository's layout, one changed number in a committed CSV makes nbval fail,
  while changed image bytes alone do not (figures are compared by their text, not their pixels).
- Their hand-written prose carries no result number (`weedout.report.prose.result_digits`), nor
  does the README's: its numbers are all in generated blocks.
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from weedout import notebook_filter
from weedout.report import evolution, prose, questions

ROOT = Path(__file__).resolve().parents[1]
STUDY = sorted((ROOT / "notebooks" / "study").glob("*.ipynb"))
PIPELINE = ("01_search", "02_training", "03_analysis", "04_figures")
ONE_PIXEL = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
             "RU5ErkJggg==")


def staged(path: Path) -> str:
    """The notebook as git would commit it (the index), or the working file outside git."""
    rel = path.relative_to(ROOT).as_posix()
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f":{rel}"], capture_output=True)
    return shown.stdout.decode() if shown.returncode == 0 else path.read_text()


def outputs(nb: dict) -> list[dict]:
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]


def test_the_study_has_notebooks_and_their_answers():
    assert [p.stem for p in STUDY][:2] == ["01_claims", "02_stronger_search"]
    assert len(STUDY) >= 9  # the claims, a stronger search, PaI, the future-work questions, speed
    # a one-line answer each, for the README, in reading order
    assert list(questions.ANSWERS) == [p.stem for p in STUDY]


@pytest.mark.parametrize("path", STUDY, ids=lambda p: p.stem)
def test_committed_with_stable_outputs(path):
    text = staged(path)
    nb = json.loads(text)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["cells"][0]["cell_type"] == "markdown" and nb["cells"][0]["source"][0].startswith("# ")
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), "run in order"
    assert sum(bool(c["outputs"]) for c in code) >= len(code) - 1, "committed without outputs"
    assert any("image/png" in o.get("data", {}) for o in outputs(nb))
    assert any("text/markdown" in o.get("data", {}) for o in outputs(nb))  # the computed prose
    bad = [o for o in outputs(nb) if o["output_type"] == "error" or o.get("name") == "stderr"]
    assert not bad, bad
    texts = json.dumps([{k: v for k, v in o.get("data", {}).items() if not k.startswith("image/")}
                        | {"text": o.get("text", "")} for o in outputs(nb)])
    for machine_specific in (str(ROOT), "/tmp/", "/home/", r" at 0x[0-9a-f]+", "Wall time"):
        assert not re.search(machine_specific, texts), machine_specific
    assert text == notebook_filter.dumps(notebook_filter.clean(json.loads(text), keep_outputs=True))


def test_git_keeps_study_outputs_and_strips_pipeline_ones():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for rel, want in (("notebooks/study/01_claims.ipynb", "study"),
                      ("notebooks/01_search.ipynb", "notebooks")):
        attr = subprocess.run(["git", "-C", str(ROOT), "check-attr", "filter", "--", rel],
                              capture_output=True, text=True)
        assert attr.stdout.strip().endswith(f"filter: {want}"), attr.stdout + attr.stderr
    clean = subprocess.run(["git", "config", "-f", str(ROOT / ".gitconfig"), "filter.study.clean"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert clean == [".venv/bin/python", "-m", "weedout.notebook_filter", "--keep-outputs"]


def test_study_filter_turns_a_saved_notebook_back_into_the_committed_file():
    """A Run All and autosave in JupyterLab (other counts, timings, widget state) cleans back to
    the committed file, outputs kept; the pipeline filter would have dropped them."""
    committed = staged(STUDY[0])
    nb = json.loads(committed)
    saved = copy.deepcopy(nb)
    saved["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for cell in saved["cells"]:
        cell["metadata"]["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00.000Z"}
        if cell["cell_type"] == "code":
            cell["execution_count"] += 40
            for out in cell["outputs"]:
                if "execution_count" in out:
                    out["execution_count"] += 40
    args = [sys.executable, "-m", "weedout.notebook_filter"]
    cleaned = subprocess.run(args + ["--keep-outputs"], input=json.dumps(saved), cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert cleaned == committed
    stripped = json.loads(subprocess.run(args, input=json.dumps(saved), cwd=ROOT,
                                         capture_output=True, text=True, check=True).stdout)
    assert outputs(stripped) == [] and outputs(nb)


def layout_copy(tmp: Path, name: str) -> Path:
    """The notebook and the committed files it reads, at their relative places under tmp."""
    for preset in (evolution.EVOLUTION, evolution.BASE):
        for folder in ("results", "figures"):
            shutil.copytree(ROOT / folder / preset, tmp / folder / preset,
                            ignore=shutil.ignore_patterns("trials", "notebooks", "*.lock"))
    (tmp / "notebooks" / "study").mkdir(parents=True)
    return Path(shutil.copy2(ROOT / "notebooks" / "study" / f"{name}.ipynb",
                             tmp / "notebooks" / "study"))


def nbval_strict(path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(  # the kernel imports this checkout
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider",
                           "-q", str(path.relative_to(path.parents[2]))], cwd=path.parents[2],
                          capture_output=True, text=True, timeout=300, env=env)


def test_nbval_strict_fails_when_a_committed_number_changes(tmp_path):
    nb = layout_copy(tmp_path, "02_stronger_search")
    # image bytes alone: not compared (nbval skips image/png), so this copy still passes
    doc = json.loads(nb.read_text())
    for out in outputs(doc):
        if "image/png" in out.get("data", {}):
            out["data"]["image/png"] = ONE_PIXEL
    nb.write_text(json.dumps(doc))
    same = nbval_strict(nb)
    assert same.returncode == 0, same.stdout[-3000:] + same.stderr[-3000:]

    stats = tmp_path / "results" / evolution.EVOLUTION / "stats.csv"
    lines = stats.read_text().splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    col = header.index("mean_weedout")
    first[col] = repr(float(first[col]) + 0.01)  # one accuracy point, in one cell of the table
    stats.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    drift = nbval_strict(nb)
    report = drift.stdout + drift.stderr
    assert drift.returncode == 1, report[-3000:]
    assert "Cell outputs differ" in report and "failed" in report, report[-3000:]


@pytest.mark.parametrize("path", STUDY, ids=lambda p: p.stem)
def test_study_prose_has_no_typed_result_numbers(path):
    assert prose.result_digits(prose.markdown_cells(path)) == []


@pytest.mark.parametrize("text, found", [
    ("weedout loses 5.8 points at 80% sparsity", ["'5.8'", "'80%'"]),
    ("the drop is 15% (n = 10 seeds) and p < 0.05", ["'15%'", "'10'", "'0.05'"]),
    ("mnist1d, cnn1d, 01_search and x86_64: names, not numbers", []),
    ("arXiv 2403.08265 (2024), §3.2, torch 2.14.1, Python ≥ 3.10, engine v2", []),
    ("`--seeds 3` or --seeds 3 on a 2-core machine, 2 CPU cores, a 2-D CNN", []),
    ("the 95% CI at α = 0.05; phase 1 then phase 2", []),
    ("`accuracy 97.6` in code, ```\n0.5\n``` fenced, [link](figures/x1.png)", []),
    ("<!-- generated:claims -->\n| 97.6 |\n<!-- /generated:claims -->\n1. a list item", []),
])
def test_result_digits_rules(text, found):
    assert [hit.split(" in ")[0] for hit in prose.result_digits(text)] == found


def test_readme_prose_has_no_typed_result_numbers():
    hits = prose.result_digits((ROOT / "README.md").read_text())
    assert hits == [], f"{len(hits)} typed numbers, e.g. {hits[:5]}"


@pytest.mark.parametrize("name", ["01_search", "02_training", "03_analysis", "04_figures"])
def test_pipeline_prose_has_no_typed_result_numbers(name):
    path = ROOT / "notebooks" / f"{name}.ipynb"
    assert prose.result_digits(prose.markdown_cells(path)) == []
