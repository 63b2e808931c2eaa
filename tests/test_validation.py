"""The bad-input matrix: every notebook/CLI parameter with a wrong type, an out-of-range value
and an unknown name.

Each bad value must be refused by `experiment.configure` (what every notebook and the CLI call
first) with an error that names the parameter, shows the bad value and says what is allowed,
before any work starts, leaving an existing results folder byte-identical. A few of the same
cases then go through `python -m weedout` in a subprocess: non-zero exit, the message on
stderr, nothing written.
"""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from weedout import config, data, experiment
from weedout.config import paths

FILE = object()  # placeholder: replaced by the path of an existing *file* in the test
UNDER = object()  # placeholder: a path under that file (no folder can be made there)

# (parameter, bad value, text the message must contain to say what is allowed, the value
# the message must show when it is not the whole value, e.g. the offending list entry)
CASES = [
    ("PRESET", "huge", f"one of {list(config.PRESETS)}", None),
    ("PRESET", ["smoke"], "one of", None),
    ("PRESET", 3, "one of", None),
    ("DATASETS", "imagenet", "one of ['digits', 'mnist1d'", None),
    ("DATASETS", [], "non-empty list", None),
    ("DATASETS", ["digits", "digits"], "must not repeat", None),
    ("DATASETS", 5, "non-empty list of names", None),
    ("DATASETS", ["digits", 5], "one of", 5),
    ("MODELS", ["resnet"], "one of ['mlp', 'cnn1d', 'cnn']", "resnet"),
    ("MODELS", "resnet", "one of ['mlp', 'cnn1d', 'cnn']", None),
    ("MODELS", ["cnn1d"], "allowed for 'digits': ['mlp', 'cnn']", "cnn1d"),
    ("MODELS", [], "non-empty list", None),
    ("MODELS", ["mlp", "mlp"], "must not repeat", None),
    ("SPARSITIES", 1.0, "(0, 1)", None),
    ("SPARSITIES", -0.1, "(0, 1)", None),
    ("SPARSITIES", "0.5", "numbers in (0, 1)", None),
    ("SPARSITIES", [0.5, 0.5], "must not repeat", None),
    ("SPARSITIES", float("nan"), "(0, 1)", None),
    ("SPARSITIES", float("inf"), "(0, 1)", None),
    ("SPARSITIES", [], "non-empty list", None),
    ("SPARSITIES", [0.5, "0.9"], "(0, 1)", "0.9"),
    ("SPARSITIES", True, "numbers in (0, 1)", None),
    ("SPARSITIES", 0.9999999, "(0, 1)", None),  # would round to 1.0: no node kept
    # level 0 is the dense parent, which every run trains: as a level it was dropped silently
    ("SPARSITIES", 0.0, "the dense parent, level 0, is in every run", None),
    ("SPARSITIES", [0, 0.5], "the dense parent, level 0, is in every run", 0),
    # papermill's -p passes text: a list parameter must come through -y
    ("SPARSITIES", "[0.5,0.9]", '-y, e.g. -y "SPARSITIES: [0.5, 0.9]"', None),
    ("DATASETS", "[digits, mnist1d]", '-y, e.g. -y "DATASETS: [digits, mnist1d]"', None),
    ("SEEDS", "0,1", '-y, e.g. -y "SEEDS: [0, 1]"', None),
    # records are keyed by the level to three decimals: these two would share one record
    ("SPARSITIES", [0.5, 0.5004], "at most three decimals", 0.5004),
    ("SPARSITIES", 0.1234, "at most three decimals", None),
    ("SEEDS", 0, ">= 1", None),
    ("SEEDS", -1, ">= 1", None),
    ("SEEDS", 2.5, "a count n >= 1", None),
    ("SEEDS", True, "a count n >= 1", None),
    ("SEEDS", [1, 1], "must not repeat", None),
    ("SEEDS", [], "a count n >= 1", None),
    ("SEEDS", [0, -1], "whole number >= 0", -1),
    ("SEEDS", ["0"], "whole number >= 0", "0"),
    ("SEEDS", "3", "a count n >= 1", None),
    ("WIDTHS", 0, "a number > 0", None),
    ("WIDTHS", [1, -2], "a number > 0", -2),
    ("WIDTHS", [0.5, 0.5], "must not repeat", None),
    ("WIDTHS", "2", "a list of parent-width factors", None),
    ("WIDTHS", [True], "a number > 0", True),
    ("WIDTHS", float("inf"), "a number > 0", None),
    # 0.3 x 64 nodes = 19.2: a parent of fractional nodes does not exist
    ("WIDTHS", [1, 0.3], "whole number (>= 1) of nodes", 0.3),
    ("CANDIDATES", 0, "positive whole number", None),
    ("CANDIDATES", -5, "positive whole number", None),
    ("CANDIDATES", 1.5, "positive whole number", None),
    ("CANDIDATES", "10", "positive whole number", None),
    ("CANDIDATES", True, "positive whole number", None),
    ("EPOCHS", 0, "positive whole number", None),
    ("EPOCHS", -1, "positive whole number", None),
    ("EPOCHS", 2.5, "positive whole number", None),
    ("EPOCHS", "3", "positive whole number", None),
    ("DEVICE", "tpu", "one of ['auto', 'cpu', 'cuda']", None),
    ("DEVICE", "CPU", "one of ['auto', 'cpu', 'cuda']", None),
    ("DEVICE", ["cpu"], "one of ['auto', 'cpu', 'cuda']", None),
    ("DATA_ROOT", 5, "a folder path", None),
    ("DATA_ROOT", "", "a folder path", None),
    ("DATA_ROOT", FILE, "a folder", None),
    ("RESULTS_DIR", ["results"], "a folder path", None),
    ("RESULTS_DIR", 3.5, "a folder path", None),
    ("RESULTS_DIR", "", "a folder path", None),
    ("RESULTS_DIR", FILE, "a folder", None),
    ("FIGURES_DIR", 7, "a folder path", None),
    ("FIGURES_DIR", FILE, "a folder", None),
    ("RESULTS_DIR", UNDER, "is an existing file: no folder can be made under it", None),
    ("FIGURES_DIR", UNDER, "is an existing file: no folder can be made under it", None),
    ("DATA_ROOT", UNDER, "is an existing file: no folder can be made under it", None),
    ("PRESET", "smok", "did you mean 'smoke'? one of", None),
    # unknown names: a typo must not be dropped silently (the run would use the preset's value)
    ("EPOCH", 3, "unknown parameter; did you mean EPOCHS?", None),
    ("epochs", 3, "unknown parameter; did you mean EPOCHS?", None),
    ("SEED", 2, "unknown parameter; did you mean SEEDS?", None),
    ("RESULT_DIR", "x", "unknown parameter; did you mean RESULTS_DIR?", None),
    ("PRECISION", "float16", "one of ['float32', 'bfloat16']", None),
    ("PRECISION", ["bfloat16"], "one of", None),
    ("INIT", "shrunk", "one of ['inherited', 'rescaled']", None),
    ("INIT", ["rescaled"], "one of", None),
    ("LR", 0.1, "unknown parameter; known parameters are PRESET, DATASETS", None),
]
if not torch.cuda.is_available():
    CASES.append(("DEVICE", "cuda", "'auto' or 'cpu'", None))


def test_matrix_covers_every_parameter():
    assert {c[0] for c in CASES} >= {"PRESET", *config.PARAMETERS}
    for name in ("PRESET", *config.PARAMETERS):  # a wrong type and a wrong value for each
        assert sum(c[0] == name for c in CASES) >= 2, name


def snapshot(root: Path) -> dict:
    """Every file and folder under root: its bytes (files) and mtime."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (p.read_bytes() if p.is_file() else None, st.st_mtime_ns)
    return out


@pytest.fixture
def existing(tmp_path):
    """A results folder holding a finished run's kind of files (content is arbitrary)."""
    res = tmp_path / "results"
    rec = res / "trials" / "0123456789" / "search" / "digits-mlp-s0.500-seed0.json"
    rec.parent.mkdir(parents=True)
    rec.write_text('{"format": 1}')
    (res / "accuracy.csv").write_text("dataset,model\ndigits,mlp\n")
    (res / "run.json").write_text("{}")
    (res / ".lock").write_text("123")
    return res


def _ids(case):
    name, value = case[0], case[1]
    return f"{name}={'FILE' if value is FILE else 'FILE/sub' if value is UNDER else repr(value)}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_bad_parameter_is_refused_clearly_and_touches_nothing(case, existing, tmp_path):
    name, value, allowed, shown = case
    if value is FILE or value is UNDER:
        file = tmp_path / "a_file"
        file.write_text("not a folder")
        value = str(file if value is FILE else file / "sub")
    params = {"RESULTS_DIR": str(existing)}
    if name == "PRESET":
        args = (value,)
    else:
        args = ("smoke",)
        params[name] = value
    before = snapshot(tmp_path)
    with pytest.raises(ValueError) as err:
        experiment.configure(*args, **params)
    msg = str(err.value)
    assert name in msg, msg
    assert repr(value if shown is None else shown) in msg, msg
    assert allowed in msg, msg
    assert snapshot(tmp_path) == before  # no folder made, no file touched


def test_none_means_the_preset_value(existing):
    cfg = experiment.configure("smoke", **{k: None for k in config.PARAMETERS})
    assert cfg == config.PRESETS["smoke"]


def test_missing_dataset_is_refused_before_work(existing, tmp_path, monkeypatch):
    """A torchvision dataset that is not on disk (and cannot be downloaded: no network here)
    fails configure with its name, the folder looked in and DATA_ROOT, results untouched."""
    def offline(*a, **k):
        raise socket.gaierror(socket.EAI_NONAME, "offline (test)")
    monkeypatch.setattr(socket, "getaddrinfo", offline)
    before = snapshot(existing)
    with pytest.raises(data.DatasetUnavailableError) as err:
        experiment.configure("smoke", DATASETS=["cifar10"], DATA_ROOT=str(tmp_path / "empty"),
                             RESULTS_DIR=str(existing))
    msg = str(err.value)
    assert "'cifar10'" in msg and "DATA_ROOT" in msg and str(tmp_path / "empty") in msg
    assert snapshot(existing) == before


# ---- the same through `python -m weedout` ------------------------------------------------------

CLI_CASES = [
    (["--epochs", "0"], "EPOCHS=0"),
    (["--sparsities", "0.5,1.5"], "SPARSITIES=1.5"),
    (["--seeds", "1,1"], "SEEDS=[1, 1]"),
    (["--device", "tpu"], "DEVICE='tpu'"),
    (["--precision", "bf16"], "PRECISION='bf16'"),
    (["--init", "shrunk"], "INIT='shrunk'"),
    (["--preset", "huge"], "PRESET='huge'"),
    (["--epcohs", "3"], "--epcohs"),  # argparse: unrecognized argument
]


@pytest.mark.parametrize("argv,expected", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_cli_refuses_bad_parameters(argv, expected, existing, tmp_path):
    figures = tmp_path / "figures"
    before = snapshot(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    proc = subprocess.run([sys.executable, "-m", "weedout", "--preset", "smoke", *argv,
                           "--results-dir", str(existing), "--figures-dir", str(figures)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr  # a message, not a crash
    assert snapshot(tmp_path) == before


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    """A read-only RESULTS_DIR or FIGURES_DIR (or one under a read-only folder) is refused
    with its nearest existing folder named. These tests run as root, which ignores permission
    bits (os.access says yes to a chmod 555 folder), so os.access is made to say what it says
    to an ordinary user for that folder."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked
                        else real(p, mode, **kw))
    for name in ("RESULTS_DIR", "FIGURES_DIR"):
        with pytest.raises(ValueError) as err:
            experiment.configure("smoke", **{name: str(locked / "run")})
        assert str(err.value).startswith(
            f"{name}={str(locked / 'run')!r} is not allowed: {locked} is not writable by this "
            "user; choose another folder"), err.value
    assert list(locked.iterdir()) == []


# The gaps of issue 21 (item 6) as a user types them: (arguments, the whole of stderr). Each
# refused before any work; {tmp} is the test's folder, the working directory of the command.
GAPS = [
    (["--sparsities", "0.0"], "error: SPARSITIES=0.0 is not allowed: each sparsity must be a "
     "number in (0, 1) (the fraction of hidden nodes removed; the dense parent, level 0, is in "
     "every run)"),
    (["--sparsities", "0,0.5"], "error: SPARSITIES=0 is not allowed: each sparsity must be a "
     "number in (0, 1) (the fraction of hidden nodes removed; the dense parent, level 0, is in "
     "every run)"),
    (["--figures-dir", "a_file/sub"], "error: FIGURES_DIR='a_file/sub' is not allowed: a "
     "folder, but {tmp}/a_file is an existing file: no folder can be made under it"),
    (["--results-dir", "a_file/sub"], "error: RESULTS_DIR='a_file/sub' is not allowed: a "
     "folder, but {tmp}/a_file is an existing file: no folder can be made under it"),
    (["--workers", "2"], "error: --workers=2 is not allowed: --workers needs --executor local "
     "(the executor here is 'serial')"),
    (["--preset", "smok"], "error: PRESET='smok' is not allowed: did you mean 'smoke'? one of "
     f"{list(config.PRESETS)}"),
]


@pytest.mark.parametrize("argv,expected", GAPS, ids=[" ".join(a) for a, _ in GAPS])
def test_cli_closes_the_gaps_before_any_work(argv, expected, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    before = snapshot(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    args = ["--preset", "smoke", "--results-dir", "res", "--figures-dir", "fig", *argv]
    proc = subprocess.run([sys.executable, "-m", "weedout", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == expected.format(tmp=tmp_path) + "\n"
    assert proc.stdout == ""
    assert snapshot(tmp_path) == before


def test_papermill_list_as_text_points_to_yaml(tmp_path):
    """`papermill ... -p SPARSITIES "[0.5,0.9]"` passes text; the first cell that checks the
    parameters refuses it, pointing to -y, and nothing is computed."""
    res = tmp_path / "res"
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    proc = subprocess.run([sys.executable, "-m", "papermill", str(paths.NOTEBOOKS / "01_search.ipynb"),
                           str(tmp_path / "out.ipynb"), "-k", "python3", "-p", "SPARSITIES",
                           "[0.5,0.9]", "-p", "RESULTS_DIR", str(res)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert ("ValueError: SPARSITIES='[0.5,0.9]' is not allowed: a list, not text that looks "
            "like one (papermill's -p passes text): give it as YAML with -y, e.g. -y "
            '"SPARSITIES: [0.5, 0.9]"') in proc.stderr, proc.stderr
    assert not res.exists()
