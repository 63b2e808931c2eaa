"""Searching after k epochs (Config.search_after): one run cut in two. The dense parent trains k
epochs, the search sees it as it is then, the sparse networks train the remaining epochs with
the learning rates and data orders those epochs have in the whole run."""
import dataclasses
import types

import pytest
import torch

from weedout import config, experiment
from weedout.core import flops, masks, models
from weedout.pipeline import record_tables, workers
from weedout.pipeline.records import Store
from weedout.core.train import Schedule, train_stack


def _data(shape=(1, 4, 4), n_train=24, n_test=9):
    g = torch.Generator().manual_seed(0)
    return types.SimpleNamespace(
        name="t", x_train=torch.randn(n_train, *shape, generator=g),
        y_train=torch.randint(0, 3, (n_train,), generator=g),
        x_test=torch.randn(n_test, *shape, generator=g),
        y_test=torch.randint(0, 3, (n_test,), generator=g))


def test_a_run_cut_in_two_is_the_whole_run_without_momentum():
    """Oracle: epochs (0, k) then (k, E) from where the first part stopped equal the whole run
    bit for bit when nothing crosses the cut (momentum 0: the optimizer has no state)."""
    arch = models.Arch("mlp", (1, 4, 4), (8, 6), 3)
    params = models.stack([models.init_parent(arch, s) for s in (0, 1)])
    data, sched = _data(), Schedule(5, 8, 0.1, 0.0, 1e-3)
    whole = train_stack(arch, params, data, [0, 1], sched)
    head = train_stack(arch, params, data, [0, 1], sched, epochs=(0, 2))
    tail = train_stack(arch, head["params"], data, [0, 1], sched, epochs=(2, 5))
    for a, b in zip(whole["params"], tail["params"]):
        assert torch.equal(a, b)
    for key in ("train_loss", "test_acc"):
        assert torch.equal(whole[key][:3], head[key])
        assert torch.isnan(tail[key][:2]).all()
        assert torch.equal(whole[key][3:], tail[key][3:])
    # row k of the second part is measured before it trains: the first part's end, re-measured
    assert torch.equal(tail["test_acc"][2], whole["test_acc"][2])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("after")
    cfg = config.resolve("smoke", SEEDS=2, SPARSITIES=[0.5], CANDIDATES=4, EPOCHS=3,
                         RESULTS_DIR=str(root / "res"), FIGURES_DIR=str(root / "fig"))
    cfg = dataclasses.replace(cfg, mlp_widths=(16, 12), search_after=2, comparators=("magnitude",))
    return cfg, experiment.run_all(cfg)


def test_sparse_networks_share_the_dense_run_up_to_the_cut(run):
    """Oracle: a sparse network's first k epochs are the dense network's (same seed): the
    parent it was cut from is the dense run at epoch k. The digits MLP is bit-identical
    trained alone or stacked, so the rows are equal, not close."""
    cfg, acc = run
    store = Store(cfg.results_path, cfg.digest())
    recs = {(r["sparsity"], r["seed"]): r for r in record_tables.train_records(cfg, store)}
    for seed in cfg.seeds:
        dense = recs[(0.0, seed)]["networks"][0]["curves"]
        for net in recs[(0.5, seed)]["networks"]:
            for key in ("train_loss", "test_acc"):
                assert net["curves"][key][:2] == dense[key][:2]
                assert len(net["curves"][key]) == cfg.epochs + 1
            # epoch 2 is the cut network measured before its own training: not the dense one
            assert net["curves"]["test_loss"][2] != dense["test_loss"][2]


def test_the_search_sees_the_trained_parent(run):
    """The winning search score is the loss of the weedout network when its training resumes
    (the trained parent, cut), and magnitude ranks the trained weights, not the initial ones."""
    cfg, acc = run
    store = Store(cfg.results_path, cfg.digest())
    dset, arch = workers.setup(cfg, "digits", "mlp")
    for seed in cfg.seeds:
        rec = record_tables.search_record(store, "digits", "mlp", 0.5, seed)
        row = acc[(acc.method == "weedout") & (acc.seed == seed) & (acc.sparsity == 0.5)]
        assert row.init_score.item() == pytest.approx(rec["scores"][rec["best_index"]], abs=1e-6)
        trained, _ = workers.parent_for(cfg, arch, "digits", "mlp", seed, "cpu", trained=True)
        init = workers.parent_params(arch, "digits", "mlp", seed, "cpu")
        assert not torch.equal(trained[0], init[0])
        kept = masks.kept_widths(arch.widths, 0.5)
        want = [trained[2 * l].abs().sum(1).argsort(descending=True, stable=True)[:k].sort().values
                for l, k in enumerate(kept)]
        got = rec["comparators"]["magnitude"]["keep"]
        assert [list(map(int, w)) for w in want] == [g[0] for g in got]


def test_training_flops_count_the_parents_epochs(run):
    cfg, _ = run
    dset, arch = workers.setup(cfg, "digits", "mlp")
    store = Store(cfg.results_path, cfg.digest())
    rec = {(r["sparsity"], r["seed"]): r for r in record_tables.train_records(cfg, store)}[(0.5, 0)]
    carch = arch.with_widths(rec["networks"][0]["widths"])
    n, t = dset.x_train.shape[0], dset.x_test.shape[0]
    assert rec["networks"][0]["train_flops"] == (flops.training_flops(arch, 2, n, t)
                                                 + flops.training_flops(carch, 1, n, t))


@pytest.mark.parametrize("fields, match", [
    ({"search_after": 3}, "search_after=3"),          # smoke trains 3 epochs: 0..2 allowed
    ({"search_after": -1}, "search_after=-1"),
    ({"search_after": 1.5}, "search_after=1.5"),
    ({"search_after": 1, "controls": ("scratch",)}, "defined at initialisation"),
])
def test_bad_search_after_is_named(monkeypatch, fields, match):
    monkeypatch.setitem(config.PRESETS, "bad", dataclasses.replace(config.PRESETS["smoke"],
                                                                    **fields))
    with pytest.raises(ValueError, match=match):
        experiment.configure("bad")
