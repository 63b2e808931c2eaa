"""INIT (weedout.core.inits): `rescaled` scales every kept unit's incoming weights and bias to
its kept fan-in, for node masks (compacted), global masks (gates) and weight masks alike.

Oracles: the factors by hand, unit by unit, on tiny networks; the scorers score the same
rescaled networks that are trained (weedout's initial loss equals its search minimum); the
default `inherited` changes nothing (digests and numbers of committed runs).
"""
import dataclasses
import math

import pandas as pd
import pytest
import torch

from weedout import config, experiment
from weedout.axes import registry
from weedout.axes.base import Level
from weedout.core import inits, masks, models, structures

ARCH = models.Arch("mlp", (1, 2, 3), (5, 4), 3)  # 6 inputs, hidden 5 and 4, 3 classes
CNN = models.Arch("cnn1d", (2, 8), (4, 3), 3)


def _parent(arch, seed=0):
    return models.stack([models.init_parent(arch, seed)])


def _level(arch, nets):
    return Level(None, "d", "m", 0.5, None, arch, nets, [0] * len(nets), None, None, None)


def test_node_masks_scale_each_layer_to_its_kept_fan_in():
    keep = [torch.tensor([[0, 2, 4]]), torch.tensor([[1, 3]])]
    s = structures.make("local", init="rescaled")
    prep = s.prepare(ARCH, _parent(ARCH), torch.zeros(1, dtype=torch.long), [keep])
    before = [p.clone() for p in prep.params]
    s.rescale(ARCH, prep, [0])
    # layer 0 reads all 6 inputs: unchanged; layer 1 keeps 3 of 5 inputs; the classifier 2 of 4
    for i, want in enumerate([1, 1, math.sqrt(5 / 3), math.sqrt(5 / 3), math.sqrt(4 / 2),
                              math.sqrt(4 / 2)]):
        torch.testing.assert_close(prep.params[i], before[i] * want)


def test_node_factors_are_the_rescaled_controls_rule():
    assert inits.node_factors((32, 64), (8, 16)) == models.fan_in_rescale(
        models.Arch("cnn1d", (1, 40), (32, 64), 10), models.Arch("cnn1d", (1, 40), (8, 16), 10))


def test_gates_scale_each_network_by_its_own_open_gates():
    gates = [torch.tensor([[1., 1, 0, 0, 0], [1, 1, 1, 1, 0]]),
             torch.tensor([[1., 0, 0, 0], [1, 1, 1, 0]])]
    s = structures.make("global", init="rescaled")
    keeps = [masks.from_gates([g[m:m + 1] for g in gates]) for m in range(2)]
    prep = s.prepare(ARCH, _parent(ARCH), torch.zeros(2, dtype=torch.long), keeps)
    before = [p.clone() for p in prep.params]
    s.rescale(ARCH, prep, [0, 1])
    for m, (k0, k1) in enumerate([(2, 1), (4, 3)]):  # open gates of layer 0, layer 1
        for i, want in enumerate([1, 1, math.sqrt(5 / k0), math.sqrt(5 / k0), math.sqrt(4 / k1),
                                  math.sqrt(4 / k1)]):
            torch.testing.assert_close(prep.params[i][m], before[i][m] * want)


@pytest.mark.parametrize("arch", [ARCH, CNN], ids=["mlp", "cnn1d"])
def test_weight_masks_scale_each_unit_by_its_kept_weights(arch):
    g = torch.Generator().manual_seed(0)
    shapes = masks.weight_shapes(arch)
    wm = masks.sample_weights(shapes, [max(1, math.prod(s) // 3) for s in shapes], 1, g)
    s = structures.make("unstructured", init="rescaled")
    prep = s.prepare(arch, _parent(arch), torch.zeros(1, dtype=torch.long), [wm])
    before = [p.clone() for p in prep.params]
    s.rescale(arch, prep, [0])
    for l, mask in enumerate(prep.weight_masks):
        full = math.prod(mask.shape[2:])
        for unit in range(mask.shape[1]):  # by hand: one row at a time
            kept = int(mask[0, unit].sum())
            want = math.sqrt(full / kept) if kept else 1.0
            torch.testing.assert_close(prep.params[2 * l][0, unit], before[2 * l][0, unit] * want)
            torch.testing.assert_close(prep.params[2 * l + 1][0, unit],
                                       before[2 * l + 1][0, unit] * want)


def test_the_training_hook_rescales_sparse_networks_only():
    keep = [torch.tensor([[0, 2, 4]]), torch.tensor([[1, 3]])]
    cfg = dataclasses.replace(config.PRESETS["smoke"], init="rescaled")
    s = registry.mask_structure(cfg)
    nets = [("weedout", 0, keep), ("random", 0, keep), ("scratch", 0, keep), ("rescaled", 0, keep)]
    prep = s.prepare(ARCH, _parent(ARCH), torch.zeros(4, dtype=torch.long), [keep] * 4)
    before = [p.clone() for p in prep.params]
    registry.get("structure").initialise(cfg, _level(ARCH, nets), prep)
    f = math.sqrt(5 / 3)
    assert torch.equal(prep.params[2][2:], before[2][2:])  # the controls: left to their axis
    torch.testing.assert_close(prep.params[2][:2], before[2][:2] * f)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The smoke grid under each structure, rescaled."""
    out = {}
    for structure in ("local", "nonuniform", "global", "unstructured"):
        root = tmp_path_factory.mktemp(structure)
        cfg = experiment.configure("smoke", SEEDS=2, SPARSITIES=[0.5, 0.75], CANDIDATES=4,
                                   EPOCHS=1, INIT="rescaled", RESULTS_DIR=str(root / "res"),
                                   FIGURES_DIR=str(root / "fig"))
        cfg = dataclasses.replace(cfg, mlp_widths=(16, 12), structure=structure)
        experiment.run_search(cfg)
        out[structure] = (cfg, experiment.run_training(cfg)[0])
    return out


@pytest.mark.parametrize("structure", ["local", "nonuniform", "global", "unstructured"])
def test_the_search_scores_the_networks_that_are_trained(runs, structure):
    """Under `rescaled`, weedout's loss at initialisation (its trained network, rescaled by the
    training hook) equals its winning search score (the scorer rescales each candidate)."""
    cfg, _ = runs[structure]
    search = pd.read_csv(cfg.results_path / "search.csv")
    acc = pd.read_csv(cfg.results_path / "accuracy.csv")
    best = search[search.chosen].set_index(["sparsity", "seed"]).score
    w = acc[acc.method == "weedout"].set_index(["sparsity", "seed"]).init_score
    assert (acc.init == "rescaled").all()  # the run's tables say so
    torch.testing.assert_close(torch.tensor(w.sort_index().values),
                               torch.tensor(best.sort_index().values), rtol=0, atol=1e-5)


def test_rescaled_and_inherited_runs_differ_and_have_their_own_digests(runs):
    cfg, _ = runs["local"]
    assert cfg.digest() != dataclasses.replace(cfg, init="inherited").digest()
    assert config.PRESETS["cpu_rescaled"].digest() != config.PRESETS["cpu"].digest()
    # the default changes no digest: the committed runs' records stay theirs
    import json
    assert json.loads((config.paths.results_dir("cpu") / "config.json").read_text())["digest"] \
        == config.PRESETS["cpu"].digest()


def test_bad_init_is_named():
    with pytest.raises(ValueError, match=r"INIT='shrunk' is not allowed: one of \['inherited', "
                                         r"'rescaled'\]"):
        experiment.configure("smoke", INIT="shrunk")
    with pytest.raises(ValueError, match="INIT='rescaled' is not allowed: 'inherited' in a run "
                                         "with search_after"):
        experiment.configure("cpu_search_after", INIT="rescaled")
