"""Search strategies share one signature; the evolutionary one is a real alternative to the RSH;
plugins reach the registry through WEEDOUT_PLUGINS."""
import dataclasses
import inspect
import sys

import pytest
import torch

from weedout import config, experiment
from weedout.core import masks, models, scoring, search

WIDTHS, SPARSITY = (20, 20), 0.75          # k = 5 kept of 20 per layer
GOOD = [torch.arange(5), torch.arange(10, 15)]


def toy_score(keep):
    """Lower is better: minus the kept nodes that lie in a hidden 'good' set (optimum -10)."""
    hits = sum(torch.isin(k, g).sum(1) for k, g in zip(keep, GOOD))
    return -hits.double()


def _needs_context(fn) -> bool:
    return "context" in inspect.signature(fn).parameters


# The saliency strategies read the parent through their context: tests/test_saliency.py checks
# their contract on real networks.
@pytest.mark.parametrize("name", [n for n in sorted(search.STRATEGIES)
                                  if not _needs_context(search.STRATEGIES[n])])
def test_strategy_contract(name):
    g = torch.Generator().manual_seed(0)
    calls = []

    def score(keep):
        calls.append(keep[0].shape[0])
        return toy_score(keep)

    res = search.STRATEGIES[name](lambda n: masks.sample(WIDTHS, SPARSITY, n, g), score, 50, g)
    assert sum(calls) == len(res.scores) == 50                 # exactly the budget
    assert [k.shape for k in res.best] == [(1, 5), (1, 5)]     # exact counts
    assert all(torch.equal(k, k.sort(dim=1).values) and k.unique().numel() == 5 for k in res.best)
    # the trace's best is the returned mask's own score, and the minimum of the trace
    assert res.scores[res.best_index] == min(res.scores) == float(toy_score(res.best)[0])


def test_evolution_beats_random_search_at_equal_budget():
    """On a problem with structure to exploit, selection + crossover must do better than
    uniform sampling: summed over 10 seeds, evolution's best is lower than random search's."""
    totals = {}
    for name in ("random_search", "evolution"):
        total = 0.0
        for seed in range(10):
            g = torch.Generator().manual_seed(seed)
            res = search.STRATEGIES[name](lambda n: masks.sample(WIDTHS, SPARSITY, n, g),
                                          toy_score, 120, g)
            total += min(res.scores)
        totals[name] = total
    assert totals["evolution"] < totals["random_search"]


def test_crossover_keeps_only_parent_nodes():
    g = torch.Generator().manual_seed(1)
    a, b = masks.sample(WIDTHS, SPARSITY, 30, g), masks.sample(WIDTHS, SPARSITY, 30, g)
    child = search._crossover(a, b, g)
    for la, lb, lc in zip(a, b, child):
        assert lc.shape == la.shape
        for i in range(30):
            assert set(lc[i].tolist()) <= set(la[i].tolist()) | set(lb[i].tolist())


PLUGIN = '''
import dataclasses
from weedout import config, search

def first_candidate(sample, score, budget, generator):
    keep = sample(budget)
    scores = score(keep)
    return search.SearchResult([k[:1] for k in keep], scores.tolist(), 0)

search.STRATEGIES["first_candidate"] = first_candidate
config.PRESETS["plugin_smoke"] = dataclasses.replace(
    config.PRESETS["smoke"], preset="plugin_smoke", strategy="first_candidate")
'''


def test_plugin_registers_strategy_and_preset(tmp_path, monkeypatch):
    (tmp_path / "my_weedout_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("WEEDOUT_PLUGINS", "my_weedout_plugin")
    monkeypatch.setattr(search, "STRATEGIES", dict(search.STRATEGIES))
    copy = dict(config.PRESETS)  # one dict, seen where plug-ins write and validation reads
    monkeypatch.setattr(config, "PRESETS", copy)
    monkeypatch.setattr(config.presets, "PRESETS", copy)
    monkeypatch.delitem(sys.modules, "my_weedout_plugin", raising=False)
    cfg = experiment.configure("plugin_smoke", SEEDS=1, SPARSITIES=[0.5], CANDIDATES=4,
                               RESULTS_DIR=str(tmp_path / "res"))
    assert cfg.strategy == "first_candidate"
    cfg = dataclasses.replace(cfg, mlp_widths=(16, 16))
    table = experiment.run_search(cfg)
    assert table[table.chosen].candidate.tolist() == [0]
    assert cfg.digest() != dataclasses.replace(cfg, strategy="random_search").digest()


def test_unknown_plugin_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WEEDOUT_PLUGINS", "no_such_module_xyz")
    with pytest.raises(ValueError, match="WEEDOUT_PLUGINS='no_such_module_xyz'"):
        config.resolve("smoke")


def test_run_passes_a_context_only_to_strategies_that_ask_for_one():
    """search.run is the one call site: a plain strategy (the README's plug-in signature) is
    called as before, one with a `context` parameter also gets the parent, batch and widths."""
    arch = models.Arch("mlp", (1, 4, 4), (10, 8), 3)
    parent = models.init_parent(arch, 0)
    x, y = torch.randn(16, 1, 4, 4), torch.randint(3, (16,))
    seen = {}

    def plain(sample, score, budget, generator):
        seen["plain"] = True
        return search.random_search(sample, score, budget, generator)

    def reader(sample, score, budget, generator, context):
        seen["context"] = context
        return search.random_search(sample, score, budget, generator)

    for fn in (plain, reader):
        g = torch.Generator().manual_seed(0)
        ctx = search.context(arch, parent, x, y, 0.5, 6, g, scoring.scorer(arch, parent, x, y))
        found, cost = search.run(fn, ctx)
        assert cost["forward"] == 6 and [k.shape[1] for k in found.best] == [5, 4]
    assert seen["plain"] and seen["context"].parent is parent and seen["context"].kept == (5, 4)
    # the same draws as calling the strategy by hand: the context adds nothing random
    g = torch.Generator().manual_seed(0)
    by_hand = search.random_search(lambda n: masks.sample(arch.widths, 0.5, n, g),
                                   scoring.scorer(arch, parent, x, y), 6, g)
    assert by_hand.scores == found.scores
