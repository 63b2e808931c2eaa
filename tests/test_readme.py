"""The README's numbers are generated from the committed evidence (weedout.report.readme): a test fails
when regenerating them would change the README, so text and tables cannot drift apart."""
import json
import shutil

import pandas as pd
import pytest

from weedout.config import paths
from weedout.report import claims, questions, readme


def test_readme_blocks_are_up_to_date():
    text = readme.README.read_text()
    assert readme.update(text) == text, (
        "README.md's generated blocks differ from the committed results: run "
        "`python -m weedout.report.readme` (and commit the README with the results it cites)")
    assert readme.main(["--check"]) == 0


def test_a_hand_edited_number_is_caught_and_restored(capsys):
    text = readme.README.read_text()
    start = text.index("<!-- generated:claims -->")
    edited = text[:start] + text[start:].replace("| 10 |", "| 11 |", 1)
    assert edited != text and readme.update(edited) == text


def test_missing_block_is_an_error():
    with pytest.raises(ValueError, match="generated:questions"):
        readme.update("<!-- generated:claims -->\nx\n<!-- /generated:claims -->\n")


def test_claims_follow_the_tables(tmp_path):
    """Oracle: the drop at 80% in the generated table equals the paired mean computed here from
    accuracy.csv (dense minus weedout, per seed), and a preset without tables is left out."""
    for name in ("stats.csv", "accuracy.csv", "run.json"):
        (tmp_path / "results" / "cpu").mkdir(parents=True, exist_ok=True)
        shutil.copy(paths.ROOT / "results" / "cpu" / name, tmp_path / "results" / "cpu" / name)
    evidence, rows = claims.claims_rows("cpu", tmp_path)
    assert claims.claims_rows("fashion", tmp_path / "nowhere") is None
    acc = pd.read_csv(tmp_path / "results" / "cpu" / "accuracy.csv")
    for row in rows:
        ds, model = row["cell"].split(" / ")
        cell = acc[(acc.dataset == ds) & (acc.model == model)]
        dense = cell[cell.method == "dense"].set_index("seed").test_acc
        w80 = cell[(cell.method == "weedout") & (cell.sparsity.round(6) == 0.8)].set_index("seed").test_acc
        assert row["drop"].startswith(f"{100 * (dense - w80).mean():.1f} ")
        assert row["seeds"] == len(dense) and row["levels"] == cell.sparsity[cell.sparsity > 0].nunique()
    run = json.loads((tmp_path / "results" / "cpu" / "run.json").read_text())
    assert f"{len(run['config']['seeds'])} seeds" in evidence and "results/cpu/run.json" in evidence


def test_questions_link_every_study_notebook_with_its_answer():
    """The README's table of questions: one row per study notebook in reading order, its link a
    file that exists, its title the notebook's H1, its answer what the notebook's first output
    says (the same function)."""
    rows = readme.render_questions().splitlines()[2:]
    assert len(rows) == len(questions.ANSWERS)
    for row, (stem, answer) in zip(rows, questions.ANSWERS.items()):
        link, title, said = [c.strip() for c in row.strip("|").split(" | ")]
        path = paths.ROOT / f"notebooks/study/{stem}.ipynb"
        assert link == f"[{stem}](notebooks/study/{stem}.ipynb)" and path.exists()
        nb = json.loads(path.read_text())
        assert "".join(nb["cells"][0]["source"]).startswith(f"# {title}\n")
        first = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]][0]
        assert "".join(first["data"]["text/markdown"]) == f"**In one line.** {said}"
        assert said == answer(paths.ROOT)
