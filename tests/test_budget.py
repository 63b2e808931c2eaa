"""Search variants (weedout.budget): a variant searches the very masks it claims to, with the
budget, score kind or scoring batch it names; its winner is trained and judged beside weedout;
bad variants are refused before any work."""
import dataclasses

import pytest
import torch

from weedout import config, experiment
from weedout.axes import variants
from weedout.core import masks, scoring
from weedout.pipeline import record_tables, workers
from weedout.axes import registry
from weedout.core.seeds import derive_seed
from weedout.pipeline.records import Store

VARIANTS = ("candidates=1", "candidates=12", "score=error", "score_batch=64")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("budget")
    cfg = config.resolve("smoke", SEEDS=3, SPARSITIES=[0.5, 0.75], CANDIDATES=4, EPOCHS=2,
                         RESULTS_DIR=str(root / "res"), FIGURES_DIR=str(root / "fig"))
    cfg = dataclasses.replace(cfg, mlp_widths=(16, 12), variants=VARIANTS)
    return cfg, experiment.run_all(cfg)


def _records(cfg):
    store = Store(cfg.results_path, cfg.digest())
    return {(r["sparsity"], r["seed"]): r for r in record_tables.search_records(cfg, store)}


def test_variants_score_the_masks_they_claim(run):
    """Recompute every variant's trace independently: the main search's stream of masks,
    scored by a scorer built here with the variant's kind / batch / budget."""
    cfg, _ = run
    dset, arch = workers.setup(cfg, "digits", "mlp")
    for (s, seed), rec in _records(cfg).items():
        parent = workers.parent_params(arch, "digits", "mlp", seed, "cpu")
        x, y = workers.scoring_batch(cfg, dset, seed)
        for name in VARIANTS:
            key, value = config.variant(name)
            n = value if key == "candidates" else cfg.candidates
            kind = value if key == "score" else cfg.score
            b = value if key == "score_batch" else cfg.score_batch
            g = torch.Generator().manual_seed(derive_seed(seed, "search", "digits", "mlp", s))
            keep = masks.sample(arch.widths, s, n, g)
            want = scoring.scorer(arch, parent, x[:b], y[:b], kind=kind)(keep)
            got = rec["comparators"][name]
            assert got["scores"] == want.tolist()
            best = int(want.argmin())
            assert got["keep"] == masks.to_lists(masks.select(keep, best))
            main = scoring.scorer(arch, parent, x, y, kind=cfg.score)
            assert got["main_score"] == float(main(masks.select(keep, best))[0])
        # score=error scores the main search's own masks: same budget, same stream
        assert len(rec["comparators"]["score=error"]["scores"]) == len(rec["scores"])


def test_every_variant_is_trained_and_compared(run):
    cfg, acc = run
    sparse = acc[acc.sparsity > 0]
    assert set(sparse.method) == {"weedout", "random", *VARIANTS}
    methods = experiment.summary(cfg, "methods")[0][1]
    assert set(methods.method) == {"weedout", *VARIANTS}   # weedout too: its block vs random
    assert (methods.levels == 2).all()
    assert (cfg.figures_path / "budget.png").exists()


def test_variants_table_is_the_records_and_the_summary_counts_them(run):
    cfg, _ = run
    v = experiment.summary(cfg, "variants")[0][1].set_index("method")
    table = variants.table(cfg, _records(cfg).values())
    assert set(v.index) == {"weedout", "random", *VARIANTS}
    assert v.candidates["random"] == 1 and v.candidates["candidates=12"] == 12
    assert v.score["score=error"] == "error" and v.score_batch["score_batch=64"] == 64
    assert v.loss_gain["random"] == 0.0 and v.below_random["random"] == 0.0
    w = table[table.method == "weedout"]
    for r in w.itertuples():
        rec = _records(cfg)[(r.sparsity, r.seed)]
        assert r.found == min(rec["scores"])
    # a budget variant's winner is the lowest score of its own trace
    for rec in _records(cfg).values():
        trace = rec["comparators"]["candidates=12"]["scores"]
        assert rec["comparators"]["candidates=12"]["score"] == min(trace)


@pytest.mark.parametrize("value, match", [
    (("candidates=0",), "variants='candidates=0'"),
    (("candidates=1e3",), "variants='candidates=1e3'"),
    (("candidates=08",), "variants='candidates=08'"),
    (("score=accuracy",), "variants='score=accuracy'"),
    (("epochs=3",), "variants='epochs=3'"),
    (("candidates",), "variants='candidates'"),
    (("candidates=8",), "main search's own"),        # smoke's own budget
    (("score=loss",), "main search's own"),
    (("score=error", "score=error"), "not repeated"),
])
def test_bad_variants_are_named(monkeypatch, value, match):
    monkeypatch.setitem(config.PRESETS, "bad", dataclasses.replace(config.PRESETS["smoke"],
                                                                    variants=value))
    with pytest.raises(ValueError, match=match):
        experiment.configure("bad")


def test_variants_enter_the_digest_only_when_set():
    smoke = config.PRESETS["smoke"]
    assert dataclasses.replace(smoke, variants=()).digest() == smoke.digest()
    assert dataclasses.replace(smoke, variants=("score=error",)).digest() != smoke.digest()


def test_readme_blocks_follow_the_tables(run, tmp_path):
    """Oracles: the README's budget row recomputes the mean loss gap from the search records;
    its compute row is the mean of compute.csv's FLOPs for that method."""
    import shutil

    import pandas as pd

    cfg, _ = run
    assert registry.get("variants").report(tmp_path, "cpu_budget").startswith("No committed `cpu_budget` run yet")
    assert registry.get("compute").report(tmp_path, "cpu_pai").startswith("No committed `cpu_pai` run yet")
    for preset, names in (("cpu_budget", ("variants.csv", "methods.csv", "run.json")),
                          ("cpu_pai", ("compute.csv", "run.json"))):
        (tmp_path / "results" / preset).mkdir(parents=True)
        for name in names:
            shutil.copy(cfg.results_path / name, tmp_path / "results" / preset / name)
    row = next(ln for ln in registry.get("variants").report(tmp_path, "cpu_budget").splitlines()
               if "| score=error |" in ln).split("|")
    recs = _records(cfg).values()
    gap = sum(r["random_score"] - r["comparators"]["score=error"]["main_score"] for r in recs)
    assert row[6].strip() == f"{gap / len(recs):+.4f}"
    assert sum(int(x) for x in row[8].split("/")) == 2          # verdicts over the two levels
    row = next(ln for ln in registry.get("compute").report(tmp_path, "cpu_pai").splitlines()
               if "| candidates=12 |" in ln).split("|")
    c = pd.read_csv(cfg.results_path / "compute.csv")
    c = c[c.method == "candidates=12"]
    assert row[3].strip() == f"{c.search_flops.mean() / 1e9:.4f}"
    assert row[4].strip() == f"{c.train_flops.mean() / 1e9:.2f}"
