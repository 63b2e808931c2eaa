"""fmt.evidence, the line that says where a committed run came from: when the last command
found training trials already on disk (an interrupted run, resumed), its wall time is not the
whole run's, and the line says how many trials that command computed."""
import json

from weedout.config import paths
from weedout.viz import fmt


def run_dict(computed: int, n: int, workers: bool) -> dict:
    training = {"seconds": 1.0, "trials_computed": 0 if workers else computed,
                "records": {"n": n, "commits": ["0123456789abcdef"]}}
    command = {"argv": ["python", "-m", "weedout"], "total_seconds": 600.0}
    if workers:  # with an executor the workers compute the trials; the notebook then finds them
        command["workers"] = {"executor": "local", "workers": 2, "threads_each": 1,
                              "train": {"trials": computed, "seconds": 590.0}}
    return {"config": {"seeds": [0, 1], "candidates": 4, "epochs": 1}, "cpu": "CPU",
            "cpu_count": 2, "stages": {"training": training}, "command": command}


def test_a_resumed_run_says_how_many_trials_its_command_computed():
    for workers in (True, False):
        line = fmt.evidence("p", run_dict(3, 8, workers))
        assert "10 min 00 s for `python -m weedout`, which computed 3 of the 8 training" in line
        assert "interrupted" in line
        whole = fmt.evidence("p", run_dict(8, 8, workers))
        assert "computed" not in whole and "interrupted" not in whole


def test_only_the_two_resumed_runs_say_so():
    """Read by hand from every committed run.json (the workers' train count against the training
    records): only these two runs were resumed, and only their lines say so."""
    said = {path.parent.name for path in paths.ROOT.glob("results/*/run.json")
            if "interrupted" in fmt.evidence("x", json.loads(path.read_text()))}
    assert said == {"cpu_unstructured_rescaled", "fashion_pai_global_rescaled"}


def test_cpu_unstructured_rescaled_was_resumed():
    """Read by hand from its run.json: the local workers trained 190 trials, the training
    records are 200."""
    run = json.loads((paths.ROOT / "results/cpu_unstructured_rescaled/run.json").read_text())
    assert "which computed 190 of the 200 training trials" in fmt.evidence("x", run)
