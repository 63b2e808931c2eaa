"""Progress bars in JupyterLab: every bar a stage opens is closed, finished or not.

A tqdm bar that is never closed stays on screen frozen part-way ("search: 75% 3/4"); closed with
leave=False it disappears. tqdm.auto is replaced by a recorder, so the test sees each bar's
total, progress and whether it was closed, without a notebook frontend (tests/test_browser.py
checks the same in a real JupyterLab).
"""
import dataclasses

import pytest

from weedout import experiment


class Bar:
    made = []

    def __init__(self, total, desc, leave):
        self.total, self.desc, self.leave, self.n, self.closed = total, desc, leave, 0, False
        Bar.made.append(self)

    def update(self, k=1):
        assert not self.closed, f"{self.desc}: update after close"
        self.n += k

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def bars(monkeypatch):
    import tqdm.auto
    monkeypatch.delenv("WEEDOUT_QUIET", raising=False)  # as in JupyterLab
    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    Bar.made = []
    return Bar.made


def tiny(tmp_path):
    cfg = experiment.configure("smoke", RESULTS_DIR=str(tmp_path / "results"),
                               FIGURES_DIR=str(tmp_path / "figures"), SEEDS=1,
                               SPARSITIES=[0.5], CANDIDATES=3, EPOCHS=2)
    return dataclasses.replace(cfg, mlp_widths=(8, 8), batch_size=256)


def test_search_and_training_bars_finish_and_close(bars, tmp_path):
    cfg = tiny(tmp_path)
    experiment.run_search(cfg)
    experiment.run_training(cfg)
    assert [b.desc for b in bars] == ["search", "training"]
    assert [(b.n, b.total) for b in bars] == [(1, 1), (2 * 2, 2 * 2)]  # 2 cells x 2 epochs
    assert all(b.closed and not b.leave for b in bars)
    # a re-run has nothing to do: no empty "0it" bar
    experiment.run_search(cfg)
    experiment.run_training(cfg)
    assert len(bars) == 2


def test_interrupted_bar_is_closed_too(bars):
    with pytest.raises(KeyboardInterrupt):
        with experiment.progress_bar(4, "training") as bar:
            bar.update(1)
            raise KeyboardInterrupt  # what the stop button sends
    assert bars[0].closed and bars[0].n == 1


def test_headless_runs_have_no_bar(bars, monkeypatch):
    monkeypatch.setenv("WEEDOUT_QUIET", "1")
    with experiment.progress_bar(4, "search") as bar:
        assert bar is None
    assert bars == []
