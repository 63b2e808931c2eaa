"""Sparsity structure (Config.structure, weedout.structure): exact counts, the allocation rule
against an independent computation, the local path unchanged against the committed `cpu`
search, and a non-uniform run end to end."""
import dataclasses
import math
import random

import numpy as np
import pandas as pd
import pytest
import torch

from weedout import cells, comparison, config, experiment, masks, models, paths, structure

MLP = models.arch_for("mlp", (64,), 10, (256, 256), (32, 32))
CNN1D = models.arch_for("cnn1d", (1, 40), 10, (256, 256), (32, 32))


def hamilton(total: int, shares: list[float]) -> list[int]:
    """Largest-remainder apportionment, written independently of weedout (no caps needed)."""
    quota = np.asarray(shares, float) * total / sum(shares)
    seats = np.floor(quota).astype(int)
    order = sorted(range(len(quota)), key=lambda i: (-(quota[i] - seats[i]), i))
    for i in order[: total - seats.sum()]:
        seats[i] += 1
    return seats.tolist()


def test_erk_density_by_hand():
    # MLP 64 -> 256 -> 256 -> 10: 1/fan_in + 1/fan_out per hidden layer
    assert structure.erk_density(MLP) == pytest.approx((1 / 64 + 1 / 256, 1 / 256 + 1 / 10))
    # 1-D CNN, kernel 5: fan-in 1x5 and 32x5; the last block feeds 10 classes x 10 positions
    assert structure.erk_density(CNN1D) == pytest.approx((1 / 5 + 1 / 160, 1 / 160 + 1 / 100))


@pytest.mark.parametrize("case", range(200))
def test_allocation_is_exact_and_proportional(case):
    rng = random.Random(case)
    widths = tuple(rng.randint(1, 300) for _ in range(rng.randint(1, 4)))
    density = tuple(rng.uniform(0.01, 10) for _ in widths)
    total = rng.randint(len(widths), sum(widths))
    got = structure.allocate(widths, total, density)
    assert sum(got) == total
    assert all(1 <= k <= w for k, w in zip(got, widths))
    shares = [w * d for w, d in zip(widths, density)]
    quota = [total * s / sum(shares) for s in shares]
    if all(1 <= q <= w for q, w in zip(quota, widths)):  # no cap or floor binds: pure Hamilton
        assert list(got) == hamilton(total, shares)


def test_nonuniform_keeps_the_local_total_and_local_is_unchanged():
    for arch in (MLP, CNN1D):
        for s in (0.1, 0.3, 0.5, 0.8, 0.9, 0.99):
            local = masks.kept_widths(arch.widths, s)
            assert structure.kept(arch, s) == local
            assert sum(structure.kept(arch, s, "nonuniform")) == sum(local)
            assert structure.kept(arch, s, "nonuniform", (1.0, 1.0)) == \
                structure.allocate(arch.widths, sum(local), (1.0, 1.0))
    # ERK keeps more of the layer next to the 10 classes in the MLP
    k1, k2 = structure.kept(MLP, 0.8, "nonuniform")
    assert k2 > k1


def test_sampled_masks_have_the_structure_counts():
    kept = structure.kept(MLP, 0.8, "nonuniform")
    keep = masks.sample(MLP.widths, 0.8, 50, torch.Generator().manual_seed(0), kept)
    assert tuple(k.shape[1] for k in keep) == kept
    for k, w in zip(keep, MLP.widths):
        assert all(len(set(row.tolist())) == row.numel() for row in k)  # no node twice
        assert int(k.max()) < w


def test_local_search_equals_the_committed_cpu_search():
    """The structure code path leaves `local` as it was: the cpu preset's searches recomputed
    here score the committed candidates and choose the committed winners."""
    committed = pd.read_csv(paths.ROOT / "results" / "cpu" / "search.csv")
    cfg = config.resolve("cpu", DATASETS=["digits"], SEEDS=[0], SPARSITIES=[0.5, 0.9])
    saved = {}
    cells.search_trials(cfg, [("digits", "mlp", s, 0) for s in cfg.sparsities],
                        lambda key, rec: saved.__setitem__(key, rec), None)
    for s in cfg.sparsities:
        rows = committed[(committed.dataset == "digits") & (committed.model == "mlp")
                         & np.isclose(committed.sparsity, s) & (committed.seed == 0)]
        rec = saved[("digits", "mlp", s, 0)]
        np.testing.assert_allclose(rec["scores"], rows.sort_values("candidate").score, rtol=1e-5)
        assert rec["best_index"] == int(rows[rows.chosen.astype(bool)].candidate.iloc[0])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("structure")
    out = {}
    for name, struct in (("local", "local"), ("nonuniform", "nonuniform")):
        config.PRESETS[f"t_{name}"] = dataclasses.replace(config.PRESETS["smoke"],
                                                          preset=f"t_{name}", structure=struct)
        try:
            cfg = experiment.configure(f"t_{name}", RESULTS_DIR=str(root / name / "results"),
                                       FIGURES_DIR=str(root / name / "figures"))
        finally:
            del config.PRESETS[f"t_{name}"]
        experiment.run_all(cfg)
        out[name] = pd.read_csv(cfg.results_path / "accuracy.csv"), cfg
    return out


def test_nonuniform_networks_have_the_allocated_widths(runs):
    acc, cfg = runs["nonuniform"]
    arch = models.arch_for("mlp", (64,), 10, cfg.mlp_widths, cfg.cnn_channels)
    local, _ = runs["local"]
    for s in cfg.sparsities:
        want = "-".join(map(str, structure.kept(arch, s, "nonuniform")))
        level = acc[(acc.sparsity == s) & acc.method.isin(["weedout", "random"])]
        assert set(level.widths) == {want}
        # the same hidden nodes in all as local: the same achieved node sparsity
        loc = local[(local.sparsity == s) & (local.method == "random")]
        assert level.node_sparsity.iloc[0] == pytest.approx(loc.node_sparsity.iloc[0])
    # dense networks do not depend on the structure
    d = [r[r.method == "dense"].sort_values("seed").test_acc.to_numpy() for r, _ in runs.values()]
    np.testing.assert_array_equal(d[0], d[1])


def test_compare_is_the_paired_difference(runs):
    local, nonuni = runs["local"][0], runs["nonuniform"][0]
    table = comparison.paired_runs(local, nonuni)
    assert len(table) == 2 * len(runs["local"][1].sparsities)
    row = table[(table.method == "random") & (table.sparsity == 0.5)].iloc[0]
    pick = lambda t: t[(t.method == "random") & (t.sparsity == 0.5)].set_index("seed").test_acc  # noqa: E731
    assert row.diff_mean == pytest.approx(100 * (pick(nonuni) - pick(local)).mean())
    assert row.kept_local == "32-32" and row.kept != "32-32"
    assert math.isfinite(row.p_holm)


@pytest.mark.parametrize("fields, match", [
    ({"structure": "global"}, "structure='global'"),
    ({"layer_density": (1.0, 2.0)}, "unless structure='nonuniform'"),
    ({"structure": "nonuniform", "layer_density": (1.0,)}, "one positive number per hidden layer"),
    ({"structure": "nonuniform", "layer_density": (1.0, -2.0)}, "one positive number"),
])
def test_bad_structure_is_named(monkeypatch, fields, match):
    monkeypatch.setitem(config.PRESETS, "bad", dataclasses.replace(config.PRESETS["smoke"],
                                                                  preset="bad", **fields))
    with pytest.raises(ValueError, match=match):
        config.resolve("bad")


def test_structure_enters_the_digest_only_when_set():
    smoke = config.PRESETS["smoke"]
    assert dataclasses.replace(smoke, structure="local").digest() == smoke.digest()
    assert dataclasses.replace(smoke, structure="nonuniform").digest() != smoke.digest()
